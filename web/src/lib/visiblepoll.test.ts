import { describe, expect, it } from 'vitest';
import { pollWhileVisible } from './visiblepoll';

function fakes() {
	let now = 0;
	const timers: { at: number; fn: () => void; id: number }[] = [];
	let next = 1;
	const listeners: (() => void)[] = [];
	const doc = {
		visibilityState: 'visible',
		addEventListener: (_: 'visibilitychange', f: () => void) => { listeners.push(f); },
		removeEventListener: (_: 'visibilitychange', f: () => void) => { listeners.splice(listeners.indexOf(f), 1); },
	};
	const t = {
		set: (fn: () => void, ms: number) => { const id = next++; timers.push({ at: now + ms, fn, id }); return id; },
		clear: (id: unknown) => { const k = timers.findIndex((x) => x.id === id); if (k >= 0) timers.splice(k, 1); },
	};
	const advance = async (ms: number) => {
		now += ms;
		for (;;) {
			timers.sort((a, b) => a.at - b.at);
			if (!timers.length || timers[0].at > now) break;
			timers.shift()!.fn();
			await Promise.resolve();
			await Promise.resolve();
		}
	};
	const setVisible = (v: boolean) => { doc.visibilityState = v ? 'visible' : 'hidden'; listeners.forEach((f) => f()); };
	return { doc, t, advance, setVisible, listeners, timers };
}

describe('pollWhileVisible', () => {
	it('calls fn every period while visible, not while hidden, at once when visible again', async () => {
		const f = fakes();
		let n = 0;
		const stop = pollWhileVisible(() => { n++; }, 5000, f.doc, f.t);
		await f.advance(4999);
		expect(n).toBe(0);
		await f.advance(1);
		expect(n).toBe(1);
		await f.advance(5000);
		expect(n).toBe(2);
		f.setVisible(false);
		await f.advance(20000);
		expect(n).toBe(2);
		f.setVisible(true);
		await Promise.resolve();
		expect(n).toBe(3);
		await f.advance(5000);
		expect(n).toBe(4);
		stop();
		await f.advance(20000);
		expect(n).toBe(4);
		expect(f.listeners.length).toBe(0);
		expect(f.timers.length).toBe(0);
	});
	it('keeps polling after fn fails', async () => {
		const f = fakes();
		let n = 0;
		pollWhileVisible(async () => { n++; throw new Error('down'); }, 1000, f.doc, f.t);
		await f.advance(1000);
		await f.advance(1000);
		expect(n).toBe(2);
	});
});
