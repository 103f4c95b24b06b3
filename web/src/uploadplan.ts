/* The upload planner (pure; unit-tested): from the files a user dropped or
 * browsed to, what the upload page will do, before anything is sent.
 *
 * - Limits: at most MAX_FILES files and MAX_BYTES bytes in one upload (the
 *   original platform's, and the server's cap of blobs not yet committed);
 *   beyond either the whole upload is refused with limitMessage() (how many
 *   files and bytes were chosen, then LIMIT_MESSAGE) and nothing is sent.
 * - Paths: each file's relative path (a folder upload keeps its sub-folders:
 *   "photos/sub/a.jpg"); a path with an empty, "." or ".." segment, a NUL, or
 *   a segment over 255 bytes is refused for that file with its reason; a path
 *   given twice is refused the second time.
 * - Folders: every folder the files need, parents before children (so each
 *   POST .../children kind 1 has its parent), each once, sorted.
 * - Skip: decided later per file, when its SHA-256 is known and its folder
 *   listed: same name and same content → skipped (sameContent below). */

import { formatBytes, plural } from './format';

export const MAX_FILES = 1000;
export const MAX_BYTES = 1024 * 1024 * 1024; // 1 GiB
export const LIMIT_MESSAGE =
  'At most 1,000 files or 1 GB per upload here — use the mount (cp -r) or the Python client for more';

/** The refusal: what was chosen, then the limits. `partial`: the files were
 * counted only to just past the limit (a dropped folder is not read to its end). */
export function limitMessage(files: number, bytes: number, partial = false): string {
  const least = partial ? 'at least ' : '';
  return `You chose ${least}${plural(files, 'file')} (${least}${formatBytes(bytes)}). ${LIMIT_MESSAGE}`;
}

/** Paths in code-unit order (bytewise for ASCII), for the lists the page shows. */
export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

export interface PickedFile {
  path: string; // relative, "/"-separated, no leading slash
  size: number;
}

export interface PlannedFile {
  index: number;  // into the picked list
  path: string;   // normalised
  dir: string;    // "" = the dataset's root (initial-tag)
  name: string;
  size: number;
}

export interface Refused {
  index: number;
  path: string;
  reason: string;
}

export interface UploadPlan {
  /** set when the whole upload is refused (limits); then nothing else is */
  error: string | null;
  folders: string[];
  files: PlannedFile[];
  refused: Refused[];
  totalBytes: number;
}

const enc = new TextEncoder();

/** Normalises a picked path or says why it cannot be a sample's path. */
export function checkPath(raw: string): { path: string } | { reason: string } {
  const p = raw.replace(/\\/g, '/').replace(/^\/+/, '');
  if (p === '') return { reason: 'empty path' };
  if (p.includes('\0')) return { reason: 'the name holds a NUL byte' };
  const segs = p.split('/');
  for (const s of segs) {
    if (s === '') return { reason: 'empty folder name in the path' };
    if (s === '.' || s === '..') return { reason: `"${s}" cannot be a name` };
    if (enc.encode(s).length > 255) return { reason: 'a name is longer than 255 bytes' };
  }
  return { path: segs.join('/') };
}

export function planUpload(picked: readonly PickedFile[],
                           maxFiles = MAX_FILES, maxBytes = MAX_BYTES, partial = false): UploadPlan {
  let total = 0;
  for (const f of picked) total += f.size;
  if (picked.length > maxFiles || total > maxBytes)
    return { error: limitMessage(picked.length, total, partial && picked.length > maxFiles), folders: [], files: [], refused: [], totalBytes: total };

  const files: PlannedFile[] = [];
  const refused: Refused[] = [];
  const seen = new Set<string>();
  const folders = new Set<string>();
  picked.forEach((f, index) => {
    const c = checkPath(f.path);
    if ('reason' in c) {
      refused.push({ index, path: f.path, reason: c.reason });
      return;
    }
    if (seen.has(c.path)) {
      refused.push({ index, path: c.path, reason: 'the same path is in this upload twice' });
      return;
    }
    seen.add(c.path);
    const cut = c.path.lastIndexOf('/');
    const dir = cut < 0 ? '' : c.path.slice(0, cut);
    const name = c.path.slice(cut + 1);
    for (let d = dir; d !== ''; d = d.includes('/') ? d.slice(0, d.lastIndexOf('/')) : '')
      folders.add(d);
    files.push({ index, path: c.path, dir, name, size: f.size });
  });
  // a file and a folder of the same path cannot both be made
  for (const f of files.slice()) {
    if (folders.has(f.path)) {
      files.splice(files.indexOf(f), 1);
      refused.push({ index: f.index, path: f.path, reason: 'a folder of the same name is in this upload' });
    }
  }
  // parents first: by depth, then bytewise within a depth
  const order = [...folders].sort((a, b) => {
    const da = a.split('/').length;
    const db = b.split('/').length;
    return da !== db ? da - db : a < b ? -1 : a > b ? 1 : 0;
  });
  refused.sort(byPath);
  return { error: null, folders: order, files, refused, totalBytes: total };
}

/** The existing child of a folder, as listed (GET .../children). */
export interface Existing {
  ino: number;
  kind: number; // 1 dir, 2 file
  sha?: string;
  has_sha: boolean;
}

export type FileAction =
  | { kind: 'skip' }                 // same name, same content: nothing to send
  | { kind: 'create' }               // new name: create the node, commit
  | { kind: 'replace'; ino: number } // same name, other content: commit onto it (as cp does)
  | { kind: 'refuse'; reason: string };

/** What to do with a file whose SHA-256 is `sha`, given its folder's child of the same name. */
export function fileAction(existing: Existing | undefined, sha: string): FileAction {
  if (!existing) return { kind: 'create' };
  if (existing.kind === 1) return { kind: 'refuse', reason: 'a folder of that name is already there' };
  if (existing.has_sha && existing.sha === sha) return { kind: 'skip' };
  return { kind: 'replace', ino: existing.ino };
}
