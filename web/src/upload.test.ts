/* The upload runner against a fake API: folders made parents first and once,
 * a file already there with the same content skipped (no bytes sent), a blob
 * the server has not sent again, a failed create-with-content leaving no node
 * behind (one request: the server commits it or makes nothing). */
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { planUpload } from './uploadplan';
import { sha256Js } from './sha256';

interface FNode { ino: number; name: string; kind: number; has_sha: boolean; sha?: string; parent: number }
const calls: string[] = [];
let nodes: FNode[] = [];
let blobs = new Set<string>();
let nextIno = 100;
let failCommitFor = '';

vi.mock('./api', () => {
  class ApiError extends Error {
    constructor(public status: number, public code: string, message: string) { super(message); }
  }
  return {
    ApiError,
    nodeChildrenAll: async (p: number) => {
      calls.push(`list ${p}`);
      return nodes.filter((n) => n.parent === p).map((n) => ({ ...n }));
    },
    // as the server does it: a file with sha256+size is created and
    // committed in one request, or nothing is made
    nodeCreate: async (p: number, n: { name: string; kind: number; sha256?: string }) => {
      calls.push(`create ${p} ${n.name} ${n.kind}`);
      if (n.sha256 && !blobs.has(n.sha256)) throw new ApiError(409, 'blob_missing', 'the server does not have this blob');
      if (nodes.some((x) => x.parent === p && x.name === n.name)) throw new ApiError(409, 'exists', 'File exists');
      if (n.sha256 && n.name === failCommitFor) throw new ApiError(507, 'no_space', 'No space left on device');
      const node = { ino: nextIno++, name: n.name, kind: n.kind, has_sha: !!n.sha256, sha: n.sha256, parent: p };
      nodes.push(node);
      return { ...node };
    },
    nodeRemove: async (p: number, name: string) => {
      calls.push(`remove ${p} ${name}`);
      nodes = nodes.filter((x) => !(x.parent === p && x.name === name));
    },
    blobHead: async (sha: string) => {
      calls.push(`head ${sha.slice(0, 6)}`);
      return blobs.has(sha);
    },
    blobPutProgress: async (sha: string, b: Blob, onProgress: (n: number) => void) => {
      calls.push(`put ${sha.slice(0, 6)}`);
      blobs.add(sha);
      onProgress(b.size);
    },
    contentCommit: async (ino: number, c: { sha256: string }) => {
      const n = nodes.find((x) => x.ino === ino)!;
      calls.push(`commit ${n.name}`);
      if (n.name === failCommitFor) throw new ApiError(507, 'no_space', 'No space left on device');
      n.has_sha = true;
      n.sha = c.sha256;
      return { ...n };
    },
  };
});

globalThis.requestAnimationFrame ??= ((cb: FrameRequestCallback) =>
  setTimeout(() => cb(0), 0) as unknown as number);
globalThis.cancelAnimationFrame ??= ((h: number) => clearTimeout(h));

const { Uploader } = await import('./upload');

function file(path: string, text: string): { path: string; file: File } {
  return { path, file: new File([text], path.split('/').pop()!, { lastModified: 1700000000000 }) };
}

async function run(picked: { path: string; file: File }[]) {
  const plan = planUpload(picked.map((p) => ({ path: p.path, size: p.file.size })));
  const u = new Uploader(1, plan, picked.map((p) => p.file), () => {});
  return u.run();
}

beforeEach(() => {
  calls.length = 0;
  nodes = [];
  blobs = new Set();
  nextIno = 100;
  failCommitFor = '';
});

describe('Uploader', () => {
  it('makes folders parents first, once, then the files in them', async () => {
    const p = await run([file('a/b/x.jpg', 'x'), file('a/y.jpg', 'y'), file('a/b/z.jpg', 'z')]);
    expect(p.failed).toBe(0);
    const mk = calls.filter((c) => c.startsWith('create') && c.endsWith(' 1'));
    expect(mk).toEqual(['create 1 a 1', 'create 100 b 1']);
    const a = nodes.find((n) => n.name === 'a')!;
    const b = nodes.find((n) => n.name === 'b')!;
    expect(b.parent).toBe(a.ino);
    expect(nodes.filter((n) => n.kind === 2 && n.parent === b.ino).map((n) => n.name).sort()).toEqual(['x.jpg', 'z.jpg']);
    expect(nodes.every((n) => n.kind === 1 || n.has_sha)).toBe(true);
  });

  it('skips a file already there with the same content, sending nothing', async () => {
    await run([file('a/x.jpg', 'same')]);
    calls.length = 0;
    const p = await run([file('a/x.jpg', 'same'), file('a/new.jpg', 'new')]);
    expect(p.skipped).toBe(1);
    expect(p.done).toBe(2);
    expect(calls.filter((c) => c.startsWith('create'))).toEqual(['create 100 new.jpg 2']);
    expect(calls.filter((c) => c.startsWith('put'))).toEqual([`put ${sha256Js(new TextEncoder().encode('new')).slice(0, 6)}`]);
  });

  it('does not send bytes the server has (HEAD 200), and replaces other content under the same name', async () => {
    await run([file('x.jpg', 'one')]);
    blobs.add(sha256Js(new TextEncoder().encode('two')));
    calls.length = 0;
    const p = await run([file('x.jpg', 'two')]);
    expect(p.failed).toBe(0);
    expect(calls.some((c) => c.startsWith('put'))).toBe(false);
    expect(calls.some((c) => c.startsWith('create'))).toBe(false);
    expect(nodes.find((n) => n.name === 'x.jpg')!.sha).toBe(sha256Js(new TextEncoder().encode('two')));
    expect(p.jobs[0].reason).toMatch(/replaced/);
  });

  it('lists a failure with its reason and leaves no half sample', async () => {
    failCommitFor = 'bad.jpg';
    const p = await run([file('bad.jpg', 'b'), file('good.jpg', 'g')]);
    expect(p.failed).toBe(1);
    const bad = p.jobs.find((j) => j.plan.name === 'bad.jpg')!;
    expect(bad.state).toBe('failed');
    expect(bad.reason).toBe('No space left on device');
    expect(nodes.map((n) => n.name)).toEqual(['good.jpg']);
    expect(calls.some((c) => c.startsWith('commit'))).toBe(false);
  });

  it('fails the files of a folder that cannot be made, with the reason', async () => {
    nodes.push({ ino: 50, name: 'a', kind: 2, has_sha: true, sha: 'f'.repeat(64), parent: 1 });
    const p = await run([file('a/x.jpg', 'x'), file('b.jpg', 'b')]);
    expect(p.failed).toBe(1);
    expect(p.jobs[0].reason).toBe('folder a: a file named a is already there');
    expect(p.jobs[1].state).toBe('done');
  });

  it('counts every byte once in the total', async () => {
    const p = await run([file('a.jpg', '12345'), file('b.jpg', '678')]);
    expect(p.totalBytes).toBe(8);
    expect(p.doneBytes).toBe(8);
  });
});
