/*
 * visiblepoll.ts — calls fn every `ms` while the page is visible.
 *
 * A hidden tab asks nothing; when it becomes visible again fn runs at once
 * and the ticks resume. One call in flight at a time (a slow answer is not
 * overtaken by the next tick). Returns the stop function.
 */
export interface PollDoc {
	visibilityState: string;
	addEventListener(type: 'visibilitychange', fn: () => void): void;
	removeEventListener(type: 'visibilitychange', fn: () => void): void;
}

export interface PollTimers {
	set: (fn: () => void, ms: number) => unknown;
	clear: (id: unknown) => void;
}

const realTimers: PollTimers = {
	set: (fn, ms) => setTimeout(fn, ms),
	clear: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

export function pollWhileVisible(fn: () => Promise<unknown> | unknown, ms: number,
	doc: PollDoc = document, timers: PollTimers = realTimers): () => void {
	let timer: unknown = null;
	let stopped = false;
	let running = false;
	const schedule = () => {
		if (timer !== null) timers.clear(timer);
		timer = stopped || doc.visibilityState !== 'visible' ? null : timers.set(tick, ms);
	};
	const tick = async () => {
		timer = null;
		if (stopped || running || doc.visibilityState !== 'visible') return;
		running = true;
		try {
			await fn();
		} catch {
			/* tried again at the next tick */
		} finally {
			running = false;
			schedule();
		}
	};
	const onVisible = () => {
		if (doc.visibilityState === 'visible') void tick();
		else if (timer !== null) { timers.clear(timer); timer = null; }
	};
	doc.addEventListener('visibilitychange', onVisible);
	schedule();
	return () => {
		stopped = true;
		if (timer !== null) timers.clear(timer);
		timer = null;
		doc.removeEventListener('visibilitychange', onVisible);
	};
}
