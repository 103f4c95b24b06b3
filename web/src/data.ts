/* The open dataset's data: loading it, following the server, choosing a tag.
 *
 * openDataset(id) resets the shared signals and loads, in parallel: the
 * dataset, its tags, the sample table, the current selection's membership
 * (the default chosen tag is the current selection: chosenTag null), the
 * selection's source tag's membership, embeddings, runs and scores (404
 * no_run is normal: scores stay null). While a dataset is open and the page
 * visible (lib/visiblepoll.ts: a hidden tab asks nothing, and asks at once
 * when shown again), poll() asks GET /v1/datasets/ID/state every 2 s and reloads only what a changed counter
 * names: tree → table (revalidated by ETag) and every membership array, tags
 * → tags, selection → the dataset (sel_tree) and the selection's arrays, runs
 * → runs (and scores when a newer run finished), embeddings or a newly
 * finished run → the list and layoutStamp (the plot's layout again), a
 * /state name other than the dataset's (renamed in the mount) → the dataset.
 * A server without /state is polled on dataset + tags instead.
 *
 * `active` is computed from sliderN, scores and chosenMembers (state.ts).
 * Each load carries a sequence number so a slow answer for a
 * dataset or tag no longer open is dropped. Bulk arrays whose length is not
 * the table's count (the tree changed between the two answers) make the
 * table reload once and the arrays be fetched again. */
import * as api from './api';
import { ApiError } from './api';
import {
  dataset, tags, table, chosenTag, chosenMembers, scores, sliderN, runs, embeddings,
  datasetState, selectionMembers, sourceMembers, datasetError, missingRoutes, loadFailed, liveInfo, layoutStamp, tagNote,
} from './state';
import { parseInfo } from './info';
import type { Tag } from './api';
import { signal } from '@preact/signals';
import { Prefetch } from './lib/prefetch';
import { pollWhileVisible } from './lib/visiblepoll';

/** The newest embedding's layout, started by the dataset frame before the
 * dataset's other loads when the page shows the plot (lib/prefetch.ts). */
export const layoutPrefetch = new Prefetch((ds: number) => api.layout(ds));

/** true while the dataset's first load runs */
export const loading = signal(false);

let openId = 0;          // the dataset open now (0 = none)
let epoch = 0;           // bumps on every open/close: stale answers are dropped
let tagSeq = 0;          // bumps on every chooseTag
let stopPoll: (() => void) | null = null;
let polling = false;        // poll() is also called directly (the upload page)

function isRouteMissing(e: unknown): boolean {
  // a 404 from a route this server does not have (the server says "no such
  // route"; a non-JSON 404 is a proxy's or a static file server's), not the
  // 404 of an absent dataset/tag/node
  return e instanceof ApiError && e.status === 404
    && (e.code === 'http_404' || /no such route/i.test(e.message));
}

function without(m: Record<string, string>, name: string): Record<string, string> {
  const c = { ...m };
  delete c[name];
  return c;
}

/** Records a failed load: a route the server lacks, or any other failure
 * (then the next poll loads everything again). */
function noteMissing(name: string, e: unknown): void {
  if (!isRouteMissing(e)) {
    if (e instanceof ApiError) loadFailed.value = { ...loadFailed.value, [name]: e.message };
    return;
  }
  missingRoutes.value = {
    ...missingRoutes.value,
    [name]: `This server has no ${name} route yet (${(e as ApiError).message}).`,
  };
}

function clearMissing(name: string): void {
  if (name in missingRoutes.value) missingRoutes.value = without(missingRoutes.value, name);
  if (name in loadFailed.value) loadFailed.value = without(loadFailed.value, name);
}

/** Runs fn, records a missing route, and returns null on any ApiError other than
 * the ones `rethrow` names (by status). */
async function soft<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    const v = await fn();
    clearMissing(name);
    return v;
  } catch (e) {
    if (e instanceof ApiError) {
      noteMissing(name, e);
      return null;
    }
    throw e;
  }
}

function fits(a: { length: number } | null): boolean {
  const t = table.value;
  if (!a || !t) return true;
  return a.length === t.count;
}

async function loadTable(ds: number, e: number): Promise<void> {
  const cur = table.value;
  const t = await soft('table', () => api.table(ds, cur?.gen));
  if (e !== epoch) return;
  if (t) table.value = t;
}

async function loadMembers(ds: number, tag: number | null): Promise<Uint8Array | null> {
  const m = await soft('members', () => api.members(ds, tag));
  return m ? m.bytes : null;
}

async function loadSelectionArrays(ds: number, e: number): Promise<void> {
  const d = dataset.value;
  const [sel, src] = await Promise.all([
    loadMembers(ds, null),
    d && d.sel_tree > 0 ? loadMembers(ds, d.sel_tree) : Promise.resolve(null),
  ]);
  if (e !== epoch) return;
  selectionMembers.value = sel;
  sourceMembers.value = src;
  if (chosenTag.value === null) chosenMembers.value = sel;
}

async function loadChosen(ds: number, e: number): Promise<void> {
  const tag = chosenTag.value;
  if (tag === null) {
    chosenMembers.value = selectionMembers.value;
    return;
  }
  const seq = ++tagSeq;
  let m: Uint8Array | null = null;
  try {
    m = (await api.members(ds, tag)).bytes;
    clearMissing('members');
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (e !== epoch || seq !== tagSeq) return;
    noteMissing('members', err);
    // without the array the grid would show every sample under the tag's
    // name: say why (the tag's count in the bar comes from the tag list)
    if (!isRouteMissing(err)) {
      const name = tags.value.find((x) => x.id === tag)?.name ?? `#${tag}`;
      tagNote.value = `The samples of tag ${name} could not be loaded (${err.message}); choose it again to retry.`;
    }
  }
  if (e !== epoch || seq !== tagSeq) return;
  chosenMembers.value = m;
}

async function loadScores(ds: number, e: number): Promise<void> {
  try {
    const s = await api.scores(ds);
    if (e !== epoch) return;
    clearMissing('scores');
    scores.value = { run: s.run, score: s.score, rank: s.rank };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (e !== epoch) return;
    if (err.code === 'no_run') {
      scores.value = null;
      clearMissing('scores');
    } else noteMissing('scores', err);
  }
}

/** The live tag with the info text's figures when the list has none for it. */
function patchLive(list: Tag[]): Tag[] {
  const li = liveInfo.value;
  if (!li || li.samples === null) return list;
  return list.map((t) => (t.live && t.files === 0 && t.bytes === 0
    ? { ...t, files: li.samples ?? 0, bytes: li.bytes ?? 0 } : t));
}

async function loadInfo(ds: number, e: number): Promise<void> {
  const text = await soft('info', () => api.infoRead(ds));
  if (e !== epoch || text === null) return;
  liveInfo.value = parseInfo(text);
  const patched = patchLive(tags.value);
  if (patched.some((t, i) => t !== tags.value[i])) tags.value = patched;
}

async function loadTags(ds: number, e: number): Promise<void> {
  const t = await soft('tags', () => api.tagList(ds));
  if (e !== epoch || !t) return;
  const c = chosenTag.value;
  const lost = c !== null && !t.some((x) => x.id === c);
  const name = lost ? tags.value.find((x) => x.id === c)?.name ?? `#${c}` : '';
  tags.value = patchLive(t);
  if (lost) {
    tagNote.value = `Tag ${name} was deleted; showing the current selection.`;
    chosenTag.value = null;
    chosenMembers.value = selectionMembers.value;
  }
}

async function loadRuns(ds: number, e: number): Promise<void> {
  const r = await soft('runs', () => api.runList(ds, 20));
  if (e !== epoch) return;
  runs.value = r ?? [];
}

async function loadEmbeddings(ds: number, e: number): Promise<void> {
  const r = await soft('embeddings', () => api.embeddingList(ds));
  if (e !== epoch) return;
  if (r) embeddings.value = r;
}

async function loadDataset(ds: number, e: number): Promise<boolean> {
  try {
    const d = await api.datasetGet(ds);
    if (e !== epoch) return false;
    dataset.value = d;
    return true;
  } catch (err) {
    if (e !== epoch) return false;
    if (err instanceof ApiError) {
      datasetError.value = err.status === 404 ? 'not_found' : err.message;
      return false;
    }
    throw err;
  }
}

/** Every table-order array again (after the table changed). */
async function loadArrays(ds: number, e: number): Promise<void> {
  await Promise.all([loadSelectionArrays(ds, e), loadScores(ds, e)]);
  if (e !== epoch) return;
  if (chosenTag.value !== null) await loadChosen(ds, e);
}

function arraysFit(): boolean {
  const s = scores.value;
  return fits(selectionMembers.value) && fits(chosenMembers.value)
    && (s === null || fits(s.rank));
}

function resetSignals(): void {
  dataset.value = null;
  tags.value = [];
  table.value = null;
  chosenTag.value = null;
  chosenMembers.value = null;
  scores.value = null;
  sliderN.value = null;
  runs.value = [];
  embeddings.value = [];
  datasetState.value = null;
  tagNote.value = null;
  selectionMembers.value = null;
  sourceMembers.value = null;
  liveInfo.value = null;
  datasetError.value = null;
  missingRoutes.value = {};
  loadFailed.value = {};
}

/** Opens dataset `id` (no-op when it is open already) and starts polling it. */
export async function openDataset(id: number): Promise<void> {
  if (openId === id) return;
  closeDataset();
  openId = id;
  const e = ++epoch;
  loading.value = true;
  try {
    const st = soft('state', () => api.datasetState(id));
    if (!(await loadDataset(id, e))) return;
    // everything at once: the arrays do not wait for the table (they are
    // checked against it below, and fetched again in the rare case the tree
    // changed between the answers)
    await Promise.all([
      loadInfo(id, e), loadTags(id, e), loadTable(id, e), loadRuns(id, e), loadEmbeddings(id, e),
      st.then((s) => { if (e === epoch) datasetState.value = s; }),
      loadArrays(id, e),
    ]);
    if (e === epoch && !arraysFit()) {
      await loadTable(id, e);
      await loadArrays(id, e);
    }
  } finally {
    if (e === epoch) {
      loading.value = false;
      // no document in the unit tests' Node: they call poll() themselves.
      // poll() throws only what is not an ApiError, i.e. a bug here: thrown
      // again outside the poller (which would swallow it), it stays an
      // uncaught page error, as the browser tests' assertClean sees it
      if (typeof document !== 'undefined') {
        stopPoll = pollWhileVisible(
          () => poll().catch((err) => { setTimeout(() => { throw err; }); }), 2000);
      }
    }
  }
}

export function closeDataset(): void {
  stopPoll?.();
  stopPoll = null;
  openId = 0;
  epoch++;
  resetSignals();
  loading.value = false;
}

/** Chooses the tag whose members are active (null = the current selection). */
export async function chooseTag(tag: number | null): Promise<void> {
  if (!openId) return;
  tagNote.value = null;
  chosenTag.value = tag;
  sliderN.value = null;
  await loadChosen(openId, epoch);
}

/** After the selection changed here (a lasso, keep N, a tag frozen): reload it now. */
export async function reloadSelection(): Promise<void> {
  if (!openId) return;
  const e = epoch;
  const ds = openId;
  await loadDataset(ds, e);
  await Promise.all([loadSelectionArrays(ds, e), loadInfo(ds, e)]);
  const s = await soft('state', () => api.datasetState(ds));
  if (e === epoch && s) datasetState.value = s;
}

/** After tags changed here (create, rename, delete). */
export async function reloadTags(): Promise<void> {
  if (openId) await loadTags(openId, epoch);
}

/** After an upload: table, tags, arrays. */
export async function reloadTree(): Promise<void> {
  if (!openId) return;
  const e = epoch;
  const ds = openId;
  await loadInfo(ds, e);
  await Promise.all([loadTable(ds, e), loadTags(ds, e)]);
  await loadArrays(ds, e);
}

/** One poll: GET /state, reload what changed. Exported for tests and the upload page. */
export async function poll(): Promise<void> {
  if (!openId || polling) return;
  polling = true;
  const ds = openId;
  const e = epoch;
  try {
    let st: api.DatasetState | null = null;
    try {
      st = await api.datasetState(ds);
      clearMissing('state');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.status === 404 && !isRouteMissing(err)) {
        // the dataset itself is gone (deleted elsewhere)
        if (e === epoch) datasetError.value = 'not_found';
        return;
      }
      noteMissing('state', err);
    }
    if (e !== epoch) return;
    if (!st) {
      await pollWithoutState(ds, e);
      return;
    }
    const last = datasetState.value;
    datasetState.value = st;
    if (!last) return;
    // a load failed since (a 503, a cut connection): load all of it again,
    // as if every counter had changed
    const old = Object.keys(loadFailed.value).length === 0 ? last
      : { tree: '', tags: '', selection: '', runs: '', embeddings: '' };
    const jobs: Promise<void>[] = [];
    if (st.tree !== old.tree) {
      const selToo = st.selection !== old.selection;
      jobs.push((async () => {
        await Promise.all([loadInfo(ds, e), selToo ? loadDataset(ds, e) : Promise.resolve(true)]);
        await Promise.all([loadTable(ds, e), loadTags(ds, e)]);
        await loadArrays(ds, e);
      })());
    } else {
      if (st.tags !== old.tags) jobs.push(loadTags(ds, e));
      if (st.selection !== old.selection) {
        jobs.push((async () => {
          await loadDataset(ds, e);
          await Promise.all([loadSelectionArrays(ds, e), loadInfo(ds, e)]);
        })());
      }
    }
    // a renamed dataset (mv in the mount): its name again
    if (st.name !== undefined && st.name !== dataset.value?.name
        && st.selection === old.selection) jobs.push(loadDataset(ds, e).then(() => {}));
    let embChanged = st.embeddings !== old.embeddings;
    const runsJob = st.runs === old.runs ? Promise.resolve() : (async () => {
      await loadRuns(ds, e);
      const done = runs.value.find((r) => r.state === 'done');
      if (done && done.number !== scores.value?.run) {
        embChanged = true; // the run may have computed the built-in embedding
        await loadScores(ds, e);
      }
    })();
    jobs.push(runsJob.then(async () => {
      if (!embChanged) return;
      await loadEmbeddings(ds, e);
      if (e === epoch) layoutStamp.value++;
    }));
    await Promise.all(jobs);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    /* a failed poll is tried again at the next tick */
  } finally {
    polling = false;
  }
}

async function pollWithoutState(ds: number, e: number): Promise<void> {
  const before = dataset.value;
  const beforeTags = JSON.stringify(tags.value);
  await loadInfo(ds, e);
  await Promise.all([loadDataset(ds, e), loadTags(ds, e)]);
  if (e !== epoch) return;
  const d = dataset.value;
  if (JSON.stringify(tags.value) !== beforeTags || d?.sel_tree !== before?.sel_tree
      || d?.sel_explicit !== before?.sel_explicit) {
    await loadTable(ds, e);
    await loadArrays(ds, e);
  }
}

/** True when the current selection differs from all of its source tag. */
export function selectionDiffers(sel: Uint8Array | null, src: Uint8Array | null): boolean {
  if (!sel || !src) return false;
  if (sel.length !== src.length) return true;
  for (let i = 0; i < sel.length; i++) if (sel[i] !== src[i]) return true;
  return false;
}
