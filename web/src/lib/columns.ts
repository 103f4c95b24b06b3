/*
 * columns.ts — per-sample columns (GET /v1/datasets/ID/columns: uncertainty
 * scores, metadata, builtin.* image metadata) as typed arrays in table
 * order, and the pure logic over them: sorting by a column with missing
 * values last, histograms (equal-width bins over the finite values) and
 * counts per category, range/category filters and their count, and
 * formatting a value for the grid.
 *
 * A numeric column is a Float64Array (NaN = no value); a categorical one an
 * Int32Array of indexes into its category names (-1 = no value). Nothing
 * here allocates per sample beyond the arrays it returns.
 */

export interface NumberColumn {
	name: string;
	kind: 'number';
	values: Float64Array;
}
export interface CategoryColumn {
	name: string;
	kind: 'category';
	categories: string[];
	codes: Int32Array;
}
export type Column = NumberColumn | CategoryColumn;

/** The server's JSON column (values: numbers or null; category indexes or -1). */
export interface ColumnJson {
	name: string;
	kind: string;
	categories?: string[];
	values: (number | null)[];
}

/** Decodes one column of the columns answer. Unknown kinds are numbers. */
export function decodeColumn(j: ColumnJson): Column {
	const n = j.values.length;
	if (j.kind === 'category') {
		const codes = new Int32Array(n);
		const nc = j.categories?.length ?? 0;
		for (let i = 0; i < n; i++) {
			const v = j.values[i];
			codes[i] = typeof v === 'number' && v >= 0 && v < nc ? v : -1;
		}
		return { name: String(j.name), kind: 'category', categories: (j.categories ?? []).map(String), codes };
	}
	const values = new Float64Array(n);
	for (let i = 0; i < n; i++) {
		const v = j.values[i];
		values[i] = typeof v === 'number' && Number.isFinite(v) ? v : NaN;
	}
	return { name: String(j.name), kind: 'number', values };
}

/** Whether sample i has a value in c. */
export function hasValue(c: Column, i: number): boolean {
	return c.kind === 'number' ? c.values[i] === c.values[i] : c.codes[i] >= 0;
}

/**
 * Sorts idx in place by column c and returns it: ascending (desc: descending)
 * by value, categories by their name; samples without a value last in both
 * directions; ties by table index (name order), so the order is stable.
 */
export function sortByColumn(idx: Int32Array, c: Column, desc: boolean): Int32Array {
	const sign = desc ? -1 : 1;
	if (c.kind === 'number') {
		const v = c.values;
		idx.sort((a, b) => {
			const x = v[a], y = v[b];
			const xn = x !== x, yn = y !== y;
			if (xn || yn) return xn && yn ? a - b : xn ? 1 : -1;
			return sign * (x - y) || (a - b);
		});
		return idx;
	}
	// rank of each category by its name (bytewise as the table's paths)
	const order = c.categories.map((_, k) => k).sort((a, b) => {
		const x = c.categories[a], y = c.categories[b];
		return x < y ? -1 : x > y ? 1 : a - b;
	});
	const rank = new Int32Array(c.categories.length);
	order.forEach((k, r) => { rank[k] = r; });
	const cd = c.codes;
	idx.sort((a, b) => {
		const x = cd[a], y = cd[b];
		if (x < 0 || y < 0) return x < 0 && y < 0 ? a - b : x < 0 ? 1 : -1;
		return sign * (rank[x] - rank[y]) || (a - b);
	});
	return idx;
}

export interface Histogram {
	lo: number;         // the first bin's left edge (NaN when no value)
	hi: number;         // the last bin's right edge
	min: number;        // the smallest and largest value (NaN when none)
	max: number;
	counts: number[];   // per bin
	missing: number;    // samples in the mask without a value
	total: number;      // samples in the mask
}

/**
 * Equal-width bins over [min, max] of the finite values of the samples in
 * mask (null: all). The last bin is closed on the right; all values equal:
 * one bin. Whole numbers spanning fewer than `bins` values get one bin per
 * value (edges at ±0.5), so counts of small integers show no empty gaps. No
 * value at all: counts empty, lo/hi NaN.
 */
export function histogram(values: Float64Array, mask: Uint8Array | null, bins: number): Histogram {
	let lo = Infinity, hi = -Infinity, missing = 0, total = 0, ints = true;
	const n = values.length;
	for (let i = 0; i < n; i++) {
		if (mask && !mask[i]) continue;
		total++;
		const v = values[i];
		if (v !== v) { missing++; continue; }
		if (ints && !Number.isInteger(v)) ints = false;
		if (v < lo) lo = v;
		if (v > hi) hi = v;
	}
	if (lo > hi) return { lo: NaN, hi: NaN, min: NaN, max: NaN, counts: [], missing, total };
	const min = lo, max = hi;
	let nb = lo === hi ? 1 : Math.max(1, Math.floor(bins));
	if (ints && lo !== hi && hi - lo + 1 <= nb) {
		nb = hi - lo + 1;
		lo -= 0.5;
		hi += 0.5;
	}
	const counts = new Array<number>(nb).fill(0);
	const w = (hi - lo) / nb;
	for (let i = 0; i < n; i++) {
		if (mask && !mask[i]) continue;
		const v = values[i];
		if (v !== v) continue;
		counts[binOf(v, lo, w, nb)]++;
	}
	return { lo, hi, min, max, counts, missing, total };
}

/** The bin of v for bins of width w from lo (nb of them; the last closed). */
export function binOf(v: number, lo: number, w: number, nb: number): number {
	if (!(w > 0)) return 0;
	const b = Math.floor((v - lo) / w);
	return b < 0 ? 0 : b >= nb ? nb - 1 : b;
}

/** Samples in mask per category (counts[k]) and without one. */
export function categoryCounts(c: CategoryColumn, mask: Uint8Array | null): { counts: number[]; missing: number } {
	const counts = new Array<number>(c.categories.length).fill(0);
	let missing = 0;
	for (let i = 0; i < c.codes.length; i++) {
		if (mask && !mask[i]) continue;
		const k = c.codes[i];
		if (k < 0) missing++;
		else counts[k]++;
	}
	return { counts, missing };
}

/** A filter on one column: a closed range (null end: open) or a set of categories. */
export type Filter =
	| { kind: 'range'; lo: number | null; hi: number | null }
	| { kind: 'cats'; cats: ReadonlySet<number> };

/** Whether the filter constrains anything (an open range passes every value, missing too). */
export function filterActive(f: Filter | undefined): boolean {
	if (!f) return false;
	return f.kind === 'range' ? f.lo !== null || f.hi !== null : true;
}

/**
 * The samples of mask (null: all n) that pass every active filter (by
 * column name; a column not loaded is ignored), into out (n bytes, reused
 * when given): a sample without a value fails an active filter of that
 * column. Returns the count that pass.
 */
export function applyFilters(n: number, mask: Uint8Array | null, cols: ReadonlyMap<string, Column>,
	filters: ReadonlyMap<string, Filter>, out: Uint8Array): number {
	for (let i = 0; i < n; i++) out[i] = mask ? (mask[i] ? 1 : 0) : 1;
	for (const [name, f] of filters) {
		const c = cols.get(name);
		if (!c || !filterActive(f)) continue;
		if (f.kind === 'range' && c.kind === 'number') {
			const lo = f.lo ?? -Infinity, hi = f.hi ?? Infinity, v = c.values;
			for (let i = 0; i < n; i++) {
				if (!out[i]) continue;
				const x = v[i];
				if (!(x >= lo && x <= hi)) out[i] = 0; // NaN fails
			}
		} else if (f.kind === 'cats' && c.kind === 'category') {
			const cd = c.codes;
			for (let i = 0; i < n; i++) if (out[i] && !f.cats.has(cd[i])) out[i] = 0;
		}
	}
	let count = 0;
	for (let i = 0; i < n; i++) count += out[i];
	return count;
}

/**
 * A value as the grid shows it: '—' when missing; integers in full with
 * thousands separators; other numbers with 4 significant digits (no
 * trailing zeros), in exponent form when tiny or huge.
 */
export function formatValue(c: Column, i: number): string {
	if (c.kind === 'category') {
		const k = c.codes[i];
		return k >= 0 ? c.categories[k] : '—';
	}
	return formatNumber(c.values[i]);
}

export function formatNumber(v: number): string {
	if (v !== v) return '—';
	if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
	if (Number.isInteger(v) && Math.abs(v) < 1e15) {
		const s = Math.abs(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
		return v < 0 ? `−${s}` : s;
	}
	const a = Math.abs(v);
	let s: string;
	if (a !== 0 && (a < 1e-3 || a >= 1e6)) s = a.toExponential(3).replace(/\.?0+e/, 'e');
	else s = Number(a.toPrecision(4)).toString();
	return v < 0 ? `−${s}` : s;
}
