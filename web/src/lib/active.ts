/*
 * active.ts — which samples are active, as table-order bytes.
 *
 * While the slider moves, active = rank < N (rank -1 = not ranked = never
 * active). activeFromRank writes into a buffer the caller keeps and reuses,
 * so a slider step allocates nothing; it returns how many are active.
 */

/** out[i] = 1 when 0 <= rank[i] < n, else 0; returns the count. */
export function activeFromRank(rank: Int32Array, n: number, out: Uint8Array): number {
	const len = rank.length;
	if (out.length < len) throw new RangeError('activeFromRank: buffer shorter than the ranks');
	let count = 0;
	// rank >>> 0 turns -1 into 4294967295, so one unsigned compare covers both ends
	const lim = n <= 0 ? 0 : n >>> 0;
	for (let i = 0; i < len; i++) {
		const a = (rank[i] >>> 0) < lim ? 1 : 0;
		out[i] = a;
		count += a;
	}
	return count;
}

/** How many samples have a rank (the run's candidates, the slider's max). */
export function rankedCount(rank: Int32Array): number {
	let c = 0;
	for (let i = 0; i < rank.length; i++) if (rank[i] >= 0) c++;
	return c;
}

/** Number of ones in a membership array. */
export function countOnes(m: Uint8Array): number {
	let c = 0;
	for (let i = 0; i < m.length; i++) c += m[i] ? 1 : 0;
	return c;
}

/**
 * A buffer of at least n bytes, the same one while it is big enough: a
 * slider step reuses it instead of making a new array.
 */
export function reuseBuffer(buf: Uint8Array | null, n: number): Uint8Array {
	return buf && buf.length === n ? buf : new Uint8Array(n);
}

/**
 * Two buffers used in turn: each step writes rank < N into the one not
 * handed out last time, so a signal that compares by identity sees a new
 * value every step while nothing is allocated after the first two steps.
 */
export class RankActive {
	private bufs: [Uint8Array | null, Uint8Array | null] = [null, null];
	private turn = 0;
	/** the count of the last step */
	count = 0;

	step(rank: Int32Array, n: number): Uint8Array {
		this.turn ^= 1;
		const b = reuseBuffer(this.bufs[this.turn], rank.length);
		this.bufs[this.turn] = b;
		this.count = activeFromRank(rank, n, b);
		return b;
	}
}

/**
 * The plot's per-point state bytes: bit 0 = active (active[i] != 0), bits
 * 1..7 = colour group (groups[i], 0 = none). Arrays of another length than
 * out are ignored (made for another table). Returns the active count.
 */
export function packState(active: Uint8Array | null, groups: Uint8Array | null, out: Uint8Array): number {
	const n = out.length;
	const a = active && active.length === n ? active : null;
	const g = groups && groups.length === n ? groups : null;
	let c = 0;
	for (let i = 0; i < n; i++) {
		const on = a && a[i] ? 1 : 0;
		c += on;
		out[i] = on | (g ? (g[i] & 0x7f) << 1 : 0);
	}
	return c;
}

/*
 * Draw orders: the plot draws points in an order where every active point
 * comes after every inactive one, so active points land on top without a
 * depth test (which costs a software renderer a tenth of a draw or more).
 */

/**
 * Order for the slider: unranked points first (index order), then ranked
 * ones from the highest rank down to rank 0 — so for any N, the active
 * points (rank < N) are the last ones drawn. O(n) when the ranks are
 * 0..R-1 each once (what the scores route sends); otherwise a sort.
 */
export function drawOrderByRank(rank: Int32Array, out: Uint32Array): Uint32Array {
	const n = rank.length;
	let unranked = 0, max = -1;
	for (let i = 0; i < n; i++) {
		const r = rank[i];
		if (r < 0) unranked++;
		else if (r > max) max = r;
	}
	const ranked = n - unranked;
	let dense = max === ranked - 1;
	if (dense) {
		const seen = new Uint8Array(ranked);
		let u = 0;
		for (let i = 0; i < n && dense; i++) {
			const r = rank[i];
			if (r < 0) {
				out[u++] = i;
			} else if (seen[r]) {
				dense = false;
			} else {
				seen[r] = 1;
				out[unranked + (ranked - 1 - r)] = i;
			}
		}
	}
	if (!dense) {
		for (let i = 0; i < n; i++) out[i] = i;
		out.sort((a, b) => {
			const ra = rank[a], rb = rank[b];
			if ((ra < 0) !== (rb < 0)) return ra < 0 ? -1 : 1;
			return rb - ra || a - b;
		});
	}
	return out;
}

/** Order for membership: inactive points (bit 0 clear) first, then active; index order within each. */
export function drawOrderByState(state: Uint8Array, out: Uint32Array): Uint32Array {
	const n = state.length;
	let inactive = 0;
	for (let i = 0; i < n; i++) if (!(state[i] & 1)) inactive++;
	let a = 0, b = inactive;
	for (let i = 0; i < n; i++) {
		if (state[i] & 1) out[b++] = i;
		else out[a++] = i;
	}
	return out;
}
