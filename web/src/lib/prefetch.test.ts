import { describe, expect, it } from 'vitest';
import { Prefetch } from './prefetch';

describe('Prefetch', () => {
	it('hands the started promise to the first taker of the same key only', async () => {
		let calls = 0;
		const p = new Prefetch(async (k: number) => { calls++; return k * 2; });
		p.start(3);
		expect(p.take(4)).toBeNull();
		const got = p.take(3);
		expect(got).not.toBeNull();
		expect(await got).toBe(6);
		expect(p.take(3)).toBeNull();
		expect(calls).toBe(1);
	});
	it('drops an entry that is too old, and a replaced one', async () => {
		let t = 0;
		const p = new Prefetch(async (k: number) => k, 100, () => t);
		p.start(1);
		t = 101;
		expect(p.take(1)).toBeNull();
		p.start(1);
		p.start(2);
		expect(p.take(1)).toBeNull();
		expect(await p.take(2)).toBe(2);
	});
	it('does not leave an unhandled rejection when nobody takes it', async () => {
		const p = new Prefetch(async () => { throw new Error('x'); });
		p.start(1);
		p.clear();
		await new Promise((r) => setTimeout(r, 0));
		p.start(1);
		await expect(p.take(1)).rejects.toThrow('x');
	});
});
