/* Shared state of the app: preact signals that the shell (app.tsx, pages/,
 * data.ts) and the views (views/) read and write.
 *
 * The first block is the contract's (CONTRACT-17 "Shared state"), with
 * chosenMembers, which `active` is computed from. Who writes what:
 *  - session: the shell (sign-in, sign-out, a 401 anywhere).
 *  - dataset, tags, table, runs, embeddings, datasetState, selectionMembers,
 *    sourceMembers, liveInfo, missingRoutes, loadFailed: the shell's loader
 *    (data.ts) when a dataset opens and on every poll that shows a change.
 *  - chosenTag: the tag menu (shell) — call data.ts chooseTag(), which also
 *    loads the tag's members into chosenMembers.
 *  - chosenMembers: data.ts (the chosen tag's membership, or the selection's).
 *  - active: nobody — it is computed: while sliderN is not null and scores
 *    are loaded, rank < sliderN; else chosenMembers. Views read it; after
 *    changing the selection (a lasso), call data.ts reloadSelection().
 *  - scores: data.ts (null when the dataset has no finished run: 404 no_run).
 *  - sliderN: the sampling view while its slider moves; null when released.
 *  - tags: the live tag (initial-tag) gets its files/bytes from the info text
 *    when the tag list answers 0 for it (the server counts only frozen tags).
 * Every typed array a signal holds is replaced, never mutated in place, so a
 * subscriber sees each change. */
import { signal, computed } from '@preact/signals';
import { RankActive, countOnes } from './lib/active';
import type {
  Dataset, Tag, SampleTable, Run, Embedding, DatasetState,
} from './api';

export type { Dataset, Tag, SampleTable } from './api';

// ---- the contract's signals ----
export const session = signal<{ user: string } | null>(null);
export const dataset = signal<Dataset | null>(null);
export const tags = signal<Tag[]>([]);
export const table = signal<SampleTable | null>(null);
/** tag id, or null = the current selection */
export const chosenTag = signal<number | null>(null);
export const scores = signal<{ run: number; score: Float32Array; rank: Int32Array } | null>(null);
export const sliderN = signal<number | null>(null);
/** membership of the chosen tag (null chosenTag: the selection's) */
export const chosenMembers = signal<Uint8Array | null>(null);
/* a slider step writes rank < N into one of two buffers kept here: nothing
 * is allocated per step, and each step is a new array for the subscribers */
const rankActive = new RankActive();
export const active = computed<Uint8Array | null>(() => {
  const n = sliderN.value;
  const s = scores.value;
  return n !== null && s ? rankActive.step(s.rank, n) : chosenMembers.value;
});

// ---- the shell's own (views may read them) ----

/** why the session ended without a sign-out here (a 401 while signed in), shown on the sign-in page */
export const sessionNote = signal<string | null>(null);
/** false until the first GET /app/session answered (the app shows nothing before) */
export const sessionChecked = signal(false);
/** latest runs of the open dataset, latest first (GET /runs; [] when the route is absent) */
export const runs = signal<Run[]>([]);
export const embeddings = signal<Embedding[]>([]);
/** bumps when a poll saw the embeddings change or a run finish: the plot asks for its layout again */
export const layoutStamp = signal(0);
/** a notice of the tag menu: the chosen tag was deleted elsewhere (cleared when a tag is chosen) */
export const tagNote = signal<string | null>(null);
/** the last GET /state answer (null before the first, or when the route is absent) */
export const datasetState = signal<DatasetState | null>(null);
/** membership of the current selection (members without tag) */
export const selectionMembers = signal<Uint8Array | null>(null);
/** membership of the tag the selection came from (its source tag), to tell when they differ */
export const sourceMembers = signal<Uint8Array | null>(null);
/** why the open dataset could not be loaded: 'not_found' (404, also another user's) or a message */
export const datasetError = signal<string | null>(null);
/** a route of the contract the server lacks (404 of the route itself): name → message */
export const missingRoutes = signal<Record<string, string>>({});
/** a load of the open dataset that failed otherwise (a 5xx, 429, the network): name →
 * the server's message; the next poll loads everything again until it is empty */
export const loadFailed = signal<Record<string, string>>({});
/** figures of the dataset's info text: live samples/bytes, selection size (see info.ts) */
export const liveInfo = signal<{ samples: number | null; bytes: number | null; selection: number | null } | null>(null);
/** the number of active samples (counted once per change of `active`) */
export const activeCount = computed(() => {
  const a = active.value;
  return a ? countOnes(a) : null;
});

// ---- the page props the router hands the views' pages ----
export interface DatasetPageProps {
  datasetId: number;
}
export interface SamplePageProps {
  datasetId: number;
  ino: number;
}
