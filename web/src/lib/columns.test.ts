// columns.test.ts — lib/columns.ts against hand-computed answers: decoding,
// sort with missing values last, histogram bins, category counts, filters,
// formatting.
import { describe, expect, it } from 'vitest';
import {
	applyFilters, categoryCounts, decodeColumn, formatNumber, formatValue, histogram, sortByColumn,
	type CategoryColumn, type Column, type Filter, type NumberColumn,
} from './columns';

const num = (name: string, v: number[]): NumberColumn => ({ name, kind: 'number', values: Float64Array.from(v) });
const cat = (name: string, categories: string[], codes: number[]): CategoryColumn =>
	({ name, kind: 'category', categories, codes: Int32Array.from(codes) });

describe('decodeColumn', () => {
	it('maps null to NaN and bad category indexes to -1', () => {
		const n = decodeColumn({ name: 'm.x', kind: 'number', values: [1.5, null, 3] }) as NumberColumn;
		expect(Array.from(n.values)).toEqual([1.5, NaN, 3]);
		const c = decodeColumn({ name: 'm.c', kind: 'category', categories: ['a', 'b'], values: [1, -1, 7, null] }) as CategoryColumn;
		expect(Array.from(c.codes)).toEqual([1, -1, -1, -1]);
	});
});

describe('sortByColumn', () => {
	const c = num('x', [3, NaN, 1, 3, NaN, 2]);
	it('ascending with missing values last, ties by index', () => {
		expect(Array.from(sortByColumn(Int32Array.of(0, 1, 2, 3, 4, 5), c, false))).toEqual([2, 5, 0, 3, 1, 4]);
	});
	it('descending keeps missing values last', () => {
		expect(Array.from(sortByColumn(Int32Array.of(5, 4, 3, 2, 1, 0), c, true))).toEqual([0, 3, 5, 2, 1, 4]);
	});
	it('categories by name, missing last either way', () => {
		const k = cat('c', ['dog', 'cat'], [0, -1, 1, 0]);
		expect(Array.from(sortByColumn(Int32Array.of(0, 1, 2, 3), k, false))).toEqual([2, 0, 3, 1]);
		expect(Array.from(sortByColumn(Int32Array.of(0, 1, 2, 3), k, true))).toEqual([0, 3, 2, 1]);
	});
});

describe('histogram', () => {
	it('equal-width bins, the last closed, missing counted apart', () => {
		const h = histogram(Float64Array.of(0, 1, 2, 3, 4, NaN, 10.5), null, 5);
		expect(h.lo).toBe(0);
		expect(h.hi).toBe(10.5);
		expect(h.counts).toEqual([3, 2, 0, 0, 1]); // width 2.1: [0,2.1) [2.1,4.2) … [8.4,10.5]
		expect(h.missing).toBe(1);
		expect(h.total).toBe(7);
	});
	it('small whole numbers: one bin per value', () => {
		const h = histogram(Float64Array.of(174, 176, 176, 181), null, 30);
		expect([h.lo, h.hi, h.min, h.max]).toEqual([173.5, 181.5, 174, 181]);
		expect(h.counts).toEqual([1, 0, 2, 0, 0, 0, 0, 1]);
	});
	it('only the samples of the mask', () => {
		const h = histogram(Float64Array.of(0, 1.5, 2, 3), Uint8Array.of(0, 1, 1, 0), 2);
		expect([h.lo, h.hi, h.total]).toEqual([1.5, 2, 2]);
		expect(h.counts).toEqual([1, 1]);
	});
	it('one value: one bin; no value: no bins', () => {
		expect(histogram(Float64Array.of(5, 5), null, 10).counts).toEqual([2]);
		const e = histogram(Float64Array.of(NaN), null, 10);
		expect(e.counts).toEqual([]);
		expect(e.missing).toBe(1);
	});
	it('category counts over the mask', () => {
		const k = cat('c', ['a', 'b'], [0, 1, 1, -1, 0]);
		expect(categoryCounts(k, null)).toEqual({ counts: [2, 2], missing: 1 });
		expect(categoryCounts(k, Uint8Array.of(1, 1, 0, 1, 0))).toEqual({ counts: [1, 1], missing: 1 });
	});
});

describe('applyFilters', () => {
	const cols = new Map<string, Column>([
		['x', num('x', [0.1, 0.5, NaN, 0.9, 0.5])],
		['c', cat('c', ['a', 'b'], [0, 1, 1, -1, 0])],
	]);
	const out = new Uint8Array(5);
	it('a closed range; missing values fail it', () => {
		const f = new Map<string, Filter>([['x', { kind: 'range', lo: 0.5, hi: 0.9 }]]);
		expect(applyFilters(5, null, cols, f, out)).toBe(3);
		expect(Array.from(out)).toEqual([0, 1, 0, 1, 1]);
	});
	it('open ends, categories, and the tag mask combine', () => {
		const f = new Map<string, Filter>([
			['x', { kind: 'range', lo: null, hi: 0.5 }],
			['c', { kind: 'cats', cats: new Set([0]) }],
		]);
		expect(applyFilters(5, null, cols, f, out)).toBe(2);
		expect(Array.from(out)).toEqual([1, 0, 0, 0, 1]);
		expect(applyFilters(5, Uint8Array.of(1, 1, 1, 1, 0), cols, f, out)).toBe(1);
	});
	it('an open range passes everything, missing values too', () => {
		const f = new Map<string, Filter>([['x', { kind: 'range', lo: null, hi: null }]]);
		expect(applyFilters(5, null, cols, f, out)).toBe(5);
	});
});

describe('formatting', () => {
	it('numbers as people read them', () => {
		expect(formatNumber(1920)).toBe('1,920');
		expect(formatNumber(0.38312)).toBe('0.3831');
		expect(formatNumber(0.5)).toBe('0.5');
		expect(formatNumber(-2.25)).toBe('−2.25');
		expect(formatNumber(0.0000123)).toBe('1.23e-5');
		expect(formatNumber(12345678.5)).toBe('1.235e+7');
		expect(formatNumber(NaN)).toBe('—');
		expect(formatValue(cat('c', ['a'], [-1, 0]), 1)).toBe('a');
		expect(formatValue(cat('c', ['a'], [-1, 0]), 0)).toBe('—');
	});
});
