/*
 * Analyze.tsx — Analyze & Filter (issue 21 item 6, as the original lightly
 * platform has it): per column of the dataset (columnsdata.ts: uncertainty
 * scores, metadata, builtin.* image metadata) a histogram of the samples of
 * the chosen tag or selection (`active`), or counts per category; a range
 * per numeric column (typed into two labelled fields, or dragged across the
 * histogram) and a set of categories per categorical one; the count passing
 * every filter, live; and a button that makes those samples the selection
 * through PUT /v1/datasets/ID/selection (the lasso's way), so the tag menu's
 * freeze or a `mkdir` in a mount keeps them as a tag.
 *
 * Data flow: columns load once per table gen; the pass mask (lib/columns.ts
 * applyFilters) is recomputed in O(n · filters) on each change into a reused
 * buffer. Each histogram draws two bar sets over the same bins: every sample
 * of the tag (grey) and those passing all filters (coloured).
 *
 * Names and category values come from users' CSV files: rendered as text
 * only. The SVG histograms are aria-hidden; what they say is in the text
 * beside them (range, counts) and every filter is a labelled control.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { table, active, chosenTag, tags, type DatasetPageProps } from '../state';
import { chooseTag, reloadSelection } from '../data';
import { errorMessage, formatCount, plural } from '../format';
import { selectionText } from '../lib/selection';
import {
	applyFilters, binOf, categoryCounts, filterActive, formatNumber, histogram,
	type CategoryColumn, type Filter, type NumberColumn,
} from '../lib/columns';
import { columnNames, columns, columnsError, columnsPending, ensureColumns, filters, loadColumnNames } from '../columnsdata';
import './views.css';

const BINS = 30;
const HIST_W = 300;
const HIST_H = 80;
const MAX_CATS = 40;
/** Columns shown at most: what the server gives in one ask. */
const MAX_COLS = 64;

/** The columns shown, in the server's order: every builtin.* one (a few,
 * listed last) and the others up to MAX_COLS in all, so a model of many
 * classes does not push the image metadata out; and how many are left out. */
function pickColumns(names: string[]): { shown: string[]; left: number } {
	const builtin = names.filter((n) => n.startsWith('builtin.')).slice(0, MAX_COLS);
	const others = names.filter((n) => !n.startsWith('builtin.')).slice(0, MAX_COLS - builtin.length);
	const keep = new Set([...others, ...builtin]);
	return { shown: names.filter((n) => keep.has(n)), left: names.length - keep.size };
}

function setFilter(name: string, f: Filter | null): void {
	const m = new Map(filters.value);
	if (f && filterActive(f)) m.set(name, f);
	else m.delete(name);
	filters.value = m;
}

/** Counts per bin of [lo, hi] of the samples of mask. */
function binCounts(values: Float64Array, mask: Uint8Array | null, lo: number, hi: number, nb: number): number[] {
	const out = new Array<number>(nb).fill(0);
	const w = (hi - lo) / nb;
	for (let i = 0; i < values.length; i++) {
		if (mask && !mask[i]) continue;
		const v = values[i];
		if (v !== v) continue;
		out[binOf(v, lo, w, nb)]++;
	}
	return out;
}

function parseEnd(s: string): number | null {
	const t = s.trim();
	if (t === '') return null;
	const v = Number(t.replace('−', '-'));
	return Number.isFinite(v) ? v : null;
}

interface NumProps {
	col: NumberColumn;
	mask: Uint8Array | null;
	pass: Uint8Array | null;
	idBase: string;
	/** the server is still computing values of this column (builtin.*) */
	pending: boolean;
}

function NumberFilter({ col, mask, pass, idBase, pending }: NumProps) {
	const h = useMemo(() => histogram(col.values, mask, BINS), [col, mask]);
	const passed = useMemo(() => (h.counts.length && pass ? binCounts(col.values, pass, h.lo, h.hi, h.counts.length) : null),
		[col, pass, h]);
	const f = filters.value.get(col.name);
	const range = f && f.kind === 'range' ? f : { kind: 'range' as const, lo: null, hi: null };
	const [loText, setLoText] = useState(range.lo === null ? '' : String(range.lo));
	const [hiText, setHiText] = useState(range.hi === null ? '' : String(range.hi));
	useEffect(() => { setLoText(range.lo === null ? '' : String(range.lo)); }, [range.lo]);
	useEffect(() => { setHiText(range.hi === null ? '' : String(range.hi)); }, [range.hi]);
	const drag = useRef<{ x0: number } | null>(null);
	const [dragBox, setDragBox] = useState<[number, number] | null>(null);
	const nb = h.counts.length;
	const max = Math.max(1, ...h.counts);
	const span = h.hi - h.lo;
	const xOf = (v: number) => (span > 0 ? ((v - h.lo) / span) * HIST_W : HIST_W / 2);
	const vOf = (x: number) => h.lo + (Math.min(Math.max(x, 0), HIST_W) / HIST_W) * span;

	function localX(e: PointerEvent): number {
		const r = (e.currentTarget as SVGElement).getBoundingClientRect();
		return ((e.clientX - r.left) / r.width) * HIST_W;
	}
	function onDown(e: PointerEvent) {
		if (nb === 0 || !(span > 0)) return;
		(e.currentTarget as SVGElement).setPointerCapture(e.pointerId);
		const x = localX(e);
		drag.current = { x0: x };
		setDragBox([x, x]);
	}
	function onMove(e: PointerEvent) {
		if (!drag.current) return;
		setDragBox([drag.current.x0, localX(e)]);
	}
	function onUp(e: PointerEvent) {
		const d = drag.current;
		drag.current = null;
		setDragBox(null);
		if (!d) return;
		const x1 = localX(e);
		if (Math.abs(x1 - d.x0) < 3) return; // a click, not a drag
		// the ends snap outwards to bin edges: the bins the drag touched are
		// kept whole (a drag to the right end keeps the largest value)
		const bw = HIST_W / nb;
		const b0 = Math.max(0, Math.floor(Math.min(d.x0, x1) / bw));
		const b1 = Math.min(nb, Math.ceil(Math.max(d.x0, x1) / bw));
		const a = b0 === 0 ? h.lo : vOf(b0 * bw), b = b1 === nb ? h.hi : vOf(b1 * bw);
		setFilter(col.name, { kind: 'range', lo: Number(a.toPrecision(6)), hi: Number(b.toPrecision(6)) });
	}

	const commit = (lo: string, hi: string) => setFilter(col.name, { kind: 'range', lo: parseEnd(lo), hi: parseEnd(hi) });
	const sel = dragBox ?? (range.lo !== null || range.hi !== null
		? [range.lo === null ? 0 : xOf(range.lo), range.hi === null ? HIST_W : xOf(range.hi)] : null);
	return (
		<div class="an-body">
			{nb === 0 ? <p class="muted">{pending ? 'Being computed: the values fill in as the server has them.'
				: 'None of these samples has a value.'}</p> : (
				<svg class="an-hist" viewBox={`0 0 ${HIST_W} ${HIST_H}`} width={HIST_W} height={HIST_H} aria-hidden="true"
					onPointerDown={onDown} onPointerMove={onMove} onPointerUp={onUp}
					onPointerCancel={() => { drag.current = null; setDragBox(null); }}>
					{h.counts.map((c, k) => {
						const bw = HIST_W / nb, bh = (c / max) * (HIST_H - 2);
						const ph = passed ? (passed[k] / max) * (HIST_H - 2) : bh;
						return (
							<g key={k}>
								<rect class="an-bar-all" x={k * bw + 0.5} y={HIST_H - bh} width={Math.max(1, bw - 1)} height={bh} />
								<rect class="an-bar-pass" x={k * bw + 0.5} y={HIST_H - ph} width={Math.max(1, bw - 1)} height={ph} />
							</g>
						);
					})}
					{sel && <rect class="an-range" x={Math.min(sel[0], sel[1])} y={0}
						width={Math.max(1, Math.abs(sel[1] - sel[0]))} height={HIST_H} />}
				</svg>
			)}
			<p class="an-axis muted">
				{nb > 0 ? (h.min === h.max ? <>every value is {formatNumber(h.min)}</> : <>{formatNumber(h.min)} to {formatNumber(h.max)}</>) : null}
				{h.missing > 0 && <>{nb > 0 ? ' · ' : ''}{plural(h.missing, 'sample')} without a value</>}
			</p>
			<div class="an-range-fields">
				<label>
					From
					<input id={`${idBase}-lo`} type="text" inputMode="decimal" size={9} value={loText}
						aria-label={`Minimum of ${col.name}`}
						onInput={(e) => setLoText((e.currentTarget as HTMLInputElement).value)}
						onChange={(e) => commit((e.currentTarget as HTMLInputElement).value, hiText)} />
				</label>
				<label>
					to
					<input id={`${idBase}-hi`} type="text" inputMode="decimal" size={9} value={hiText}
						aria-label={`Maximum of ${col.name}`}
						onInput={(e) => setHiText((e.currentTarget as HTMLInputElement).value)}
						onChange={(e) => commit(loText, (e.currentTarget as HTMLInputElement).value)} />
				</label>
				{(range.lo !== null || range.hi !== null) && (
					<button type="button" class="small" onClick={() => setFilter(col.name, null)}
						aria-label={`Clear the range of ${col.name}`}>Clear</button>
				)}
			</div>
		</div>
	);
}

interface CatProps {
	col: CategoryColumn;
	mask: Uint8Array | null;
	pass: Uint8Array | null;
}

function CategoryFilter({ col, mask, pass }: CatProps) {
	const all = useMemo(() => categoryCounts(col, mask), [col, mask]);
	const passed = useMemo(() => (pass ? categoryCounts(col, pass) : null), [col, pass]);
	const f = filters.value.get(col.name);
	const chosen = f && f.kind === 'cats' ? f.cats : null;
	const order = useMemo(() => all.counts.map((_, k) => k).sort((a, b) => all.counts[b] - all.counts[a] || a - b),
		[all]);
	const max = Math.max(1, ...all.counts);
	const toggle = (k: number, on: boolean) => {
		const s = new Set(chosen ?? []);
		if (on) s.add(k);
		else s.delete(k);
		setFilter(col.name, s.size ? { kind: 'cats', cats: s } : null);
	};
	return (
		<div class="an-body">
			<ul class="an-cats">
				{order.slice(0, MAX_CATS).map((k) => (
					<li key={k}>
						<label>
							<input type="checkbox" checked={chosen?.has(k) ?? false}
								onChange={(e) => toggle(k, (e.currentTarget as HTMLInputElement).checked)} />
							{' '}<bdi>{col.categories[k]}</bdi>
							<span class="muted"> {formatCount(all.counts[k])}{passed ? ` (${formatCount(passed.counts[k])} pass)` : ''}</span>
						</label>
						<span class="an-cat-bar" aria-hidden="true" style={{ width: `${(all.counts[k] / max) * 8}rem` }} />
					</li>
				))}
			</ul>
			{order.length > MAX_CATS && <p class="muted">and {plural(order.length - MAX_CATS, 'more category', 'more categories')}</p>}
			{all.missing > 0 && <p class="muted">{plural(all.missing, 'sample')} without a value</p>}
			{chosen && (
				<button type="button" class="small" onClick={() => setFilter(col.name, null)}
					aria-label={`Clear the categories of ${col.name}`}>Clear</button>
			)}
		</div>
	);
}

export function AnalyzePage({ datasetId }: DatasetPageProps) {
	const t = table.value;
	const a = active.value;
	const names = columnNames.value;
	const cols = columns.value;
	const fs = filters.value;
	const [note, setNote] = useState<{ text: string; error: boolean } | null>(null);
	const [busy, setBusy] = useState(false);

	useEffect(() => { void loadColumnNames(datasetId); }, [datasetId]);
	const { shown, left } = useMemo(() => pickColumns(names ?? []), [names]);
	useEffect(() => {
		if (!shown.length) return;
		// builtin.* asked apart: while the server computes them (pending) they
		// are asked again alone, and their ETag does not move with the others
		const builtin = shown.filter((n) => n.startsWith('builtin.'));
		void ensureColumns(datasetId, shown.filter((n) => !n.startsWith('builtin.')));
		if (builtin.length) void ensureColumns(datasetId, builtin);
	}, [datasetId, shown, t?.gen]);

	const mask = t && a && a.length === t.count ? a : null;
	const anyFilter = [...fs.values()].some(filterActive);
	const { pass, count } = useMemo(() => {
		if (!t) return { pass: null, count: 0 };
		const out = new Uint8Array(t.count); // a new array per change: memos below see it
		const c = applyFilters(t.count, mask, cols, fs, out);
		return { pass: out, count: c };
	}, [t, mask, cols, fs]);
	const total = mask ? mask.reduce((s, x) => s + x, 0) : t ? t.count : 0;
	const ct = chosenTag.value;
	const tagName = ct === null ? 'the current selection' : (tags.value.find((x) => x.id === ct)?.name ?? 'the chosen tag');

	async function makeSelection() {
		const tt = table.value;
		if (!tt || !pass || pass.length !== tt.count) {
			setNote({ text: 'The samples changed meanwhile; try again in a moment.', error: true });
			return;
		}
		const idx: number[] = [];
		for (let i = 0; i < pass.length; i++) if (pass[i]) idx.push(i);
		if (idx.length === 0) {
			setNote({ text: 'No sample passes the filters: the selection is unchanged.', error: false });
			return;
		}
		setBusy(true);
		try {
			await api.selectionPut(datasetId, selectionText(tt.path, idx));
			filters.value = new Map();
			await reloadSelection();
			if (chosenTag.value !== null) await chooseTag(null);
			setNote({
				text: `The selection is now the ${plural(idx.length, 'sample')} that passed the filters. Freeze it as a tag in the tag menu.`,
				error: false,
			});
		} catch (e) {
			setNote({ text: `The selection could not be set: ${errorMessage(e)}`, error: true });
		} finally {
			setBusy(false);
		}
	}

	return (
		<section aria-labelledby="analyze-h" class="analyze">
			<h2 id="analyze-h">Analyze &amp; Filter</h2>
			<p class="help">
				The distribution of every column over {tagName}: predictions' uncertainty scores, metadata and the
				built-in image metadata. Drag across a histogram or type a range, tick categories; then make the samples
				that pass every filter the current selection.
			</p>
			<div class="an-bar">
				<span role="status" aria-live="polite" class="an-count">
					{t ? <>{formatCount(count)} of {plural(total, 'sample')} pass{anyFilter ? ' the filters' : ' (no filter set)'}</> : 'Loading…'}
				</span>
				<button type="button" disabled={!t || busy || !anyFilter || count === 0} onClick={() => void makeSelection()}>
					Make these {formatCount(count)} samples the selection
				</button>
				{anyFilter && <button type="button" class="small" onClick={() => { filters.value = new Map(); }}>Clear all filters</button>}
			</div>
			{note && <p class={note.error ? 'error' : 'status'} role={note.error ? 'alert' : 'status'}>{note.text}</p>}
			{columnsError.value && <p class="error" role="alert">{columnsError.value}</p>}
			{columnsPending.value > 0 && (
				<p class="muted" role="status">
					The built-in image metadata of {columnsPending.value.toLocaleString()} samples is still being
					computed; their values fill in as it is.
				</p>
			)}
			{!names && !columnsError.value && <p class="muted" role="status">Loading the columns…</p>}
			{names && names.length === 0 && <p class="muted">This dataset has no columns.</p>}
			{left > 0 && (
				<p class="muted">
					{plural(left, 'more column')} not shown (at most {MAX_COLS}): sort the Samples grid by one of them, or
					choose it under Columns shown there.
				</p>
			)}
			<div class="an-grid">
				{shown.map((n, k) => {
					const c = cols.get(n);
					const hid = `an-${datasetId}-${k}`;
					return (
						<section class="an-col" key={n} aria-labelledby={hid}>
							<h3 id={hid} class="an-name" title={n}><bdi>{n}</bdi>
								{filterActive(fs.get(n)) && <span class="an-on"> (filtered)</span>}</h3>
							{!c ? <p class="muted">Loading…</p>
								: c.kind === 'number' ? <NumberFilter col={c} mask={mask} pass={anyFilter ? pass : null} idBase={hid}
									pending={columnsPending.value > 0 && n.startsWith('builtin.')} />
									: <CategoryFilter col={c} mask={mask} pass={anyFilter ? pass : null} />}
						</section>
					);
				})}
			</div>
		</section>
	);
}
