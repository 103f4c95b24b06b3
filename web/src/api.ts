/* The sievefs HTTP API as typed functions: one per route the app uses.
 *
 * Routes are those of docs/api.md (/v1 and /app/session) and of the issue-17
 * contract (tokens, state, runs, table, members, scores, layout, thumbnails,
 * images, downloads). Every request goes with credentials 'same-origin' (the
 * session cookie; the browser adds Origin to state-changing requests, which the
 * server's CSRF check needs). A non-2xx answer throws ApiError {status, code,
 * message}, decoded from the server's {"error":{code,errno,message}} body, or
 * made up from the status when the body is not that JSON (a 404 of a route an
 * older server lacks, a proxy's page). A network failure is ApiError status 0,
 * code "network". A 401 on anything but sign-in also calls onUnauthorized (the
 * app then shows the sign-in page: the session ended or the token was revoked).
 *
 * Bulk arrays (members, scores, layout) are little-endian binaries in the
 * dataset's table order; they come back as typed-array views of the one
 * ArrayBuffer (no copy) with the X-Sievefs-Count / X-Sievefs-Gen headers, so
 * the caller can tell an array made for another table generation. */

// ---- shapes (docs/api.md "Resources"; contract-17) ----

import type { ColumnJson } from './lib/columns';

export interface Dataset {
  id: number;
  uid: string;
  name: string;
  owner: string;
  created_ns: string;
  live_tree: number;
  live_root: number;
  sel_tree: number;
  sel_explicit: boolean;
  tag_folders: string;
}

export interface Tag {
  id: number;
  uid?: string;
  dataset: number;
  name: string;
  parent: number;
  parent_name: string;
  created_ns: string;
  root: number;
  files: number;
  bytes: number;
  live: boolean;
}

export interface Node {
  ino: number;
  tree: number;
  parent: number;
  dataset: number;
  tree_live: boolean;
  kind: number; // 1 directory, 2 file
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime_ns: string;
  ctime_ns: string;
  atime_ns: string;
  has_sha: boolean;
  sha?: string;
  name: string;
  thumb_sha?: string;
  thumb_size?: number;
}

export interface Embedding {
  id: number;
  dataset: number;
  name: string;
  dim: number;
  rows: number;
  created_ns: string;
}

export interface TokenInfo {
  id: number;
  name: string;
  created_ns: string;
  last_used_ns: string | null;
  current: boolean;
}

export interface NewToken {
  id: number;
  name: string;
  created_ns: string;
  token: string;
}

export interface DatasetState {
  tree: string;
  tags: string;
  selection: string;
  runs: string;
  embeddings: string;
  /** the dataset's current name (absent from an older server) */
  name?: string;
}

export type RunState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Run {
  number: number;
  request: string;
  strategy: string;
  state: RunState;
  phase: string;
  done: number;
  total: number;
  skipped: number;
  candidates?: number;
  error?: string;
  created_ns: string;
  started_ns?: string;
  finished_ns?: string;
}

/** The dataset's sample table (contract-17), in table order. */
export interface SampleTable {
  gen: string;
  count: number;
  path: string[];
  size: number[];
  ino: number[];
  kept: Uint8Array;
}

/** A bulk binary answer's headers. */
export interface BulkMeta {
  count: number; // X-Sievefs-Count (NaN when absent)
  gen: string;   // X-Sievefs-Gen ("" when absent)
}

export interface Members extends BulkMeta {
  bytes: Uint8Array; // byte i = 1 when sample i is a member
}

export interface Scores extends BulkMeta {
  run: number;          // X-Sievefs-Run
  score: Float32Array;  // NaN = not scored by that run
  rank: Int32Array;     // 0 = picked first, -1 = not ranked
}

export interface Layout extends BulkMeta {
  kind: string;      // X-Sievefs-Layout, e.g. "pca"
  xy: Float32Array;  // x0,y0,x1,y1,... in [-1,1]; NaN,NaN = no row
}

export interface ContentCommit {
  sha256: string;
  size: number;
  mtime_ns?: string;
  durable?: boolean;
}

export interface NodeCreate {
  name: string;
  kind: 1 | 2;
  mode?: number;
  mtime_ns?: string;
  /** A file created with its content in one request (docs/api.md "Create
   * with content"): a blob this user has sent, and its size. */
  sha256?: string;
  size?: number;
}

// ---- errors ----

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errno: string;
  constructor(status: number, code: string, message: string, errno = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.errno = errno;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'not signed in',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  413: 'too large',
  429: 'too many requests — try again in a moment',
  500: 'server error',
  502: 'bad gateway',
  503: 'server busy — try again in a moment',
  507: 'no space left on the server',
};

/** Decodes an error answer's body (text as received) into an ApiError.
 * Pure, so it is unit-tested: the server's JSON shape, anything else. */
export function decodeError(status: number, body: string, contentType = ''): ApiError {
  const text = body.trim();
  if (text.startsWith('{') || contentType.includes('json')) {
    try {
      const j: unknown = JSON.parse(text);
      const e = (j as { error?: unknown } | null)?.error;
      if (e && typeof e === 'object') {
        const o = e as { code?: unknown; message?: unknown; errno?: unknown };
        const code = typeof o.code === 'string' && o.code ? o.code : `http_${status}`;
        const msg = typeof o.message === 'string' && o.message ? o.message
          : (STATUS_TEXT[status] ?? `HTTP ${status}`);
        return new ApiError(status, code, msg, typeof o.errno === 'string' ? o.errno : '');
      }
    } catch {
      /* not JSON after all: fall through */
    }
  }
  let msg = STATUS_TEXT[status] ?? `HTTP ${status}`;
  // a short plain-text body (the static server's notes) is worth showing
  if (text && text.length <= 200 && !text.startsWith('<') && !contentType.includes('html'))
    msg = text;
  return new ApiError(status, `http_${status}`, msg);
}

/** Called on a 401 from any route but sign-in; set by the app. */
let unauthorized: () => void = () => {};
export function onUnauthorized(fn: () => void): void {
  unauthorized = fn;
}

// ---- plumbing ----

type Body = string | Blob | ArrayBuffer | Uint8Array | undefined;

interface Req {
  method?: string;
  json?: unknown;
  body?: Body;
  contentType?: string;
  headers?: Record<string, string>;
  noAuthHook?: boolean;
}

async function request(url: string, r: Req = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let body: BodyInit | undefined;
  if (r.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(r.json);
  } else if (r.body !== undefined) {
    if (r.contentType) headers['Content-Type'] = r.contentType;
    body = r.body as BodyInit;
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: r.method ?? 'GET',
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-cache',
    });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached — is sievefs still running?');
  }
  if (res.ok || res.status === 304) return res;
  let text = '';
  if ((r.method ?? 'GET') !== 'HEAD') {
    try {
      text = await res.text();
    } catch {
      /* keep '' */
    }
  }
  const err = decodeError(res.status, text, res.headers.get('Content-Type') ?? '');
  if (res.status === 401 && !r.noAuthHook) unauthorized();
  throw err;
}

async function json<T>(url: string, r: Req = {}): Promise<T> {
  const res = await request(url, r);
  return (await res.json()) as T;
}

async function text(url: string, r: Req = {}): Promise<string> {
  const res = await request(url, r);
  return res.text();
}

function q(params: Record<string, string | number | undefined | null>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    parts.push(`${k}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function meta(res: Response): BulkMeta {
  const c = res.headers.get('X-Sievefs-Count');
  return {
    count: c === null ? NaN : Number(c),
    gen: res.headers.get('X-Sievefs-Gen') ?? '',
  };
}

/** A JSON integer field the server may send as a string (int64 rule). */
export function int(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

// ---- session (/app/session) ----

export function sessionGet(): Promise<{ user: string }> {
  return json('/app/session', { noAuthHook: true });
}

/** Trades an API token for a session cookie; the token goes only in the body. */
export function sessionCreate(token: string): Promise<{ user: string }> {
  return json('/app/session', { method: 'POST', json: { token }, noAuthHook: true });
}

export async function sessionDelete(): Promise<void> {
  await request('/app/session', { method: 'DELETE', noAuthHook: true });
}

// ---- datasets ----

export async function datasetList(): Promise<Dataset[]> {
  return (await json<{ datasets: Dataset[] }>('/v1/datasets')).datasets;
}

export function datasetGet(id: number): Promise<Dataset> {
  return json(`/v1/datasets/${id}`);
}

export function datasetCreate(name: string): Promise<Dataset> {
  return json('/v1/datasets', { method: 'POST', json: { name } });
}

// ---- tags ----

export async function tagList(ds: number): Promise<Tag[]> {
  return (await json<{ tags: Tag[] }>(`/v1/datasets/${ds}/tags`)).tags;
}

/** Freezes the dataset's current selection as a new tag. */
export function tagCreate(ds: number, name: string): Promise<Tag> {
  return json(`/v1/datasets/${ds}/tags`, { method: 'POST', json: { name } });
}

export function tagRename(id: number, name: string): Promise<Tag> {
  return json(`/v1/tags/${id}`, { method: 'PATCH', json: { name } });
}

export async function tagDelete(id: number): Promise<void> {
  await request(`/v1/tags/${id}`, { method: 'DELETE' });
}

// ---- nodes ----

export function nodeGet(ino: number): Promise<Node> {
  return json(`/v1/nodes/${ino}`);
}

export function nodeChildren(parent: number, after?: string, limit?: number):
    Promise<{ children: Node[]; next: string | null }> {
  return json(`/v1/nodes/${parent}/children${q({ after, limit })}`);
}

/** Every child of a folder (follows `next` pages). */
export async function nodeChildrenAll(parent: number): Promise<Node[]> {
  const out: Node[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await nodeChildren(parent, after, 10000);
    out.push(...page.children);
    if (page.next === null || page.next === undefined) return out;
    after = page.next;
  }
}

export function nodeCreate(parent: number, n: NodeCreate): Promise<Node> {
  return json(`/v1/nodes/${parent}/children`, { method: 'POST', json: n });
}

// ---- content ----

/** True when the server has the blob and this user has sent it before. */
export async function blobHead(sha: string): Promise<boolean> {
  try {
    await request(`/v1/blobs/${sha}`, { method: 'HEAD' });
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return false;
    throw e;
  }
}

/** PUT of a blob with upload progress (XMLHttpRequest: fetch reports none).
 * onProgress(bytesSent); the promise rejects with ApiError like request(). */
export function blobPutProgress(sha: string, bytes: Blob, onProgress: (sent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', `/v1/blobs/${sha}`);
    x.withCredentials = true;
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => {
      if (x.status >= 200 && x.status < 300) {
        onProgress(bytes.size);
        resolve();
        return;
      }
      const err = decodeError(x.status, x.responseText ?? '', x.getResponseHeader('Content-Type') ?? '');
      if (x.status === 401) unauthorized();
      reject(err);
    };
    x.onerror = () => reject(new ApiError(0, 'network', 'the upload was cut off (network error)'));
    x.onabort = () => reject(new DOMException('aborted', 'AbortError'));
    x.send(bytes);
  });
}

/** Points a file node at an uploaded blob. null when the node was removed meanwhile (204). */
export async function contentCommit(ino: number, c: ContentCommit): Promise<Node | null> {
  const res = await request(`/v1/nodes/${ino}/content`, { method: 'PUT', json: c });
  if (res.status === 204) return null;
  return (await res.json()) as Node;
}

// ---- control files ----

export async function selectionPut(ds: number, body: string): Promise<void> {
  await request(`/v1/datasets/${ds}/selection`, {
    method: 'PUT', body, contentType: 'text/plain; charset=utf-8',
  });
}

export async function sampleRequest(ds: number, line: string): Promise<void> {
  await request(`/v1/datasets/${ds}/sample`, {
    method: 'POST', body: line, contentType: 'text/plain; charset=utf-8',
  });
}

export function infoRead(ds: number): Promise<string> {
  return text(`/v1/datasets/${ds}/info`);
}

// ---- embeddings ----

export async function embeddingList(ds: number): Promise<Embedding[]> {
  return (await json<{ embeddings: Embedding[] }>(`/v1/datasets/${ds}/embeddings`)).embeddings;
}

// ---- tokens (contract-17) ----

export async function tokenList(): Promise<TokenInfo[]> {
  return (await json<{ tokens: TokenInfo[] }>('/v1/tokens')).tokens;
}

export function tokenCreate(name: string): Promise<NewToken> {
  return json('/v1/tokens', { method: 'POST', json: { name } });
}

export async function tokenRevoke(id: number): Promise<void> {
  await request(`/v1/tokens/${id}`, { method: 'DELETE' });
}

// ---- the app's dataset routes (contract-17) ----

export function datasetState(ds: number): Promise<DatasetState> {
  return json(`/v1/datasets/${ds}/state`);
}

export async function runList(ds: number, limit?: number): Promise<Run[]> {
  return (await json<{ runs: Run[] }>(`/v1/datasets/${ds}/runs${q({ limit })}`)).runs;
}

interface TableJson {
  gen: string;
  count: number;
  path: string[];
  size: number[];
  ino: number[];
  kept: number[];
}

/** The sample table; with `etag` (a gen) null when unchanged (304). */
export async function table(ds: number, etag?: string): Promise<SampleTable | null> {
  const headers: Record<string, string> = {};
  if (etag) headers['If-None-Match'] = etag.startsWith('"') ? etag : `"${etag}"`;
  const res = await request(`/v1/datasets/${ds}/table`, { headers });
  if (res.status === 304) return null;
  const j = (await res.json()) as TableJson;
  return {
    gen: String(j.gen),
    count: int(j.count),
    path: j.path,
    size: j.size,
    ino: j.ino,
    kept: Uint8Array.from(j.kept ?? []),
  };
}

async function binary(url: string): Promise<{ buf: ArrayBuffer; res: Response }> {
  const res = await request(url);
  return { buf: await res.arrayBuffer(), res };
}

/** Membership of a tag (or, without tag, of the current selection) in table order. */
export async function members(ds: number, tag?: number | null): Promise<Members> {
  const { buf, res } = await binary(`/v1/datasets/${ds}/members${q({ tag })}`);
  return { ...meta(res), bytes: new Uint8Array(buf) };
}

/** Splits a scores answer: N float32 then N int32 (little-endian). */
export function splitScores(buf: ArrayBuffer, count?: number): { score: Float32Array; rank: Int32Array } {
  const n = count !== undefined && Number.isFinite(count) ? count : Math.floor(buf.byteLength / 8);
  if (buf.byteLength < n * 8)
    throw new ApiError(200, 'bad_answer', `scores: ${buf.byteLength} bytes for ${n} samples`);
  return { score: new Float32Array(buf, 0, n), rank: new Int32Array(buf, n * 4, n) };
}

/** Scores of the latest finished sampling run; ApiError 404 code no_run when there is none. */
export async function scores(ds: number): Promise<Scores> {
  const { buf, res } = await binary(`/v1/datasets/${ds}/scores`);
  const m = meta(res);
  return { ...m, run: Number(res.headers.get('X-Sievefs-Run') ?? 0), ...splitScores(buf, m.count) };
}

/** 2-D layout of an embedding (default the newest); ApiError 404 no_embedding when none. */
export async function layout(ds: number, embedding?: number, method?: 'pca' | 'umap'): Promise<Layout> {
  const { buf, res } = await binary(`/v1/datasets/${ds}/layout${q({ embedding, method })}`);
  const m = meta(res);
  const n = Number.isFinite(m.count) ? m.count : Math.floor(buf.byteLength / 8);
  if (buf.byteLength < n * 8)
    throw new ApiError(200, 'bad_answer', `layout: ${buf.byteLength} bytes for ${n} samples`);
  return { ...m, kind: res.headers.get('X-Sievefs-Layout') ?? '', xy: new Float32Array(buf, 0, n * 2) };
}

// ---- per-sample columns (issue 21: predictions, metadata, builtin.*) ----

/** The names of the dataset's columns ("INPUT.COLUMN"), in the server's order. */
export async function columnList(ds: number): Promise<string[]> {
  const j = (await (await request(`/v1/datasets/${ds}/columns`)).json()) as { columns: unknown[] };
  return (j.columns ?? []).map(String);
}

export interface ColumnsAnswer extends BulkMeta {
  etag: string;
  columns: ColumnJson[];
  /** builtin.* values the server has not computed yet (null in columns) */
  pending: number;
}

/** Values of the columns at indexes `cols` of columnList, in table order;
 * with `etag` null when unchanged (304). */
export async function columnValues(ds: number, cols: number[], etag?: string): Promise<ColumnsAnswer | null> {
  const headers: Record<string, string> = {};
  if (etag) headers['If-None-Match'] = etag;
  const res = await request(`/v1/datasets/${ds}/columns${q({ cols: cols.join(',') })}`, { headers });
  if (res.status === 304) return null;
  const j = (await res.json()) as { count: number; gen: string; columns: ColumnJson[]; pending?: number };
  return {
    count: int(j.count),
    gen: String(j.gen),
    etag: res.headers.get('ETag') ?? '',
    columns: j.columns ?? [],
    pending: int(j.pending ?? 0),
  };
}

// ---- URLs the browser loads itself (img src, download links) ----

export function thumbnailUrl(ino: number): string {
  return `/v1/nodes/${ino}/thumbnail`;
}

// ?redirect=1: where the server's blobs are in an object store, the image
// (or download) comes from it by a presigned URL, not through the server
// (docs/api.md, "Blobs in an object store"); elsewhere the bytes as before.
export function imageUrl(ino: number): string {
  return `/v1/nodes/${ino}/image?redirect=1`;
}

export function filenamesUrl(tag: number): string {
  return `/v1/tags/${tag}/filenames`;
}

export function tarUrl(tag: number): string {
  return `/v1/tags/${tag}/tar`;
}

