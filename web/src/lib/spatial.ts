/*
 * spatial.ts — a uniform grid over the plot's points, for hover (nearest
 * point) and for lasso/box selection, straight on the layout's Float32Array
 * (x0,y0,x1,y1,…): no object per point.
 *
 * Build: one pass for the bounds, one to count points per cell, a prefix
 * sum, one to place each point index in its cell (a counting sort): O(n),
 * two Int32Arrays (n + cells + 1). Points with a NaN coordinate (no row in
 * the embedding) are left out of every cell, so no query ever returns them.
 * Queries visit only the cells that can hold an answer.
 */

export interface Grid {
	xy: Float32Array;
	minX: number; minY: number;
	cell: number;        // side of a (square) cell in data units
	gx: number; gy: number;
	start: Int32Array;   // cell c holds items[start[c] .. start[c+1])
	items: Int32Array;   // point indices, cell by cell
	count: number;       // points placed (finite ones)
}

/** Builds the grid; about perCell points a cell on average. */
export function buildGrid(xy: Float32Array, perCell = 8): Grid {
	const n = xy.length >> 1;
	let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, count = 0;
	for (let i = 0; i < n; i++) {
		const x = xy[2 * i], y = xy[2 * i + 1];
		if (x !== x || y !== y || !Number.isFinite(x) || !Number.isFinite(y)) continue;
		if (x < minX) minX = x;
		if (x > maxX) maxX = x;
		if (y < minY) minY = y;
		if (y > maxY) maxY = y;
		count++;
	}
	if (count === 0) {
		minX = minY = 0;
		maxX = maxY = 1;
	}
	const w = Math.max(maxX - minX, 1e-9), h = Math.max(maxY - minY, 1e-9);
	// square cells, about count/perCell of them over the bounding box
	const cells = Math.max(1, Math.min(4_194_304, Math.ceil(count / perCell)));
	let cell = Math.sqrt((w * h) / cells);
	if (!(cell > 0)) cell = Math.max(w, h);
	let gx = Math.max(1, Math.ceil(w / cell)), gy = Math.max(1, Math.ceil(h / cell));
	while (gx * gy > 4_194_304) { cell *= 1.5; gx = Math.ceil(w / cell); gy = Math.ceil(h / cell); }
	// the max edge falls in the last cell
	gx = Math.max(1, Math.min(gx, Math.floor(w / cell) + 1));
	gy = Math.max(1, Math.min(gy, Math.floor(h / cell) + 1));
	const start = new Int32Array(gx * gy + 1);
	const cellOf = new Int32Array(n);
	for (let i = 0; i < n; i++) {
		const x = xy[2 * i], y = xy[2 * i + 1];
		if (x !== x || y !== y || !Number.isFinite(x) || !Number.isFinite(y)) { cellOf[i] = -1; continue; }
		const cx = Math.min(gx - 1, Math.floor((x - minX) / cell));
		const cy = Math.min(gy - 1, Math.floor((y - minY) / cell));
		const c = cy * gx + cx;
		cellOf[i] = c;
		start[c + 1]++;
	}
	for (let c = 0; c < gx * gy; c++) start[c + 1] += start[c];
	const items = new Int32Array(count);
	const fill = start.slice(0, gx * gy);
	for (let i = 0; i < n; i++) {
		const c = cellOf[i];
		if (c >= 0) items[fill[c]++] = i;
	}
	return { xy, minX, minY, cell, gx, gy, start, items, count };
}

function clampCell(v: number, g: number): number {
	return v < 0 ? 0 : v >= g ? g - 1 : v;
}

/**
 * The index of the point nearest (x, y) within maxDist (Euclidean, data
 * units), or -1. Ties go to the lower index. Visits cells ring by ring and
 * stops once a ring cannot hold anything nearer.
 */
export function nearest(g: Grid, x: number, y: number, maxDist = Infinity): number {
	if (g.count === 0 || x !== x || y !== y) return -1;
	const { xy, gx, gy, start, items } = g;
	const cx = clampCell(Math.floor((x - g.minX) / g.cell), gx);
	const cy = clampCell(Math.floor((y - g.minY) / g.cell), gy);
	let best = -1, bestD = maxDist * maxDist;
	for (let r = 0; ; r++) {
		const inner = r === 0 ? 0 : ringMinDist(g, x, y, cx, cy, r);
		if (inner * inner > bestD) break;
		const x0 = cx - r, x1 = cx + r, y0 = cy - r, y1 = cy + r;
		for (let j = Math.max(y0, 0); j <= Math.min(y1, gy - 1); j++) {
			const edge = j === y0 || j === y1;
			const step = edge || r === 0 ? 1 : 2 * r; // middle rows: only the two ends
			for (let i = x0; i <= x1; i += step) {
				if (i < 0 || i >= gx) continue;
				const c = j * gx + i;
				for (let k = start[c], e = start[c + 1]; k < e; k++) {
					const p = items[k];
					const dx = xy[2 * p] - x, dy = xy[2 * p + 1] - y;
					const d = dx * dx + dy * dy;
					if (d < bestD || (d === bestD && p < best)) {
						best = p;
						bestD = d;
					}
				}
			}
		}
		if (x0 <= 0 && y0 <= 0 && x1 >= gx - 1 && y1 >= gy - 1) break; // the whole grid seen
	}
	return best;
}

/* The least distance from (x, y) to any point of a cell in ring r around
 * (cx, cy): the distance to the box of rings 0..r-1 measured outward. */
function ringMinDist(g: Grid, x: number, y: number, cx: number, cy: number, r: number): number {
	const left = g.minX + (cx - r + 1) * g.cell, right = g.minX + (cx + r) * g.cell;
	const bottom = g.minY + (cy - r + 1) * g.cell, top = g.minY + (cy + r) * g.cell;
	// inside the inner box: the distance to its nearest side
	const d = Math.min(x - left, right - x, y - bottom, top - y);
	return Math.max(0, d);
}

/** The cells overlapping [x0,x1]×[y0,y1], clamped to the grid. */
function cellRange(g: Grid, x0: number, y0: number, x1: number, y1: number) {
	return {
		i0: clampCell(Math.floor((x0 - g.minX) / g.cell), g.gx),
		i1: clampCell(Math.floor((x1 - g.minX) / g.cell), g.gx),
		j0: clampCell(Math.floor((y0 - g.minY) / g.cell), g.gy),
		j1: clampCell(Math.floor((y1 - g.minY) / g.cell), g.gy),
	};
}

/** Indices of the points inside the box (edges included), ascending. */
export function inBox(g: Grid, ax: number, ay: number, bx: number, by: number): Int32Array {
	const x0 = Math.min(ax, bx), x1 = Math.max(ax, bx), y0 = Math.min(ay, by), y1 = Math.max(ay, by);
	if (g.count === 0 || !(x1 >= g.minX) || !(y1 >= g.minY)) return new Int32Array(0);
	const { xy, start, items, gx } = g;
	const { i0, i1, j0, j1 } = cellRange(g, x0, y0, x1, y1);
	const out: number[] = [];
	for (let j = j0; j <= j1; j++)
		for (let i = i0; i <= i1; i++) {
			const c = j * gx + i;
			for (let k = start[c], e = start[c + 1]; k < e; k++) {
				const p = items[k], x = xy[2 * p], y = xy[2 * p + 1];
				if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out.push(p);
			}
		}
	return Int32Array.from(out).sort();
}

/** Even-odd rule: is (x, y) inside the polygon poly (x0,y0,x1,y1,…, closed implicitly)? */
export function pointInPolygon(poly: ArrayLike<number>, x: number, y: number): boolean {
	const m = poly.length >> 1;
	let inside = false;
	for (let i = 0, j = m - 1; i < m; j = i++) {
		const xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
		if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
	}
	return inside;
}

/** Indices of the points inside the lasso polygon, ascending. */
export function inPolygon(g: Grid, poly: ArrayLike<number>): Int32Array {
	const m = poly.length >> 1;
	if (m < 3 || g.count === 0) return new Int32Array(0);
	let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
	for (let i = 0; i < m; i++) {
		const x = poly[2 * i], y = poly[2 * i + 1];
		if (x < x0) x0 = x;
		if (x > x1) x1 = x;
		if (y < y0) y0 = y;
		if (y > y1) y1 = y;
	}
	const box = inBox(g, x0, y0, x1, y1);
	let k = 0;
	for (let q = 0; q < box.length; q++) {
		const p = box[q];
		if (pointInPolygon(poly, g.xy[2 * p], g.xy[2 * p + 1])) box[k++] = p;
	}
	return box.slice(0, k);
}
