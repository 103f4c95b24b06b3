import { describe, expect, it } from 'vitest';
import { buildGrid, inBox, inPolygon, nearest, pointInPolygon } from './spatial';

/* A small deterministic generator (no Math.random: tests repeat). */
function lcg(seed: number) {
	let s = seed >>> 0;
	return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

function randomXY(n: number, seed: number, nanEvery = 0): Float32Array {
	const r = lcg(seed), xy = new Float32Array(2 * n);
	for (let i = 0; i < n; i++) {
		const nan = nanEvery && i % nanEvery === 0;
		xy[2 * i] = nan ? NaN : r() * 2 - 1;
		xy[2 * i + 1] = nan ? NaN : (r() * 2 - 1) * 0.6;
	}
	return xy;
}

function bruteNearest(xy: Float32Array, x: number, y: number, maxDist = Infinity): number {
	let best = -1, bd = maxDist * maxDist;
	for (let p = 0; p < xy.length / 2; p++) {
		const dx = xy[2 * p] - x, dy = xy[2 * p + 1] - y, d = dx * dx + dy * dy;
		if (d < bd) { bd = d; best = p; }
	}
	return best;
}

describe('spatial grid', () => {
	it('places every finite point once and skips NaN', () => {
		const xy = randomXY(1000, 1, 7);
		const g = buildGrid(xy);
		expect(g.count).toBe(1000 - Math.ceil(1000 / 7));
		const seen = new Uint8Array(1000);
		for (const p of g.items) seen[p]++;
		for (let i = 0; i < 1000; i++) expect(seen[i]).toBe(i % 7 === 0 ? 0 : 1);
	});
	it('finds the same nearest point as a brute-force scan', () => {
		const xy = randomXY(5000, 2, 11), g = buildGrid(xy), r = lcg(3);
		for (let q = 0; q < 500; q++) {
			const x = r() * 3 - 1.5, y = r() * 3 - 1.5;
			expect(nearest(g, x, y)).toBe(bruteNearest(xy, x, y));
			expect(nearest(g, x, y, 0.05)).toBe(bruteNearest(xy, x, y, 0.05));
		}
	});
	it('handles clustered points, one point, none, all at one spot', () => {
		const xy = new Float32Array(2000);
		for (let i = 0; i < 1000; i++) { xy[2 * i] = i < 990 ? 0.001 * (i % 10) : 0.9; xy[2 * i + 1] = i < 990 ? 0.001 * Math.floor(i / 100) : -0.9; }
		const g = buildGrid(xy);
		expect(nearest(g, 0.88, -0.88)).toBe(bruteNearest(xy, 0.88, -0.88));
		expect(nearest(g, 0.0051, 0.0031)).toBe(bruteNearest(xy, 0.0051, 0.0031));
		expect(nearest(buildGrid(Float32Array.of(0.5, 0.5)), -1, -1)).toBe(0);
		expect(nearest(buildGrid(new Float32Array(0)), 0, 0)).toBe(-1);
		expect(nearest(buildGrid(Float32Array.of(NaN, NaN)), 0, 0)).toBe(-1);
		const same = buildGrid(Float32Array.of(0.2, 0.2, 0.2, 0.2, 0.2, 0.2));
		expect(nearest(same, 0, 0)).toBe(0);
		expect(Array.from(inBox(same, 0, 0, 1, 1))).toEqual([0, 1, 2]);
	});
	it('box selection matches a scan, in table order', () => {
		const xy = randomXY(3000, 4, 13), g = buildGrid(xy);
		const got = inBox(g, 0.3, 0.2, -0.4, -0.1);
		const want: number[] = [];
		for (let p = 0; p < 3000; p++) {
			const x = xy[2 * p], y = xy[2 * p + 1];
			if (x >= -0.4 && x <= 0.3 && y >= -0.1 && y <= 0.2) want.push(p);
		}
		expect(Array.from(got)).toEqual(want);
		expect(inBox(g, 5, 5, 6, 6).length).toBe(0);
	});
	it('point in polygon (even-odd), concave lasso', () => {
		// a "U": the notch between the arms is outside
		const u = Float32Array.of(0, 0, 3, 0, 3, 3, 2, 3, 2, 1, 1, 1, 1, 3, 0, 3);
		expect(pointInPolygon(u, 0.5, 2)).toBe(true);
		expect(pointInPolygon(u, 1.5, 2)).toBe(false);
		expect(pointInPolygon(u, 1.5, 0.5)).toBe(true);
		expect(pointInPolygon(u, 4, 1)).toBe(false);
		const xy = randomXY(4000, 5, 9), g = buildGrid(xy);
		const tri = Float32Array.of(-0.8, -0.5, 0.8, -0.5, 0, 0.5);
		const want: number[] = [];
		for (let p = 0; p < 4000; p++) if (pointInPolygon(tri, xy[2 * p], xy[2 * p + 1])) want.push(p);
		expect(Array.from(inPolygon(g, tri))).toEqual(want);
		expect(want.length).toBeGreaterThan(100);
		expect(inPolygon(g, Float32Array.of(0, 0, 1, 1)).length).toBe(0);
	});
	it('builds over 1,000,000 points', () => {
		const g = buildGrid(randomXY(1_000_000, 6));
		expect(g.count).toBe(1_000_000);
		expect(nearest(g, 0, 0)).toBeGreaterThanOrEqual(0);
	});
});
