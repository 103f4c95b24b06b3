/*
 * prefetch.ts — one request started early, handed to the first taker.
 *
 * The plot's layout is the biggest thing the plot page needs and all it
 * needs to draw its points: the dataset frame starts it before the
 * dataset's other loads (table, members, scores, info …), so it is first
 * in the browser's six connections and the server's worker threads instead
 * of queued behind a 1,000,000-row table. The view then takes the promise
 * (once: a later load asks the server again, e.g. after the table changed).
 */
export class Prefetch<K, V> {
	private entry: { key: K; p: Promise<V>; at: number } | null = null;

	/** maxAgeMs: an entry older than this is not handed out (it may be stale) */
	constructor(private readonly fetcher: (key: K) => Promise<V>, private readonly maxAgeMs = 10000,
		private readonly now: () => number = () => Date.now()) {}

	/** Starts fetching key (replacing any other entry). */
	start(key: K): void {
		const p = this.fetcher(key);
		p.catch(() => { /* the taker sees it; nobody taking is no error */ });
		this.entry = { key, p, at: this.now() };
	}

	/** The promise started for key, once; null when none (or too old). */
	take(key: K): Promise<V> | null {
		const e = this.entry;
		if (!e || e.key !== key) return null;
		this.entry = null;
		return this.now() - e.at <= this.maxAgeMs ? e.p : null;
	}

	clear(): void {
		this.entry = null;
	}
}
