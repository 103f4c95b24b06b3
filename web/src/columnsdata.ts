/* columnsdata.ts — the open dataset's per-sample columns (GET
 * /v1/datasets/ID/columns), shared by the Samples grid (shown columns, sort)
 * and Analyze & Filter, and the filters the user set there.
 *
 * The names are loaded once per dataset and page visit (loadColumnNames);
 * values per column on demand (ensureColumns), in table order, and asked for
 * again (revalidated by ETag) when the table's gen moved. Answers for another
 * dataset or an older table are dropped. Every array a signal holds is
 * replaced, never mutated. A column name comes from a user's CSV header:
 * views render it as text only. */
import { signal } from '@preact/signals';
import * as api from './api';
import { ApiError } from './api';
import { table } from './state';
import { decodeColumn, type Column, type Filter } from './lib/columns';

/** The dataset's column names (null until loaded). */
export const columnNames = signal<string[] | null>(null);
/** Loaded columns by name, for the table of gen `columnsGen`. */
export const columns = signal<ReadonlyMap<string, Column>>(new Map());
/** Why the columns could not be loaded (null: fine). */
export const columnsError = signal<string | null>(null);
/** The columns the grid shows under each thumbnail (names). */
export const shownColumns = signal<string[]>([]);
/** Analyze & Filter's filters by column name. */
export const filters = signal<ReadonlyMap<string, Filter>>(new Map());
/** Samples whose builtin.* values the server is still computing (0: none):
 * such columns are shown as far as computed and asked for again. */
export const columnsPending = signal(0);

/** How long to wait before asking again for values still being computed:
 * 3 s, or PENDING_BUSY times as long as the last ask took. While values are
 * pending the server reads them anew at every ask (nothing is kept until all
 * are there; a tree walk and a cache read a sample, and the builtin.csv that
 * kicks the filler): about 0.08 s for 10,000 samples, so at a million a page
 * asking every 3 s would keep a CPU busy beside the filler computing them. */
const PENDING_RETRY_MS = 3000;
const PENDING_BUSY = 4;

let ds = 0;
let gen = '';
const inflight = new Map<string, Promise<void>>();
const etags = new Map<string, string>();
/** Loaded columns whose values were partly pending: asked for again. */
const partial = new Set<string>();

function reset(id: number): void {
	ds = id;
	gen = '';
	columnNames.value = null;
	columns.value = new Map();
	columnsError.value = null;
	shownColumns.value = [];
	filters.value = new Map();
	inflight.clear();
	etags.clear();
	partial.clear();
	columnsPending.value = 0;
}

function why(e: unknown): string {
	return e instanceof ApiError ? e.message : String(e);
}

/** Loads the names of dataset id's columns (again: inputs may have come). */
export async function loadColumnNames(id: number): Promise<void> {
	if (id !== ds) reset(id);
	try {
		const names = await api.columnList(id);
		if (id !== ds) return;
		columnNames.value = names;
		columnsError.value = null;
	} catch (e) {
		if (id !== ds) return;
		columnsError.value = `The columns could not be loaded: ${why(e)}`;
	}
}

/** Makes sure the named columns are loaded for the current table. */
export async function ensureColumns(id: number, want: string[]): Promise<void> {
	if (id !== ds) reset(id);
	const t = table.value;
	const names = columnNames.value;
	if (!t || !names) return;
	if (t.gen !== gen) {
		gen = t.gen;
		columns.value = new Map();
	}
	const have = columns.value;
	const idx: number[] = [];
	for (const w of want) {
		const k = names.indexOf(w);
		if (k >= 0 && (!have.has(w) || partial.has(w)) && !inflight.has(`${gen}\u0000${w}`)) idx.push(k);
	}
	if (idx.length === 0) {
		await Promise.all(want.map((w) => inflight.get(`${gen}\u0000${w}`)).filter(Boolean));
		return;
	}
	const myGen = gen;
	const key = idx.join(',');
	const asked = idx.map((k) => names[k]);
	let took = 0;
	const askAgain = () => setTimeout(() => {
		if (id === ds) void ensureColumns(id, asked);
	}, Math.max(PENDING_RETRY_MS, PENDING_BUSY * took));
	const p = (async () => {
		try {
			const t0 = Date.now();
			const a = await api.columnValues(id, idx, etags.get(key));
			took = Date.now() - t0;
			if (id !== ds || myGen !== gen) return;
			// 304: nothing computed since the last ask (the filler may be busy
			// with another tree or a large image); still pending, so ask again
			if (!a) {
				if (asked.some((w) => partial.has(w))) askAgain();
				return;
			}
			if (a.gen !== myGen || a.count !== t.count) return; // another table: asked again when it follows
			etags.set(key, a.etag);
			const m = new Map(columns.value);
			for (const cj of a.columns) m.set(String(cj.name), decodeColumn(cj));
			columns.value = m;
			columnsError.value = null;
			if (a.pending > 0) {
				for (const w of asked) partial.add(w);
				columnsPending.value = a.pending;
				askAgain();
			} else {
				for (const w of asked) partial.delete(w);
				if (partial.size === 0) columnsPending.value = 0;
			}
		} catch (e) {
			if (id === ds) columnsError.value = `The column values could not be loaded: ${why(e)}`;
		} finally {
			for (const k of idx) inflight.delete(`${myGen}\u0000${names[k]}`);
		}
	})();
	for (const k of idx) inflight.set(`${myGen}\u0000${names[k]}`, p);
	await p;
}
