import { describe, expect, it } from 'vitest';
import { maskIndices, sortIndices } from './order';

describe('grid order', () => {
	it('takes the members in table order', () => {
		expect(Array.from(maskIndices(Uint8Array.of(0, 1, 1, 0, 1), 5))).toEqual([1, 2, 4]);
		expect(Array.from(maskIndices(null, 3))).toEqual([0, 1, 2]);
		expect(Array.from(maskIndices(Uint8Array.of(1, 1), 1))).toEqual([0]);
	});
	const size = [30, 10, 20, 10, 50];
	const score = Float32Array.of(0.5, NaN, 0.9, 0.5, NaN);
	it('name order is index order', () => {
		expect(Array.from(sortIndices(Int32Array.of(3, 0, 4), 'name', false, size, null))).toEqual([0, 3, 4]);
		expect(Array.from(sortIndices(Int32Array.of(3, 0, 4), 'name', true, size, null))).toEqual([4, 3, 0]);
	});
	it('size, ties by index', () => {
		expect(Array.from(sortIndices(Int32Array.of(0, 1, 2, 3, 4), 'size', false, size, null))).toEqual([1, 3, 2, 0, 4]);
		expect(Array.from(sortIndices(Int32Array.of(0, 1, 2, 3, 4), 'size', true, size, null))).toEqual([4, 0, 2, 1, 3]);
	});
	it('score: most important first, unscored last both ways', () => {
		expect(Array.from(sortIndices(Int32Array.of(4, 3, 2, 1, 0), 'score', false, size, score))).toEqual([2, 0, 3, 1, 4]);
		expect(Array.from(sortIndices(Int32Array.of(4, 3, 2, 1, 0), 'score', true, size, score))).toEqual([0, 3, 2, 1, 4]);
		expect(Array.from(sortIndices(Int32Array.of(2, 0), 'score', false, size, null))).toEqual([0, 2]);
	});
	it('sorts 100,000 samples by score', () => {
		const n = 100_000, sc = new Float32Array(n), sz = new Array<number>(n);
		for (let i = 0; i < n; i++) { sc[i] = i % 10 === 0 ? NaN : ((i * 7919) % n) / n; sz[i] = i % 1000; }
		const idx = sortIndices(maskIndices(null, n), 'score', false, sz, sc);
		let bad = 0;
		for (let k = 1; k < n; k++) {
			const a = sc[idx[k - 1]], b = sc[idx[k]];
			if (!Number.isNaN(b) && !(a >= b)) bad++;
		}
		expect(bad).toBe(0);
		expect(Number.isNaN(sc[idx[n - 1]])).toBe(true);
	});
});

describe('filtering a sorted order and moving the focus', async () => {
	const { filterOrder, columnsFor, moveFocus } = await import('./order');
	it('keeps the members in the sorted order, reusing the buffer', () => {
		const out = new Int32Array(5);
		const got = filterOrder(Int32Array.of(4, 2, 0, 3, 1), Uint8Array.of(1, 0, 1, 1, 0), out);
		expect(Array.from(got)).toEqual([2, 0, 3]);
		expect(got.buffer).toBe(out.buffer);
		const all = Int32Array.of(1, 0);
		expect(filterOrder(all, null)).toBe(all);
	});
	it('columns', () => {
		expect(columnsFor(1000, 136, 8, 8)).toBe(6);
		expect(columnsFor(100, 136, 8, 8)).toBe(1);
	});
	it('keys', () => {
		// 10 cells, 4 columns: rows 0-3, 4-7, 8-9
		expect(moveFocus('ArrowRight', 3, 10, 4, 2)).toBe(4);
		expect(moveFocus('ArrowLeft', 0, 10, 4, 2)).toBe(0);
		expect(moveFocus('ArrowDown', 5, 10, 4, 2)).toBe(9);
		expect(moveFocus('ArrowDown', 7, 10, 4, 2)).toBe(9);
		expect(moveFocus('ArrowUp', 2, 10, 4, 2)).toBe(0);
		expect(moveFocus('PageDown', 1, 10, 4, 2)).toBe(9);
		expect(moveFocus('PageUp', 9, 10, 4, 2)).toBe(1);
		expect(moveFocus('Home', 6, 10, 4, 2)).toBe(0);
		expect(moveFocus('End', 1, 10, 4, 2)).toBe(9);
		expect(moveFocus('x', 1, 10, 4, 2)).toBe(-1);
		expect(moveFocus('ArrowRight', 0, 0, 4, 2)).toBe(-1);
	});
});
