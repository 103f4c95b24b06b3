import { describe, expect, it } from 'vitest';
import { activeFromRank, countOnes, rankedCount, reuseBuffer } from './active';

describe('active from rank', () => {
	const rank = Int32Array.of(2, -1, 0, 5, 1, -1);
	it('marks rank < N, never an unranked sample', () => {
		const out = new Uint8Array(6);
		expect(activeFromRank(rank, 2, out)).toBe(2);
		expect(Array.from(out)).toEqual([0, 0, 1, 0, 1, 0]);
		expect(activeFromRank(rank, 0, out)).toBe(0);
		expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
		expect(activeFromRank(rank, 100, out)).toBe(4);
		expect(Array.from(out)).toEqual([1, 0, 1, 1, 1, 0]);
		expect(activeFromRank(rank, -3, out)).toBe(0);
	});
	it('writes into the buffer it is given', () => {
		const out = new Uint8Array(6);
		const same = reuseBuffer(out, 6);
		expect(same).toBe(out);
		expect(reuseBuffer(out, 7)).not.toBe(out);
		expect(reuseBuffer(null, 3).length).toBe(3);
		expect(() => activeFromRank(rank, 1, new Uint8Array(2))).toThrow(RangeError);
	});
	it('counts', () => {
		expect(rankedCount(rank)).toBe(4);
		expect(countOnes(Uint8Array.of(1, 0, 1, 1))).toBe(3);
	});
	it('is fast enough at 1,000,000 samples to run per slider step', () => {
		const n = 1_000_000, r = new Int32Array(n), out = new Uint8Array(n);
		for (let i = 0; i < n; i++) r[i] = (i * 7919) % n;
		expect(activeFromRank(r, 1000, out)).toBe(1000);
	});
});

describe('RankActive', () => {
	it('alternates two buffers and allocates no more', async () => {
		const { RankActive } = await import('./active');
		const ra = new RankActive(), rank = Int32Array.of(0, 1, 2, -1);
		const a = ra.step(rank, 1), b = ra.step(rank, 2), c = ra.step(rank, 3), d = ra.step(rank, 4);
		expect(a).not.toBe(b);
		expect(c).toBe(a);
		expect(d).toBe(b);
		expect(Array.from(d)).toEqual([1, 1, 1, 0]);
		expect(ra.count).toBe(3);
	});
});

describe('packState', () => {
	it('puts active in bit 0 and the group above it', async () => {
		const { packState } = await import('./active');
		const out = new Uint8Array(4);
		expect(packState(Uint8Array.of(1, 0, 1, 0), Uint8Array.of(0, 2, 3, 127), out)).toBe(2);
		expect(Array.from(out)).toEqual([1, 4, 7, 254]);
		expect(packState(null, null, out)).toBe(0);
		expect(Array.from(out)).toEqual([0, 0, 0, 0]);
		expect(packState(Uint8Array.of(1, 1), null, out)).toBe(0); // another table's array
	});
});

describe('draw orders', () => {
	it('by rank: unranked first, then rank high to low, for dense and sparse ranks', async () => {
		const { drawOrderByRank } = await import('./active');
		const out = new Uint32Array(6);
		expect(Array.from(drawOrderByRank(Int32Array.of(2, -1, 0, 3, 1, -1), out))).toEqual([1, 5, 3, 0, 4, 2]);
		// not 0..R-1 (a gap, a repeat): sorted the same way
		expect(Array.from(drawOrderByRank(Int32Array.of(5, -1, 0, 9, 5, -1), out))).toEqual([1, 5, 3, 0, 4, 2]);
		// active = rank < N is a suffix for every N
		const rank = Int32Array.of(4, 0, -1, 2, 3, 1);
		const ord = drawOrderByRank(rank, new Uint32Array(6));
		for (let n = 0; n <= 5; n++) {
			const act = Array.from(ord).map((i) => rank[i] >= 0 && rank[i] < n);
			expect(act.indexOf(true) === -1 || act.slice(act.indexOf(true)).every(Boolean)).toBe(true);
		}
	});
	it('by state: inactive first, active last', async () => {
		const { drawOrderByState } = await import('./active');
		expect(Array.from(drawOrderByState(Uint8Array.of(1, 0, 3, 2, 0), new Uint32Array(5)))).toEqual([1, 3, 4, 0, 2]);
	});
});
