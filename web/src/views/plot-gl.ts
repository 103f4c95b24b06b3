/*
 * plot-gl.ts — the embedding plot's own WebGL2 renderer.
 *
 * Why not regl-scatterplot (1.16, tried and removed from package.json): it keeps each point's
 * x, y and its colour value (valueA/valueB) together in one float "state
 * texture" (src/index.js createStateTexture), so re-colouring a point means
 * setPoints() again: the whole texture is rebuilt and uploaded (positions
 * included), every point is first turned into a JS array ([x, y, z, w]: one
 * object per point) and its kd-tree is rebuilt. Its select()/filter() paths
 * build JS arrays and Sets of the chosen indices on every call. A slider step
 * would so cost a re-upload of positions plus 100,000 objects — both of
 * which issue 17 rules out — and the library is ~110 KB minified. This file
 * is ~300 lines and is all the plot needs.
 *
 * The data on the GPU, each uploaded only when it changes:
 *   a_pos   vec2 float32  per table index — once per layout (embedding, gen)
 *   a_rank  int32         the latest run's rank (-1 = not ranked) — once per run
 *   a_state uint8         bit 0: active by membership (the chosen tag or the
 *                         selection); bits 1..7: a colour group (by tag), 0 none
 *                         — once per change of tag / selection / colouring
 * A slider step sets one uniform (u_n, with u_useRank = 1: active = 0 <=
 * rank < N) and draws once: no upload, no per-point JavaScript.
 *
 *   order   uint32 element indices, every inactive point before every
 *           active one — two of them: by rank (unranked first, then rank
 *           high to low: for any slider N the active points are a suffix)
 *           once per run, and by membership once per tag / selection
 *
 * Drawing: one gl.POINTS drawElements of every point in one of those orders,
 * with alpha blending: active points are drawn last, so they land on top of
 * inactive ones, while points of the same kind blend over each other
 * (density stays visible). No depth test: measured against an order-free
 * draw with depth test LEQUAL (active at z -0.5), the ordered draw was
 * cheaper in SwiftShader (median slider-step ratio to a bare page 1.21 vs
 * 1.37, load ~12, 7 rounds of 15 steps). Inactive points are small
 * translucent grey, active ones larger in a strong colour.
 * A point with a NaN coordinate (no row in the embedding) is moved outside
 * the clip volume and never drawn.
 *
 * Timing: each draw is measured as performance.measure('plot-draw'); when
 * globalThis.__sievefsPlotSync is true (set by bench/web), the draw ends with
 * a 1-pixel readPixels, so the measure covers the GPU's work too (what a bare
 * WebGL page's "draw + readback" measures).
 */

import { drawOrderByRank, drawOrderByState } from '../lib/active';

const VS = `#version 300 es
precision highp float;
precision highp int;
in vec2 a_pos;
in int a_rank;
in uint a_state;
uniform vec2 u_center;
uniform vec2 u_scale;
uniform int u_useRank;
uniform int u_n;
uniform int u_byGroup;
uniform float u_size;
uniform float u_activeSize;
uniform vec4 u_inactive;
uniform vec4 u_active;
uniform vec4 u_palette[8];
out vec4 v_color;
void main() {
  if (a_pos.x > 1e29) {            // no row in the embedding
    gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
    gl_PointSize = 1.0;
    v_color = vec4(0.0);
    return;
  }
  bool act = u_useRank != 0 ? (a_rank >= 0 && a_rank < u_n) : (a_state & 1u) != 0u;
  uint grp = a_state >> 1u;
  vec4 c;
  if (u_byGroup != 0) {
    c = grp == 0u ? (act ? u_active : u_inactive) : u_palette[int(min(grp, 8u)) - 1];
    c.a = act ? u_active.a : u_inactive.a;
  } else {
    c = act ? u_active : u_inactive;
  }
  v_color = c;
  gl_PointSize = act ? u_activeSize : u_size;
  gl_Position = vec4((a_pos - u_center) * u_scale, 0.0, 1.0);
}`;

/* Round points only when they are big enough to look square (zoomed in): a
 * discard costs a software renderer (SwiftShader) about a tenth more. */
const FS = (round: boolean) => `#version 300 es
precision mediump float;
in vec4 v_color;
out vec4 o_color;
void main() {
${round ? '  vec2 d = gl_PointCoord - 0.5;\n  if (dot(d, d) > 0.25) discard;' : ''}
  o_color = vec4(v_color.rgb * v_color.a, v_color.a);
}`;

export type RGBA = [number, number, number, number];

/** Colours of groups (tags): Okabe–Ito's colour-blind-safe set, the blues
 * last (the active colour is the app's blue). */
export const PALETTE: RGBA[] = [
	[0.90, 0.62, 0.0, 1], [0.0, 0.62, 0.45, 1], [0.80, 0.47, 0.65, 1], [0.84, 0.37, 0.0, 1],
	[0.94, 0.89, 0.26, 1], [0.34, 0.71, 0.91, 1], [0.2, 0.2, 0.2, 1], [0.0, 0.45, 0.70, 1],
];
export const ACTIVE: RGBA = [0.09, 0.33, 0.80, 0.85]; // the app's accent, as the active bar
export const INACTIVE: RGBA = [0.45, 0.48, 0.53, 0.28];

/** Thrown when the browser has no WebGL2. */
export class NoWebGL extends Error {}

export class PlotGL {
	readonly gl: WebGL2RenderingContext;
	private prog: WebGLProgram;
	private progs: [WebGLProgram, WebGLProgram];
	private us: [Record<string, WebGLUniformLocation | null>, Record<string, WebGLUniformLocation | null>] = [{}, {}];
	private vao: WebGLVertexArrayObject;
	private posBuf: WebGLBuffer;
	private rankBuf: WebGLBuffer;
	private stateBuf: WebGLBuffer;
	private rankOrderBuf: WebGLBuffer;
	private stateOrderBuf: WebGLBuffer;
	private rankOrder: Uint32Array | null = null;
	private stateOrder: Uint32Array | null = null;
	private hasRankOrder = false;
	private hasStateOrder = false;
	private u: Record<string, WebGLUniformLocation | null> = {};
	private loc = { pos: 0, rank: 1, state: 2 };
	/** points in the position buffer */
	points = 0;
	private hasRank = false;
	private hasState = false;
	private rankLen = 0;
	private stateLen = 0;
	// view: data point (cx, cy) at the canvas centre, k CSS px per data unit
	cx = 0;
	cy = 0;
	zoom = 1;
	useRank = false;
	n = 0;
	byGroup = false;
	/** how many points are active: many active points are drawn fainter, so
	 * their density stays visible instead of one solid blot */
	activeCount = 0;
	drawCount = 0;
	lastDrawMs = 0;
	private frame = 0;
	private scratch: Float32Array | null = null;
	private pixel = new Uint8Array(4);
	private activeColor = new Float32Array(ACTIVE);
	private inactiveColor = new Float32Array(INACTIVE);

	constructor(readonly canvas: HTMLCanvasElement) {
		const gl = canvas.getContext('webgl2', {
			antialias: false, depth: false, alpha: false, premultipliedAlpha: true,
			preserveDrawingBuffer: false,
		});
		if (!gl) throw new NoWebGL('this browser has no WebGL 2');
		this.gl = gl;
		this.progs = [link(gl, VS, FS(false)), link(gl, VS, FS(true))];
		this.prog = this.progs[0];
		for (let k = 0; k < 2; k++) {
			for (const name of ['u_center', 'u_scale', 'u_useRank', 'u_n', 'u_byGroup', 'u_size',
				'u_activeSize', 'u_inactive', 'u_active', 'u_palette'])
				this.us[k][name] = gl.getUniformLocation(this.progs[k], name);
			gl.useProgram(this.progs[k]);
			gl.uniform4fv(this.us[k].u_palette, PALETTE.flat());
		}
		this.u = this.us[0];
		this.vao = gl.createVertexArray()!;
		this.posBuf = gl.createBuffer()!;
		this.rankBuf = gl.createBuffer()!;
		this.stateBuf = gl.createBuffer()!;
		this.rankOrderBuf = gl.createBuffer()!;
		this.stateOrderBuf = gl.createBuffer()!;
		gl.bindVertexArray(this.vao);
		gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuf);
		gl.enableVertexAttribArray(this.loc.pos);
		gl.vertexAttribPointer(this.loc.pos, 2, gl.FLOAT, false, 0, 0);
		gl.bindVertexArray(null);
		this.setRank(null);
		this.setState(null);
	}

	/** Uploads the positions (x0,y0,x1,y1,… ; NaN = no row). Once per layout. */
	setPositions(xy: Float32Array): void {
		const gl = this.gl;
		const n = xy.length >> 1;
		// NaN is not reliably testable in a shader (isnan may be optimised
		// away): a copy with a sentinel the vertex shader checks instead
		if (!this.scratch || this.scratch.length !== xy.length) this.scratch = new Float32Array(xy.length);
		const s = this.scratch;
		for (let i = 0; i < xy.length; i += 2) {
			const x = xy[i], y = xy[i + 1];
			if (x !== x || y !== y) {
				s[i] = 1e30;
				s[i + 1] = 1e30;
			} else {
				s[i] = x;
				s[i + 1] = y;
			}
		}
		gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuf);
		gl.bufferData(gl.ARRAY_BUFFER, s, gl.STATIC_DRAW);
		this.points = n;
		// an array of another length would make the draw read past one of them
		if (this.hasRank && this.rankLen !== n) this.setRank(null);
		if (this.hasState && this.stateLen !== n) this.setState(null);
		this.scratch = null; // the GPU has it; the caller keeps xy for hover/lasso
		this.invalidate();
	}

	/** Uploads the latest run's ranks (null: none). Once per run. */
	setRank(rank: Int32Array | null): void {
		const gl = this.gl;
		gl.bindVertexArray(this.vao);
		if (rank && rank.length > 0 && (this.points === 0 || rank.length === this.points)) {
			this.rankLen = rank.length;
			gl.bindBuffer(gl.ARRAY_BUFFER, this.rankBuf);
			gl.bufferData(gl.ARRAY_BUFFER, rank, gl.STATIC_DRAW);
			gl.enableVertexAttribArray(this.loc.rank);
			gl.vertexAttribIPointer(this.loc.rank, 1, gl.INT, 0, 0);
			this.hasRank = true;
			if (!this.rankOrder || this.rankOrder.length !== rank.length) this.rankOrder = new Uint32Array(rank.length);
			drawOrderByRank(rank, this.rankOrder);
			gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.rankOrderBuf);
			gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, this.rankOrder, gl.STATIC_DRAW);
			this.hasRankOrder = true;
		} else {
			gl.disableVertexAttribArray(this.loc.rank);
			gl.vertexAttribI4i(this.loc.rank, -1, 0, 0, 0);
			this.hasRank = false;
			this.hasRankOrder = false;
		}
		gl.bindVertexArray(null);
		this.invalidate();
	}

	/** Uploads the per-point state bytes (bit 0 active, bits 1..7 group). */
	setState(state: Uint8Array | null): void {
		const gl = this.gl;
		gl.bindVertexArray(this.vao);
		if (state && state.length > 0 && (this.points === 0 || state.length === this.points)) {
			gl.bindBuffer(gl.ARRAY_BUFFER, this.stateBuf);
			if (this.stateLen === state.length) gl.bufferSubData(gl.ARRAY_BUFFER, 0, state);
			else gl.bufferData(gl.ARRAY_BUFFER, state, gl.DYNAMIC_DRAW);
			this.stateLen = state.length;
			if (!this.stateOrder || this.stateOrder.length !== state.length) this.stateOrder = new Uint32Array(state.length);
			drawOrderByState(state, this.stateOrder);
			gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.stateOrderBuf);
			gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, this.stateOrder, gl.DYNAMIC_DRAW);
			this.hasStateOrder = true;
			gl.enableVertexAttribArray(this.loc.state);
			gl.vertexAttribIPointer(this.loc.state, 1, gl.UNSIGNED_BYTE, 0, 0);
			this.hasState = true;
		} else {
			gl.disableVertexAttribArray(this.loc.state);
			gl.vertexAttribI4ui(this.loc.state, 0, 0, 0, 0);
			this.hasState = false;
			this.hasStateOrder = false;
		}
		gl.bindVertexArray(null);
		this.invalidate();
	}

	/** active = rank < n (slider), or by membership when n is null. A uniform only. */
	setSlider(n: number | null): void {
		const use = n !== null && this.hasRank;
		if (use === this.useRank && (!use || n === this.n)) return;
		this.useRank = use;
		this.n = n ?? 0;
		this.invalidate();
	}

	setActiveCount(n: number): void {
		if (n !== this.activeCount) {
			this.activeCount = n;
			this.invalidate();
		}
	}

	setByGroup(on: boolean): void {
		if (on !== this.byGroup) {
			this.byGroup = on;
			this.invalidate();
		}
	}

	/** CSS px per data unit at zoom 1: [-1, 1] fits the shorter side with a margin. */
	basePx(): number {
		return Math.max(1, Math.min(this.canvas.clientWidth, this.canvas.clientHeight) * 0.47);
	}

	/** Data coordinates of a point given in CSS px from the canvas' top left. */
	toData(px: number, py: number): [number, number] {
		const k = this.basePx() * this.zoom;
		return [this.cx + (px - this.canvas.clientWidth / 2) / k, this.cy - (py - this.canvas.clientHeight / 2) / k];
	}

	toScreen(x: number, y: number): [number, number] {
		const k = this.basePx() * this.zoom;
		return [this.canvas.clientWidth / 2 + (x - this.cx) * k, this.canvas.clientHeight / 2 - (y - this.cy) * k];
	}

	/** Zooms by factor f keeping the data point under (px, py) in place. */
	zoomAt(px: number, py: number, f: number): void {
		const [x, y] = this.toData(px, py);
		this.zoom = Math.min(2000, Math.max(0.5, this.zoom * f));
		const [x2, y2] = this.toData(px, py);
		this.cx += x - x2;
		this.cy += y - y2;
		this.invalidate();
	}

	panBy(dxPx: number, dyPx: number): void {
		const k = this.basePx() * this.zoom;
		this.cx -= dxPx / k;
		this.cy += dyPx / k;
		this.invalidate();
	}

	resetView(): void {
		this.cx = 0;
		this.cy = 0;
		this.zoom = 1;
		this.invalidate();
	}

	/** Matches the drawing buffer to the canvas' CSS size × devicePixelRatio. */
	resize(): void {
		const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
		const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
		const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
		if (this.canvas.width !== w || this.canvas.height !== h) {
			this.canvas.width = w;
			this.canvas.height = h;
		}
		this.invalidate();
	}

	/** Asks for one draw at the next animation frame (many asks, one draw). */
	invalidate(): void {
		if (this.frame) return;
		this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.draw();
		});
	}

	draw(): void {
		const gl = this.gl;
		if (gl.isContextLost()) return;
		const mark = 'plot-draw-start';
		performance.mark(mark);
		const t0 = performance.now();
		const w = this.canvas.width, h = this.canvas.height;
		const dpr = w / Math.max(1, this.canvas.clientWidth);
		gl.viewport(0, 0, w, h);
		gl.clearColor(1, 1, 1, 1);
		gl.clear(gl.COLOR_BUFFER_BIT);
		if (this.points > 0) {
			gl.enable(gl.BLEND);
			gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA); // premultiplied
			// points grow a little when zoomed in, so a sparse region stays readable
			const grow = Math.min(3, Math.sqrt(this.zoom));
			const dense = this.points > 20000 ? 1 : this.points > 2000 ? 1.6 : 3;
			const size = Math.max(1, 2 * dense * grow * dpr), activeSize = Math.max(2, 3 * dense * grow * dpr);
			const round = activeSize >= 4.5 ? 1 : 0;
			this.prog = this.progs[round];
			this.u = this.us[round];
			gl.useProgram(this.prog);
			const k = this.basePx() * this.zoom * dpr;
			gl.uniform2f(this.u.u_center, this.cx, this.cy);
			gl.uniform2f(this.u.u_scale, (2 * k) / w, (2 * k) / h);
			gl.uniform1i(this.u.u_useRank, this.useRank ? 1 : 0);
			gl.uniform1i(this.u.u_n, this.n | 0);
			gl.uniform1i(this.u.u_byGroup, this.byGroup && this.hasState ? 1 : 0);
			gl.uniform1f(this.u.u_size, size);
			gl.uniform1f(this.u.u_activeSize, activeSize);
			// few points: inactive ones more opaque (nothing to pile up); very
			// many: fainter, so a million still show where they are dense
			this.inactiveColor[3] = Math.min(0.7, Math.max(0.1, INACTIVE[3] * Math.sqrt(100000 / Math.max(1, this.points))));
			gl.uniform4fv(this.u.u_inactive, this.inactiveColor);
			const nAct = this.useRank ? Math.min(this.n, this.points) : this.activeCount;
			const alpha = Math.min(ACTIVE[3], Math.max(0.1, ACTIVE[3] * Math.sqrt(3000 / Math.max(1, nAct))));
			this.activeColor[3] = alpha;
			gl.uniform4fv(this.u.u_active, this.activeColor);
			gl.bindVertexArray(this.vao);
			// the order that puts this draw's active points last
			const ord = this.useRank && this.hasRankOrder ? this.rankOrderBuf
				: !this.useRank && this.hasStateOrder ? this.stateOrderBuf : null;
			if (ord) {
				gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, ord);
				gl.drawElements(gl.POINTS, this.points, gl.UNSIGNED_INT, 0);
			} else {
				gl.drawArrays(gl.POINTS, 0, this.points);
			}
			gl.bindVertexArray(null);
		}
		if ((globalThis as { __sievefsPlotSync?: boolean }).__sievefsPlotSync)
			gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, this.pixel);
		this.lastDrawMs = performance.now() - t0;
		this.drawCount++;
		performance.measure('plot-draw', mark);
		performance.clearMarks(mark);
		if (this.drawCount % 500 === 0) performance.clearMeasures('plot-draw');
		// test hooks: how many draws so far, and how many points the last one drew
		this.canvas.dataset.draws = String(this.drawCount);
		this.canvas.dataset.points = String(this.points);
		// the view, so a browser test can find a point of the layout on screen:
		// CSS px from the canvas' top left = (w/2 + (x - cx)·k, h/2 - (y - cy)·k)
		this.canvas.dataset.view = `${this.cx} ${this.cy} ${this.basePx() * this.zoom}`;
	}

	destroy(): void {
		if (this.frame) cancelAnimationFrame(this.frame);
		const gl = this.gl;
		gl.deleteBuffer(this.posBuf);
		gl.deleteBuffer(this.rankBuf);
		gl.deleteBuffer(this.stateBuf);
		gl.deleteBuffer(this.rankOrderBuf);
		gl.deleteBuffer(this.stateOrderBuf);
		gl.deleteVertexArray(this.vao);
		gl.deleteProgram(this.progs[0]);
		gl.deleteProgram(this.progs[1]);
	}
}

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
	const s = gl.createShader(type)!;
	gl.shaderSource(s, src);
	gl.compileShader(s);
	if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error('plot shader: ' + gl.getShaderInfoLog(s));
	return s;
}

function link(gl: WebGL2RenderingContext, vs: string, fs: string): WebGLProgram {
	const p = gl.createProgram()!;
	gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, vs));
	gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, fs));
	// the same locations in both programs: one vertex array serves both
	gl.bindAttribLocation(p, 0, 'a_pos');
	gl.bindAttribLocation(p, 1, 'a_rank');
	gl.bindAttribLocation(p, 2, 'a_state');
	gl.linkProgram(p);
	if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error('plot program: ' + gl.getProgramInfoLog(p));
	return p;
}
