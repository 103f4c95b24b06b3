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

/**
 * The members of order (mask[i] != 0) in order's order: O(n), no sort, so a
 * slider step re-filters a sorted order without sorting again. out is
 * reused when it is long enough; returns a view of the count taken.
 */
export function filterOrder(order: Int32Array, mask: Uint8Array | null, out?: Int32Array): Int32Array {
	if (!mask) return order;
	const dst = out && out.length >= order.length ? out : new Int32Array(order.length);
	let k = 0;
	for (let q = 0; q < order.length; q++) {
		const i = order[q];
		if (mask[i]) dst[k++] = i;
	}
	return dst.subarray(0, k);
}

/** Grid geometry: how many columns of cellW (plus gap) fit in width. */
export function columnsFor(width: number, cellW: number, gap: number, pad: number): number {
	return Math.max(1, Math.floor((width - 2 * pad + gap) / (cellW + gap)));
}

/**
 * The focused cell after a key, or -1 when the key is not a grid key.
 * cols per row, pageRows rows per page, n cells.
 */
export function moveFocus(key: string, pos: number, n: number, cols: number, pageRows: number): number {
	if (n <= 0) return -1;
	const p = Math.min(Math.max(pos, 0), n - 1);
	let q: number;
	switch (key) {
		case 'ArrowRight': q = p + 1; break;
		case 'ArrowLeft': q = p - 1; break;
		case 'ArrowDown': q = p + cols; break;
		case 'ArrowUp': q = p - cols; break;
		case 'PageDown': q = p + cols * Math.max(1, pageRows); break;
		case 'PageUp': q = p - cols * Math.max(1, pageRows); break;
		// the cells flow like text, so Home/End go to the first/last sample
		// (a row's ends are a few arrow presses away)
		case 'Home': q = 0; break;
		case 'End': q = n - 1; break;
		default: return -1;
	}
	if (key === 'ArrowDown' || key === 'PageDown') {
		// past the last row: stay in the column when a cell is there, else the last cell
		if (q >= n) q = n - 1;
	}
	return Math.min(Math.max(q, 0), n - 1);
}
