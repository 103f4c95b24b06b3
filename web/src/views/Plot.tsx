/*
 * Plot.tsx — the embedding plot: every sample a point (WebGL 2, plot-gl.ts),
 * active ones on top in the app's accent, the rest small translucent grey
 * underneath (or coloured by the tag that holds them); zoom (wheel, + / -,
 * buttons) and pan (drag in pan mode, arrow keys); hover shows the nearest
 * point's thumbnail and path; a lasso or a box becomes the dataset's current
 * selection (PUT /v1/datasets/ID/selection, paths quoted as the selection
 * file quotes them).
 *
 * Data flow: the layout (GET layout, x,y float32 per table index, NaN = no
 * row) is uploaded once per (embedding, table gen) and indexed once by a
 * uniform grid (lib/spatial.ts) for hover and selection. The latest run's
 * ranks are uploaded once per run; the membership bytes once per change of
 * the chosen tag or selection. While the sampling slider moves (sliderN set)
 * the plot only sets a uniform: active = rank < N, one draw, no upload.
 *
 * PlotPanel is the plot with its controls, usable inside other pages
 * (the sampling view shows it under its slider); PlotPage is the tab.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSignal, useSignalEffect } from '@preact/signals';
import * as api from '../api';
import { ApiError, type Tag } from '../api';
import {
	table, active, scores, sliderN, tags, embeddings, chosenTag, activeCount, layoutStamp,
	type DatasetPageProps,
} from '../state';
import { chooseTag, reloadSelection, layoutPrefetch } from '../data';
import { errorMessage, formatCount, plural } from '../format';
import { buildGrid, inBox, inPolygon, nearest, type Grid } from '../lib/spatial';
import { selectionText } from '../lib/selection';
import { packState } from '../lib/active';
import { NoWebGL, PALETTE, PlotGL } from './plot-gl';
import './views.css';

type Mode = 'pan' | 'lasso' | 'box';

interface LayoutData {
	xy: Float32Array;
	grid: Grid | null; // built on first use (hover, lasso, box), not before the first draw
	count: number;
	gen: string;
	missing: number; // samples without a row
}

/** Tags to colour by: the live tree's tags but initial-tag, newest last, at most 8. */
function colourTags(all: Tag[]): Tag[] {
	return all.filter((t) => t.name !== 'initial-tag').slice(-PALETTE.length);
}

/** The layout's spatial index, built the first time it is asked for. */
function gridOf(l: LayoutData): Grid {
	if (!l.grid) l.grid = buildGrid(l.xy);
	return l.grid;
}

function css(c: number[]): string {
	return `rgb(${Math.round(c[0] * 255)}, ${Math.round(c[1] * 255)}, ${Math.round(c[2] * 255)})`;
}

/** The tooltip's middle, kept inside the plot (it is ~150 px tall). */
function tipTop(y: number, h: number): number {
	return h < 170 ? y : Math.min(Math.max(y, 80), h - 80);
}

/** The layout method chosen last (kept while the user moves between pages):
 * 'pca', or 'umap', the server's neighbour-preserving layout (issue 21). */
let lastMethod: LayoutMethod = 'pca';
type LayoutMethod = 'pca' | 'umap';

function layoutMessage(e: unknown, method: LayoutMethod = 'pca'): string {
	if (e instanceof ApiError) {
		if (method === 'umap' && e.status === 400 && /method/i.test(e.message))
			return `This server offers only the PCA layout (${e.message}): choose PCA.`;
		if (e.code === 'no_embedding')
			return 'This dataset has no embedding yet: run a sampling request (Sampling tab; it computes the built-in embedding) or upload a CSV to embeddings/.';
		if (e.status === 404 && (e.code === 'http_404' || /no such route/i.test(e.message)))
			return `This server cannot send plot coordinates yet (GET layout: ${e.message}).`;
		return `The plot could not be loaded: ${e.message}`;
	}
	return `The plot could not be loaded: ${String(e)}`;
}

export function PlotPanel({ datasetId, compact = false }: DatasetPageProps & { compact?: boolean }) {
	const canvasRef = useRef<HTMLCanvasElement>(null);
	const lassoRef = useRef<SVGPolylineElement>(null);
	const boxRef = useRef<SVGRectElement>(null);
	const plotRef = useRef<PlotGL | null>(null);
	const lay = useSignal<LayoutData | null>(null);
	const groups = useSignal<Uint8Array | null>(null);
	const [glError, setGlError] = useState<string | null>(null);
	const [message, setMessage] = useState<string | null>(null);
	const [embId, setEmbId] = useState<number | null>(null);
	const [method, setMethodState] = useState<LayoutMethod>(lastMethod);
	const setMethod = (m: LayoutMethod) => { lastMethod = m; setMethodState(m); };
	const [pending, setPending] = useState(false);
	const [mode, setMode] = useState<Mode>('pan');
	const [byTag, setByTag] = useState(false);
	const [hover, setHover] = useState<{ i: number; x: number; y: number } | null>(null);
	const [note, setNote] = useState<{ text: string; error: boolean } | null>(null);
	const [busy, setBusy] = useState(false);
	const modeRef = useRef<Mode>('pan');
	modeRef.current = mode;
	const stateBuf = useRef<Uint8Array | null>(null);

	// the renderer: made once per canvas
	useEffect(() => {
		const c = canvasRef.current!;
		let p: PlotGL;
		try {
			p = new PlotGL(c);
		} catch (e) {
			setGlError(e instanceof NoWebGL
				? 'This browser cannot draw the plot: it has no WebGL 2.'
				: `The plot cannot be drawn: ${String(e)}`);
			return;
		}
		plotRef.current = p;
		const ro = new ResizeObserver(() => p.resize());
		ro.observe(c);
		p.resize();
		const lost = (ev: Event) => {
			ev.preventDefault();
			setGlError('The graphics context was lost; reload the page to draw the plot again.');
		};
		c.addEventListener('webglcontextlost', lost);
		return () => {
			ro.disconnect();
			c.removeEventListener('webglcontextlost', lost);
			p.destroy();
			plotRef.current = null;
		};
	}, []);

	/* The layout: once per (dataset, embedding, table generation). It is
	 * asked for at once, without waiting for the table (the points need no
	 * paths); the table's gen, once known, must be the layout's
	 * (X-Sievefs-Gen), else it is asked for again. */
	const gen = table.value?.gen ?? '';
	const tcount = table.value?.count ?? -1;
	const stamp = layoutStamp.value; // bumps when the embeddings changed or a run finished
	const want = useRef<{ ds: number; emb: number | null; gen: string; stamp: number; method: LayoutMethod } | null>(null);
	useEffect(() => {
		const cur = want.current;
		// the same request in flight (gen '': its answer is checked against the
		// table then), or done for this table or before the table is known
		if (cur && cur.ds === datasetId && cur.emb === embId && cur.stamp === stamp && cur.method === method
			&& (cur.gen === '' || gen === '' || cur.gen === gen)) return;
		const mine = { ds: datasetId, emb: embId, gen: '', stamp, method };
		want.current = mine;
		const methodChanged = cur !== null && cur.method !== method;
		if (method === 'umap' && (!lay.value || methodChanged))
			setMessage('The server is computing the neighbour-preserving layout (UMAP); it can take a while for a large dataset…');
		else if (!lay.value || methodChanged) setMessage('Loading the plot…');
		setPending(true);
		// the frame may have started it already (first of the dataset's loads: PCA)
		const pre = embId === null && method === 'pca' ? layoutPrefetch.take(datasetId) : null;
		(pre ?? api.layout(datasetId, embId ?? undefined, method === 'pca' ? undefined : method)).then((l) => {
			if (want.current !== mine) return;
			setPending(false);
			const n = l.xy.length >> 1;
			const t = table.value;
			mine.gen = l.gen || gen;
			if (t && (n !== t.count || (l.gen && l.gen !== t.gen))) {
				// made for another version of the table: asked again when the table follows
				mine.gen = `stale:${l.gen}`;
				setMessage('The samples changed while the plot loaded; it follows in a moment.');
				return;
			}
			let missing = 0;
			for (let i = 0; i < l.xy.length; i += 2) if (l.xy[i] !== l.xy[i]) missing++;
			// positions to the GPU first; the hover/lasso index waits for its first use
			plotRef.current?.setPositions(l.xy);
			lay.value = { xy: l.xy, grid: null, count: n, gen: mine.gen, missing };
			setMessage(null);
		}).catch((e) => {
			if (want.current !== mine) return;
			setPending(false);
			mine.gen = 'failed';
			lay.value = null;
			plotRef.current?.setPositions(new Float32Array(0));
			setMessage(layoutMessage(e, method));
		});
	}, [datasetId, embId, gen, stamp, method]);
	const count = lay.value?.count ?? tcount;

	// ranks of the latest run: once per run (and per layout)
	useSignalEffect(() => {
		const s = scores.value, l = lay.value, p = plotRef.current;
		if (!p || !l) return;
		p.setRank(s && s.rank.length === l.count ? s.rank : null);
	});

	// colour groups: the members of each tag but initial-tag, fetched when asked for
	useEffect(() => {
		if (!byTag || count < 0) {
			groups.value = null;
			return;
		}
		let stale = false;
		const list = colourTags(tags.value);
		Promise.all(list.map((t) => api.members(datasetId, t.id))).then((ms) => {
			if (stale) return;
			const g = new Uint8Array(count);
			ms.forEach((m, k) => {
				if (m.bytes.length !== count) return;
				for (let i = 0; i < count; i++) if (m.bytes[i]) g[i] = k + 1; // the newest tag wins
			});
			groups.value = g;
		}).catch((e) => {
			if (!stale) setNote({ text: `Colouring by tag failed: ${errorMessage(e)}`, error: true });
		});
		return () => { stale = true; };
	}, [byTag, datasetId, tags.value, count]);

	// membership bytes: uploaded when the chosen tag / selection / colouring
	// changes — not while the slider moves (then a uniform does it)
	useSignalEffect(() => {
		const p = plotRef.current, l = lay.value, a = active.value, g = groups.value;
		const moving = sliderN.value !== null && scores.value !== null;
		if (!p || !l) return;
		p.setByGroup(g !== null);
		if (moving) return;
		if (!stateBuf.current || stateBuf.current.length !== l.count) stateBuf.current = new Uint8Array(l.count);
		const s = stateBuf.current;
		const c = packState(a, g, s);
		p.setActiveCount(c);
		p.setState(s);
	});

	// the slider: one uniform per step
	useSignalEffect(() => {
		const p = plotRef.current, n = sliderN.value, l = lay.value;
		if (!p || !l) return;
		p.setSlider(scores.value ? n : null);
	});

	// wheel zoom (not passive: the page must not scroll meanwhile)
	useEffect(() => {
		const c = canvasRef.current!;
		const wheel = (e: WheelEvent) => {
			const p = plotRef.current;
			if (!p) return;
			e.preventDefault();
			const r = c.getBoundingClientRect();
			p.zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)));
			setHover(null);
		};
		c.addEventListener('wheel', wheel, { passive: false });
		return () => c.removeEventListener('wheel', wheel);
	}, []);

	// pointer: pan, lasso, box, hover
	const drag = useRef<{ id: number; x: number; y: number; pts: number[] } | null>(null);
	const hoverFrame = useRef(0);
	const local = (e: PointerEvent): [number, number] => {
		const r = canvasRef.current!.getBoundingClientRect();
		return [e.clientX - r.left, e.clientY - r.top];
	};

	function onPointerDown(e: PointerEvent) {
		if (e.button !== 0 || !plotRef.current) return;
		const [x, y] = local(e);
		canvasRef.current!.setPointerCapture(e.pointerId);
		drag.current = { id: e.pointerId, x, y, pts: [x, y] };
		setHover(null);
		e.preventDefault();
	}

	function onPointerMove(e: PointerEvent) {
		const p = plotRef.current;
		if (!p) return;
		const [x, y] = local(e);
		const d = drag.current;
		if (d && d.id === e.pointerId) {
			const m = modeRef.current;
			if (m === 'pan') {
				p.panBy(x - d.x, y - d.y);
				d.x = x;
				d.y = y;
			} else if (m === 'lasso') {
				const lx = d.pts[d.pts.length - 2], ly = d.pts[d.pts.length - 1];
				if ((x - lx) ** 2 + (y - ly) ** 2 >= 9) {
					d.pts.push(x, y);
					lassoRef.current?.setAttribute('points', d.pts.join(' '));
				}
			} else {
				const r = boxRef.current;
				if (r) {
					r.setAttribute('x', String(Math.min(d.x, x)));
					r.setAttribute('y', String(Math.min(d.y, y)));
					r.setAttribute('width', String(Math.abs(x - d.x)));
					r.setAttribute('height', String(Math.abs(y - d.y)));
				}
				d.pts = [d.x, d.y, x, y];
			}
			return;
		}
		// hover: the nearest point within 12 px, once per frame
		if (hoverFrame.current) cancelAnimationFrame(hoverFrame.current);
		hoverFrame.current = requestAnimationFrame(() => {
			hoverFrame.current = 0;
			const l = lay.value;
			if (!l) return;
			const [dx, dy] = p.toData(x, y);
			const radius = 12 / (p.basePx() * p.zoom);
			const i = nearest(gridOf(l), dx, dy, radius);
			if (i < 0) {
				setHover(null);
				return;
			}
			const [sx, sy] = p.toScreen(l.xy[2 * i], l.xy[2 * i + 1]);
			setHover({ i, x: sx, y: sy });
		});
	}

	function clearShapes() {
		lassoRef.current?.setAttribute('points', '');
		const r = boxRef.current;
		if (r) {
			r.setAttribute('width', '0');
			r.setAttribute('height', '0');
		}
	}

	async function onPointerUp(e: PointerEvent) {
		const d = drag.current;
		if (!d || d.id !== e.pointerId) return;
		drag.current = null;
		const m = modeRef.current;
		if (m === 'pan') return;
		const p = plotRef.current, l = lay.value;
		clearShapes();
		if (!p || !l) return;
		let idx: Int32Array;
		if (m === 'lasso') {
			if (d.pts.length < 6) return;
			const poly = new Float64Array(d.pts.length);
			for (let k = 0; k < d.pts.length; k += 2) {
				const [x, y] = p.toData(d.pts[k], d.pts[k + 1]);
				poly[k] = x;
				poly[k + 1] = y;
			}
			idx = inPolygon(gridOf(l), poly);
		} else {
			if (d.pts.length < 4) return;
			const [ax, ay] = p.toData(d.pts[0], d.pts[1]);
			const [bx, by] = p.toData(d.pts[2], d.pts[3]);
			idx = inBox(gridOf(l), ax, ay, bx, by);
		}
		await selectPoints(idx, m);
	}

	async function selectPoints(idx: Int32Array, how: Mode) {
		const t = table.value, l = lay.value;
		if (!t) return;
		if (!l || l.count !== t.count || (l.gen !== '' && l.gen !== t.gen)) {
			setNote({ text: 'The samples changed since the plot was drawn; try again in a moment.', error: true });
			return;
		}
		if (idx.length === 0) {
			setNote({ text: `No point inside the ${how === 'box' ? 'box' : 'lasso'}: the selection is unchanged.`, error: false });
			return;
		}
		setBusy(true);
		try {
			await api.selectionPut(datasetId, selectionText(t.path, idx));
			await reloadSelection();
			if (chosenTag.value !== null) await chooseTag(null);
			setNote({
				text: `The selection is now the ${plural(idx.length, 'sample')} in the ${how === 'box' ? 'box' : 'lasso'}. Freeze it as a tag in the tag menu.`,
				error: false,
			});
		} catch (e) {
			setNote({ text: `The selection could not be set: ${errorMessage(e)}`, error: true });
		} finally {
			setBusy(false);
		}
	}

	function onKeyDown(e: KeyboardEvent) {
		const p = plotRef.current;
		if (!p) return;
		const step = 40;
		switch (e.key) {
			case 'ArrowLeft': p.panBy(step, 0); break;
			case 'ArrowRight': p.panBy(-step, 0); break;
			case 'ArrowUp': p.panBy(0, step); break;
			case 'ArrowDown': p.panBy(0, -step); break;
			case '+': case '=': p.zoomAt(p.canvas.clientWidth / 2, p.canvas.clientHeight / 2, 1.25); break;
			case '-': case '_': p.zoomAt(p.canvas.clientWidth / 2, p.canvas.clientHeight / 2, 0.8); break;
			case '0': p.resetView(); break;
			case 'Escape': drag.current = null; clearShapes(); break;
			default: return;
		}
		setHover(null);
		e.preventDefault();
	}

	const zoomBy = (f: number) => {
		const p = plotRef.current;
		if (!p) return;
		p.zoomAt(p.canvas.clientWidth / 2, p.canvas.clientHeight / 2, f);
		setHover(null);
	};

	const t = table.value;
	const l = lay.value;
	const nAct = activeCount.value;
	const embs = embeddings.value;
	const legendTags = byTag ? colourTags(tags.value) : [];
	const label = l
		? `Embedding plot of ${plural(l.count - l.missing, 'sample')}, ${nAct === null ? 'none' : formatCount(nAct)} active. `
			+ 'Arrow keys pan, plus and minus zoom, 0 resets.'
		: 'Embedding plot (no coordinates loaded)';
	const hp = hover && t && hover.i < t.count ? hover : null;

	return (
		<div class={compact ? 'plot-panel compact' : 'plot-panel'}>
			<div class="plot-toolbar" role="toolbar" aria-label="Plot controls">
				<div class="plot-modes" role="group" aria-label="Drag mode">
					{(['pan', 'lasso', 'box'] as Mode[]).map((m) => (
						<button type="button" class="small" aria-pressed={mode === m} onClick={() => setMode(m)} key={m}>
							{m === 'pan' ? 'Pan' : m === 'lasso' ? 'Lasso' : 'Box'}
						</button>
					))}
				</div>
				<button type="button" class="small" aria-label="Zoom in" onClick={() => zoomBy(1.5)}>+</button>
				<button type="button" class="small" aria-label="Zoom out" onClick={() => zoomBy(1 / 1.5)}>−</button>
				<button type="button" class="small" onClick={() => { plotRef.current?.resetView(); setHover(null); }}>Reset zoom</button>
				<label class="plot-check">
					<input type="checkbox" checked={byTag} onChange={(e) => setByTag((e.currentTarget as HTMLInputElement).checked)} />
					Colour by tag
				</label>
				<label class="plot-emb">
					Layout
					<select value={method} aria-busy={pending}
						onChange={(e) => setMethod((e.currentTarget as HTMLSelectElement).value as LayoutMethod)}>
						<option value="pca">PCA</option>
						<option value="umap">UMAP (keeps neighbours)</option>
					</select>
				</label>
				{pending && <span class="muted plot-pending" role="status">{method === 'umap' ? 'Computing the layout…' : 'Loading…'}</span>}
				{!compact && embs.length > 1 && (
					<label class="plot-emb">
						Embedding
						<select value={embId === null ? '' : String(embId)}
							onChange={(e) => { const v = (e.currentTarget as HTMLSelectElement).value; setEmbId(v ? Number(v) : null); }}>
							<option value="">newest</option>
							{embs.map((em) => <option value={String(em.id)} key={em.id}>{em.name}</option>)}
						</select>
					</label>
				)}
			</div>
			<div class="plot-wrap">
				<canvas
					ref={canvasRef}
					class={`plot-canvas mode-${mode}`}
					data-testid="plot"
					role="img"
					aria-label={label}
					tabIndex={0}
					onPointerDown={onPointerDown}
					onPointerMove={onPointerMove}
					onPointerUp={(e) => void onPointerUp(e)}
					onPointerCancel={() => { drag.current = null; clearShapes(); }}
					onPointerLeave={() => { if (!drag.current) setHover(null); }}
					onKeyDown={onKeyDown}
				/>
				<svg class="plot-overlay" aria-hidden="true">
					<polyline ref={lassoRef} class="plot-lasso" points="" />
					<rect ref={boxRef} class="plot-box" x="0" y="0" width="0" height="0" />
				</svg>
				{hp && t && (
					<>
						<div class="plot-ring" style={{ left: `${hp.x}px`, top: `${hp.y}px` }} />
						<div class={`plot-tip${hp.x > (canvasRef.current?.clientWidth ?? 0) - 220 ? ' left' : ''}`} role="tooltip"
							style={{ left: `${hp.x}px`, top: `${tipTop(hp.y, canvasRef.current?.clientHeight ?? 0)}px` }}>
							<img src={api.thumbnailUrl(t.ino[hp.i])} alt="" width={96} height={96} />
							<span class="plot-tip-path">{t.path[hp.i]}</span>
						</div>
					</>
				)}
				{(message || glError) && (
					<p class="plot-message" role="status">
						{glError ?? (t && t.count === 0 ? 'This dataset has no samples yet: upload some (Upload tab), then run a sampling request.' : message)}
					</p>
				)}
			</div>
			<div class="plot-legend" aria-label="Legend">
				{l && !byTag && (
					<>
						<span class="swatch-item"><span class="swatch active" />active{nAct !== null ? ` (${formatCount(nAct)})` : ''}</span>
						<span class="swatch-item"><span class="swatch inactive" />inactive</span>
					</>
				)}
				{byTag && legendTags.map((tg, k) => (
					<span class="swatch-item" key={tg.id}>
						<span class="swatch" style={{ background: css(PALETTE[k]) }} />{tg.name}
					</span>
				))}
				{l && byTag && <span class="swatch-item"><span class="swatch active" />active, in none of these tags</span>}
				{byTag && legendTags.length === 0 && <span class="muted">No tags but initial-tag yet.</span>}
				{l && l.missing > 0 && <span class="muted">{formatCount(l.missing)} without a row in the embedding (not drawn)</span>}
				{busy && <span class="muted" role="status">Setting the selection…</span>}
			</div>
			{note && <p class={note.error ? 'error' : 'status'} role={note.error ? 'alert' : 'status'}>{note.text}</p>}
		</div>
	);
}

export function PlotPage(props: DatasetPageProps) {
	return (
		<section class="plot-page" aria-labelledby="plot-h">
			<h2 id="plot-h">Embedding plot</h2>
			<p class="help">
				Every sample is a point: the embedding laid out in 2-D by PCA, or by a neighbour-preserving layout (UMAP:
				near samples stay near; choose it under Layout). Hover a point to see it; drag with Lasso or Box to make
				those samples the current selection.
			</p>
			<PlotPanel datasetId={props.datasetId} />
		</section>
	);
}
