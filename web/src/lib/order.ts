/*
 * order.ts — which samples the grid shows and in what order, as typed
 * arrays of table indices (no object per sample).
 *
 * The table is sorted bytewise by path, so name order is index order.
 * Sizes and scores are sorted with the table index as the tie-break, so the
 * order is the same every time; unscored samples (NaN, or no run) come last
 * whichever the direction.
 */

export type SortKey = 'name' | 'size' | 'score';

/** Indices i < n with mask[i] != 0 (all of 0..n-1 when mask is null), ascending. */
export function maskIndices(mask: Uint8Array | null, n: number): Int32Array {
	if (!mask) {
		const all = new Int32Array(n);
		for (let i = 0; i < n; i++) all[i] = i;
		return all;
	}
	let c = 0;
	const m = Math.min(n, mask.length);
	for (let i = 0; i < m; i++) if (mask[i]) c++;
	const out = new Int32Array(c);
	for (let i = 0, k = 0; i < m; i++) if (mask[i]) out[k++] = i;
	return out;
}

/**
 * Sorts idx in place by key and returns it. name: index order; size:
 * smallest first (desc: largest first); score: highest (most important)
 * first (desc = false means that natural order; true reverses it), NaN or a
 * missing score last either way.
 */
export function sortIndices(idx: Int32Array, key: SortKey, desc: boolean,
	size: ArrayLike<number>, score: Float32Array | null): Int32Array {
	if (key === 'name') {
		idx.sort();
		if (desc) idx.reverse();
		return idx;
	}
	if (key === 'size') {
		const s = size;
		idx.sort(desc ? (a, b) => (s[b] - s[a]) || (a - b) : (a, b) => (s[a] - s[b]) || (a - b));
		return idx;
	}
	if (!score) {
		idx.sort();
		return idx;
	}
	const sc = score, sign = desc ? -1 : 1;
	idx.sort((a, b) => {
		const x = sc[a], y = sc[b];
		const xn = x !== x, yn = y !== y; // NaN
		if (xn || yn) return xn && yn ? a - b : xn ? 1 : -1;
		return sign * (y - x) || (a - b);
	});
	return idx;
}
