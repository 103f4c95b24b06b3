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
