/*
 * Samples.tsx — the grid of thumbnails of the chosen tag's active samples.
 *
 * Order: the whole table sorted once per (table, sort key, direction,
 * scores) into an Int32Array of table indices (lib/order.ts); the shown
 * samples are that order filtered by `active` in O(n) into a reused buffer,
 * so a slider step or a tag change re-filters without sorting. No object is
 * made per sample: a cell reads table.path[i] and table.ino[i] when drawn.
 *
 * Virtual scrolling (@tanstack/virtual-core) over rows of as many 128-px
 * cells as the width holds: only the visible rows (plus two of overscan) are
 * in the DOM. Thumbnails are <img loading=lazy> of the server's thumbnail
 * route, alt = the path.
 *
 * Columns (issue 21: uncertainty scores, metadata, builtin.* image
 * metadata; columnsdata.ts): the ones the user chose are shown as lines
 * under each thumbnail (the row grows by a line each), and the grid sorts by
 * any of them (lib/columns.ts sortByColumn: missing values last either way).
 * Column names come from users' CSV headers: rendered as text only.
 *
 * Keyboard: the grid is one tab stop (role=grid, aria-activedescendant);
 * arrows move the focused cell, PageUp/PageDown by a screenful of rows,
 * Home/End to the first/last sample, Enter opens it.
 */
import { Component } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from '@tanstack/virtual-core';
import * as api from '../api';
import type { SampleTable } from '../api';
import { table, active, activeCount, scores, chosenTag, tags, sliderN, type DatasetPageProps } from '../state';
import { navigate } from '../router';
import { formatCount, plural } from '../format';
import { pathLabel } from '../lib/label';
import { columnsFor, filterOrder, maskIndices, moveFocus, sortIndices, type SortKey } from '../lib/order';
import { formatValue, sortByColumn, type Column } from '../lib/columns';
import { columnNames, columns, columnsError, ensureColumns, loadColumnNames, shownColumns } from '../columnsdata';
import './views.css';

const CELL_W = 136;  // 128 px thumbnail + 4 px padding each side
const CELL_H = 164;  // + the name line + borders
const GAP = 8;
const LINE_H = 16;   // one shown column's line under a thumbnail
const PAD = 8;

/** The grid's sort, kept while the user moves between pages: a SortKey, or
 * "col:NAME" for a column. */
let lastSort: { key: string; desc: boolean } = { key: 'name', desc: false };

/** The shown order of the last render, for the sample view's previous/next. */
export let shownOrder: Int32Array | null = null;


interface GridProps {
	datasetId: number;
	compact?: boolean;
	sortKey: SortKey;
	desc: boolean;
	label: string;
	/** sorts by this column instead of sortKey (loaded, in table order) */
	sortColumn?: Column | null;
	/** columns shown under each thumbnail */
	shown?: Column[];
}

/** The virtual grid itself (also shown under the sampling view's slider). */
export function SamplesGrid({ datasetId, compact = false, sortKey, desc, label, sortColumn = null, shown = [] }: GridProps) {
	const ROW_H = CELL_H + GAP + LINE_H * shown.length;
	const t = table.value;
	const a = active.value;
	const s = scores.value;
	const scrollRef = useRef<HTMLDivElement>(null);
	const [, setTick] = useState(0);
	const [width, setWidth] = useState(0);
	const [focus, setFocus] = useState(0);
	const filtered = useRef<Int32Array | null>(null);

	const sorted = useMemo(() => {
		if (!t) return null;
		if (sortColumn && sortColumn.kind === 'number' ? sortColumn.values.length === t.count
			: sortColumn ? sortColumn.codes.length === t.count : false)
			return sortByColumn(maskIndices(null, t.count), sortColumn!, desc);
		const sc = s && s.score.length === t.count ? s.score : null;
		return sortIndices(maskIndices(null, t.count), sortKey, desc, t.size, sc);
	}, [t, sortKey, desc, s, sortColumn]);

	const order = useMemo(() => {
		if (!sorted || !t) return new Int32Array(0);
		const m = a && a.length === t.count ? a : null;
		if (!filtered.current || filtered.current.length < sorted.length) filtered.current = new Int32Array(sorted.length);
		return filterOrder(sorted, m, filtered.current);
	}, [sorted, a]);
	if (!compact) shownOrder = order;

	const cols = columnsFor(width || 800, CELL_W, GAP, PAD);
	const rows = Math.ceil(order.length / cols);

	const virt = useMemo(() => new Virtualizer<HTMLDivElement, HTMLDivElement>({
		count: rows,
		getScrollElement: () => scrollRef.current,
		estimateSize: () => ROW_H,
		scrollToFn: elementScroll,
		observeElementRect,
		observeElementOffset,
		overscan: 2,
		paddingStart: PAD,
		paddingEnd: PAD,
		onChange: () => setTick((x) => x + 1),
	}), []);
	virt.setOptions({
		...virt.options,
		count: rows,
		estimateSize: () => ROW_H,
		getScrollElement: () => scrollRef.current,
		onChange: () => setTick((x) => x + 1),
	});
	// a change of the shown columns changes every row's height
	useEffect(() => { virt.measure(); }, [ROW_H]);

	useEffect(() => virt._didMount(), [virt]);
	useEffect(() => {
		virt._willUpdate();
	});

	// the width decides the columns
	useEffect(() => {
		const el = scrollRef.current!;
		const ro = new ResizeObserver(() => setWidth(el.clientWidth));
		ro.observe(el);
		setWidth(el.clientWidth);
		return () => ro.disconnect();
	}, []);

	// a new set of samples starts at the top
	useEffect(() => {
		setFocus(0);
		scrollRef.current?.scrollTo({ top: 0 });
	}, [datasetId, chosenTag.value, sortKey, desc, sortColumn]);

	const n = order.length;
	const f = Math.min(focus, Math.max(0, n - 1));

	function onKeyDown(e: KeyboardEvent) {
		if (n === 0) return;
		if (e.key === 'Enter') {
			const i = order[f];
			if (i !== undefined && t) navigate(`/datasets/${datasetId}/samples/${t.ino[i]}`);
			e.preventDefault();
			return;
		}
		const el = scrollRef.current!;
		const pageRows = Math.max(1, Math.floor(el.clientHeight / ROW_H));
		const q = moveFocus(e.key, f, n, cols, pageRows);
		if (q < 0) return;
		e.preventDefault();
		setFocus(q);
		virt.scrollToIndex(Math.floor(q / cols), { align: 'auto' });
	}

	const items = virt.getVirtualItems();
	const cellId = (pos: number) => `sg${datasetId}-${pos}`;
	const focusedRendered = items.some((it) => it.index === Math.floor(f / cols));
	return (
		<div
			ref={scrollRef}
			class={compact ? 'sgrid compact' : 'sgrid'}
			role="grid"
			aria-label={label}
			aria-rowcount={rows}
			aria-colcount={cols}
			aria-activedescendant={n > 0 && focusedRendered ? cellId(f) : undefined}
			tabIndex={0}
			onKeyDown={onKeyDown}
		>
			{n === 0 && t && (
				<p class="sgrid-empty">
					{t.count === 0 ? 'This dataset has no samples yet: upload some (Upload tab).'
						: 'No sample of the dataset is in this tag or selection.'}
				</p>
			)}
			<div class="sgrid-inner" style={{ height: `${virt.getTotalSize()}px` }} role="presentation">
				{t && items.map((row) => {
					const from = row.index * cols, to = Math.min(n, from + cols);
					return (
						<GridRow key={row.key} datasetId={datasetId} table={t} order={order} from={from} to={to}
							start={row.start} rowIndex={row.index} focus={f >= from && f < to ? f : -1}
							cellId={cellId} onOpen={setFocus} shown={shown} />
					);
				})}
			</div>
		</div>
	);
}

interface RowProps {
	datasetId: number;
	table: SampleTable;
	order: Int32Array;
	from: number;
	to: number;
	start: number;
	rowIndex: number;
	focus: number; // the focused position when it is in this row, else -1
	cellId: (pos: number) => string;
	onOpen: (pos: number) => void;
	shown: Column[];
}

/* One row of cells. Re-rendered only when what it shows changes, so a
 * scroll step renders just the rows that came into view. */
class GridRow extends Component<RowProps> {
	shouldComponentUpdate(nx: RowProps): boolean {
		const p = this.props;
		return nx.order !== p.order || nx.from !== p.from || nx.to !== p.to || nx.start !== p.start
			|| nx.focus !== p.focus || nx.table !== p.table || nx.datasetId !== p.datasetId || nx.shown !== p.shown;
	}

	render() {
		const { datasetId, table: t, order, from, to, start, rowIndex, focus, cellId, onOpen, shown } = this.props;
		const cells = [];
		for (let pos = from; pos < to; pos++) {
			const i = order[pos];
			const p = t.path[i];
			const href = `/datasets/${datasetId}/samples/${t.ino[i]}`;
			cells.push(
				<div key={i} id={cellId(pos)} role="gridcell" aria-selected={pos === focus}
					class={pos === focus ? 'sgrid-cell focused' : 'sgrid-cell'}>
					<a
						class="sgrid-link"
						href={href}
						tabIndex={-1}
						onClick={(e) => {
							if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
							e.preventDefault();
							onOpen(pos);
							navigate(href);
						}}
					>
						<img class="sgrid-thumb" src={api.thumbnailUrl(t.ino[i])} alt={p} loading="lazy" decoding="async"
							width={128} height={128} />
						<span class="sgrid-name" aria-hidden="true" title={pathLabel(p)}><bdi>{pathLabel(p)}</bdi></span>
						{shown.map((c) => (
							<span class="sgrid-col" key={c.name} title={c.name}>
								<span class="sgrid-col-name">{c.name}</span> <bdi class="sgrid-col-value">{formatValue(c, i)}</bdi>
							</span>
						))}
					</a>
				</div>,
			);
		}
		return (
			<div class="sgrid-row" role="row" aria-rowindex={rowIndex + 1} style={{ transform: `translateY(${start}px)` }}>
				{cells}
			</div>
		);
	}
}

const DIRECTION: Record<SortKey, [string, string]> = {
	name: ['A to Z (bytewise)', 'Z to A'],
	size: ['smallest first', 'largest first'],
	score: ['most important first, unscored last', 'least important first, unscored last'],
};
const COL_DIRECTION: [string, string] = ['ascending, no value last', 'descending, no value last'];
const MAX_SHOWN = 6;

function isBuiltinKey(k: string): k is SortKey {
	return k === 'name' || k === 'size' || k === 'score';
}

/** Choose which columns the grid shows (checkboxes, at most MAX_SHOWN). */
function ColumnChooser({ names }: { names: string[] }) {
	const shown = shownColumns.value;
	const toggle = (n: string, on: boolean) => {
		shownColumns.value = on ? [...shown.filter((x) => x !== n), n].slice(-MAX_SHOWN) : shown.filter((x) => x !== n);
	};
	return (
		<details class="col-chooser">
			<summary>Columns shown ({shown.length})</summary>
			<fieldset>
				<legend>Columns under each thumbnail (at most {MAX_SHOWN})</legend>
				{names.length === 0 && <p class="muted">This dataset has no columns.</p>}
				{names.map((n) => (
					<label key={n}>
						<input type="checkbox" checked={shown.includes(n)}
							onChange={(e) => toggle(n, (e.currentTarget as HTMLInputElement).checked)} />
						{' '}{n}
					</label>
				))}
			</fieldset>
		</details>
	);
}

export function SamplesPage({ datasetId }: DatasetPageProps) {
	const [sort, setSort] = useState(lastSort);
	lastSort = sort;
	const t = table.value;
	const a = active.value;
	const s = scores.value;
	const ct = chosenTag.value;
	const names = columnNames.value;
	const cols = columns.value;
	const shownNames = shownColumns.value;
	const wantCol = sort.key.startsWith('col:') ? sort.key.slice(4) : null;
	// a column whose input was removed meanwhile: name order until chosen again
	const sortCol = wantCol && (!columnNames.value || columnNames.value.includes(wantCol)) ? wantCol : null;
	useEffect(() => { void loadColumnNames(datasetId); }, [datasetId]);
	useEffect(() => {
		const want = [...shownNames, ...(sortCol ? [sortCol] : [])];
		if (want.length && names) void ensureColumns(datasetId, want);
	}, [datasetId, names, shownNames, sortCol, t?.gen]);
	const shown = useMemo(() => shownNames.map((n) => cols.get(n)).filter((c): c is Column => !!c), [shownNames, cols]);
	const sortColumn = sortCol ? cols.get(sortCol) ?? null : null;
	const tagName = ct === null ? 'the current selection' : (tags.value.find((x) => x.id === ct)?.name ?? 'the chosen tag');
	const shownN = t && a && a.length === t.count ? (activeCount.value ?? 0) : t ? t.count : 0;
	const what = sliderN.value !== null && s ? `the top ${formatCount(sliderN.value)} of run ${s.run}` : tagName;
	const baseKey: SortKey = isBuiltinKey(sort.key) ? (sort.key === 'score' && !s ? 'name' : sort.key) : 'name';
	return (
		<section aria-labelledby="samples-h">
			<h2 id="samples-h">Samples</h2>
			{!t && <p class="muted" role="status">Loading the samples…</p>}
			{t && (
				<>
					<div class="samples-bar">
						<span class="samples-count" role="status">
							{formatCount(shownN)} of {plural(t.count, 'sample')} — {what}
						</span>
						<label>
							Sort by
							<select value={sortCol || !wantCol ? sort.key : 'name'}
								onChange={(e) => setSort({ ...sort, key: (e.currentTarget as HTMLSelectElement).value })}>
								<option value="name">name</option>
								<option value="size">size</option>
								<option value="score" disabled={!s}>importance score{s ? '' : ' (no run yet)'}</option>
								{names && names.length > 0 && (
									<optgroup label="Columns">
										{names.map((n) => <option value={`col:${n}`} key={n}>{n}</option>)}
									</optgroup>
								)}
							</select>
						</label>
						<button type="button" class="small" aria-pressed={sort.desc}
							onClick={() => setSort({ ...sort, desc: !sort.desc })}>
							Reverse order
						</button>
						<span class="muted">
							{sortCol ? (sortColumn ? COL_DIRECTION[sort.desc ? 1 : 0] : 'loading the column…')
								: DIRECTION[baseKey][sort.desc ? 1 : 0]}
						</span>
						{names && <ColumnChooser names={names} />}
					</div>
					{columnsError.value && <p class="error" role="alert">{columnsError.value}</p>}
					{!a && <p class="help">The chosen tag's members could not be loaded: every sample is shown.</p>}
					<SamplesGrid datasetId={datasetId} sortKey={baseKey} sortColumn={sortColumn} shown={shown}
						desc={sort.desc} label={`Samples of ${tagName}`} />
					<p class="help">Arrow keys, Page Up/Down, Home and End move in the grid; Enter opens a sample.</p>
				</>
			)}
		</section>
	);
}
