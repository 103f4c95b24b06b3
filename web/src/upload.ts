/* The upload runner: carries out an UploadPlan (uploadplan.ts) against the
 * dataset's live tree (initial-tag), the way a mount's cp -r does.
 *
 * 1. Folders, parents first: each is looked up in its parent's listing and
 *    made with POST /v1/nodes/PARENT/children kind 1 when absent (a 409 from
 *    a racing mkdir is a lookup again). A folder that cannot be made fails
 *    every file under it, with the reason.
 * 2. Files, 4 in flight: SHA-256 of the bytes; the same name with the same
 *    content in its folder → skipped; else HEAD /v1/blobs/SHA (200 → the
 *    server has the bytes from this user: no PUT), PUT the bytes (with
 *    progress), then one POST creates the node with its content (the server
 *    creates and commits it in one request, or makes nothing), so a tab closed
 *    mid-upload leaves no empty file; a file already there with other content
 *    gets the new content on its node (PUT content), as cp does. 409
 *    blob_missing (the pending blob was collected) sends the bytes again once.
 * Progress is kept in plain objects and announced through one callback at
 * most once per animation frame. */
import * as api from './api';
import { ApiError, type Node } from './api';
import { errorMessage as msg } from './format';
import { fileAction, type Existing, type PlannedFile, type UploadPlan } from './uploadplan';
import { sha256Blob } from './sha256';

export const IN_FLIGHT = 4;

export type JobState = 'queued' | 'hashing' | 'sending' | 'committing' | 'done' | 'skipped' | 'failed';

export interface Job {
  plan: PlannedFile;
  file: File;
  state: JobState;
  sent: number;       // bytes of this file accounted as done (sent or skipped)
  reason: string;     // why it failed / what was done
}

export interface Progress {
  jobs: Job[];
  totalBytes: number;
  doneBytes: number;
  done: number;      // files finished (done + skipped + failed)
  failed: number;
  skipped: number;
  running: boolean;
  stopped: boolean;
}

function mtimeNs(f: File): string {
  const ms = Math.floor(f.lastModified || 0);
  return ms > 0 ? `${ms}000000` : '0';
}

export class Uploader {
  readonly p: Progress;
  private listings = new Map<number, Promise<Map<string, Existing>>>();
  private dirIno = new Map<string, number>();
  private dirFail = new Map<string, string>();
  private onChange: (p: Progress) => void;
  private frame = 0;
  private stopFlag = false;
  private folders: string[];

  constructor(rootIno: number, plan: UploadPlan, files: File[], onChange: (p: Progress) => void) {
    this.onChange = onChange;
    this.folders = plan.folders;
    const jobs = plan.files.map((pf) => ({
      plan: pf, file: files[pf.index], state: 'queued' as JobState, sent: 0, reason: '',
    }));
    this.p = {
      jobs, totalBytes: jobs.reduce((a, j) => a + j.plan.size, 0), doneBytes: 0,
      done: 0, failed: 0, skipped: 0, running: false, stopped: false,
    };
    this.dirIno.set('', rootIno);
  }

  private changed(now = false): void {
    if (now) {
      if (this.frame) cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.onChange(this.p);
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.onChange(this.p);
    });
  }

  stop(): void {
    this.stopFlag = true;
    this.p.stopped = true;
    this.changed(true);
  }

  private listing(ino: number, fresh = false): Promise<Map<string, Existing>> {
    let l = fresh ? undefined : this.listings.get(ino);
    if (!l) {
      l = api.nodeChildrenAll(ino).then((kids) => {
        const m = new Map<string, Existing>();
        for (const k of kids) m.set(k.name, k);
        return m;
      });
      this.listings.set(ino, l);
      l.catch(() => this.listings.delete(ino));
    }
    return l;
  }

  private async makeFolder(path: string): Promise<void> {
    const cut = path.lastIndexOf('/');
    const parentPath = cut < 0 ? '' : path.slice(0, cut);
    const name = path.slice(cut + 1);
    const pf = this.dirFail.get(parentPath);
    if (pf !== undefined) {
      this.dirFail.set(path, pf);
      return;
    }
    const parent = this.dirIno.get(parentPath)!;
    try {
      const kids = await this.listing(parent);
      let ex = kids.get(name);
      if (!ex) {
        try {
          const n = await api.nodeCreate(parent, { name, kind: 1, mode: 0o755 });
          kids.set(name, n);
          ex = n;
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'exists')) throw e;
          ex = (await this.listing(parent, true)).get(name);
        }
      }
      if (!ex) throw new Error('the folder vanished while it was made');
      if (ex.kind !== 1) throw new Error(`a file named ${name} is already there`);
      this.dirIno.set(path, ex.ino);
    } catch (e) {
      this.dirFail.set(path, `folder ${path}: ${msg(e)}`);
    }
  }

  private finish(j: Job, state: 'done' | 'skipped' | 'failed', reason: string): void {
    j.state = state;
    j.reason = reason;
    this.p.doneBytes += j.plan.size - j.sent;
    j.sent = j.plan.size;
    this.p.done++;
    if (state === 'failed') this.p.failed++;
    if (state === 'skipped') this.p.skipped++;
    this.changed();
  }

  private async sendBytes(j: Job, sha: string): Promise<void> {
    j.state = 'sending';
    const base = j.sent;
    await api.blobPutProgress(sha, j.file, (sent) => {
      const now = Math.min(sent, j.plan.size);
      this.p.doneBytes += now - (j.sent - base);
      j.sent = base + now;
      this.changed();
    });
  }

  private async runJob(j: Job): Promise<void> {
    const df = this.dirFail.get(j.plan.dir);
    if (df !== undefined) {
      this.finish(j, 'failed', df);
      return;
    }
    const dir = this.dirIno.get(j.plan.dir)!;
    j.state = 'hashing';
    this.changed();
    let sha: string;
    try {
      sha = await sha256Blob(j.file);
    } catch (e) {
      this.finish(j, 'failed', `could not read the file: ${msg(e)}`);
      return;
    }
    try {
      const kids = await this.listing(dir);
      let act = fileAction(kids.get(j.plan.name), sha);
      if (act.kind === 'skip') {
        this.finish(j, 'skipped', 'already there with the same content');
        return;
      }
      if (act.kind === 'refuse') {
        this.finish(j, 'failed', act.reason);
        return;
      }
      if (!(await api.blobHead(sha))) await this.sendBytes(j, sha);
      j.state = 'committing';
      this.changed();
      // a pending blob collected meanwhile (409 blob_missing): send the bytes
      // again once
      const retryBytes = async <T>(f: () => Promise<T>): Promise<T> => {
        try {
          return await f();
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'blob_missing')) throw e;
          await this.sendBytes(j, sha);
          return f();
        }
      };
      let node: Node | null = null;
      if (act.kind === 'create') {
        // the node is created and committed in one request: a tab closed
        // now leaves either the sample or nothing
        const create = { name: j.plan.name, kind: 2 as const, mode: 0o644, mtime_ns: mtimeNs(j.file), sha256: sha, size: j.plan.size };
        try {
          node = await retryBytes(() => api.nodeCreate(dir, create));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'exists')) throw e;
          // made meanwhile (another upload, a mount): decide again
          act = fileAction((await this.listing(dir, true)).get(j.plan.name), sha);
          if (act.kind === 'skip') {
            this.finish(j, 'skipped', 'already there with the same content');
            return;
          }
          if (act.kind !== 'replace') throw e;
        }
      }
      if (act.kind === 'replace') {
        const ino = act.ino;
        const commit = { sha256: sha, size: j.plan.size, mtime_ns: mtimeNs(j.file), durable: true };
        node = await retryBytes(() => api.contentCommit(ino, commit));
      }
      if (node) kids.set(j.plan.name, node);
      this.finish(j, 'done', act.kind === 'replace' ? 'replaced the file of that name' : '');
    } catch (e) {
      this.finish(j, 'failed', msg(e));
    }
  }

  async run(): Promise<Progress> {
    this.p.running = true;
    this.changed(true);
    for (const f of this.folders) {
      if (this.stopFlag) break;
      await this.makeFolder(f);
    }
    let next = 0;
    const worker = async () => {
      while (!this.stopFlag && next < this.p.jobs.length) {
        const j = this.p.jobs[next++];
        await this.runJob(j);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    for (const j of this.p.jobs)
      if (j.state === 'queued') this.finish(j, 'failed', 'not sent: the upload was stopped');
    this.p.running = false;
    this.changed(true);
    return this.p;
  }
}

// ---- collecting files from a drop or a folder input ----

export interface Picked {
  path: string;
  file: File;
}

/** Files of an <input type=file> (webkitRelativePath keeps a folder's sub-folders). */
export function fromInput(list: FileList): Picked[] {
  const out: Picked[] = [];
  for (let i = 0; i < list.length; i++) {
    const f = list[i];
    out.push({ path: f.webkitRelativePath || f.name, file: f });
  }
  return out;
}

function entryFile(e: FileSystemFileEntry): Promise<File> {
  return new Promise((res, rej) => e.file(res, rej));
}

function readAll(d: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const r = d.createReader();
  const out: FileSystemEntry[] = [];
  return new Promise((res, rej) => {
    const more = () => r.readEntries((batch) => {
      if (batch.length === 0) res(out);
      else {
        out.push(...batch);
        more();
      }
    }, rej);
    more();
  });
}

/** Files of a drop, folders walked (sub-folders kept). Stops counting past `cap`
 * files so a huge folder is refused without reading it all. */
export async function fromDrop(dt: DataTransfer, cap: number): Promise<Picked[]> {
  const out: Picked[] = [];
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (let i = 0; i < dt.items.length; i++) {
    const it = dt.items[i];
    if (it.kind !== 'file') continue;
    const e = typeof it.webkitGetAsEntry === 'function' ? it.webkitGetAsEntry() : null;
    if (e) entries.push(e);
    else {
      const f = it.getAsFile();
      if (f) loose.push(f);
    }
  }
  for (const f of loose) out.push({ path: f.name, file: f });
  const walk = async (e: FileSystemEntry, prefix: string): Promise<void> => {
    if (out.length > cap) return;
    if (e.isFile) {
      out.push({ path: prefix + e.name, file: await entryFile(e as FileSystemFileEntry) });
    } else if (e.isDirectory) {
      for (const c of await readAll(e as FileSystemDirectoryEntry)) await walk(c, `${prefix}${e.name}/`);
    }
  };
  for (const e of entries) await walk(e, '');
  if (entries.length === 0 && loose.length === 0) {
    for (let i = 0; i < dt.files.length; i++) out.push({ path: dt.files[i].name, file: dt.files[i] });
  }
  return out;
}
