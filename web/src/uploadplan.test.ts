import { describe, it, expect } from 'vitest';
import { planUpload, fileAction, checkPath, LIMIT_MESSAGE, MAX_BYTES, limitMessage } from './uploadplan';

const f = (path: string, size = 10) => ({ path, size });

describe('planUpload limits', () => {
  it('takes 1,000 files', () => {
    const files = Array.from({ length: 1000 }, (_, i) => f(`a/${i}.jpg`));
    expect(planUpload(files).error).toBeNull();
  });
  it('refuses 1,001 files before anything, with the message', () => {
    const files = Array.from({ length: 1001 }, (_, i) => f(`a/${i}.jpg`));
    const p = planUpload(files);
    expect(p.error).toBe(`You chose 1,001 files (10.0 KB). ${LIMIT_MESSAGE}`);
    expect(p.files).toEqual([]);
    expect(p.folders).toEqual([]);
  });
  it('refuses more than 1 GB in all', () => {
    expect(planUpload([f('a', MAX_BYTES)]).error).toBeNull();
    expect(planUpload([f('a', MAX_BYTES), f('b', 1)]).error).toBe(`You chose 2 files (1.1 GB). ${LIMIT_MESSAGE}`);
  });
  it('says how many files were chosen, or "at least" when a drop was counted only past the limit', () => {
    expect(limitMessage(1001, 2.5e9)).toBe(
      'You chose 1,001 files (2.5 GB). At most 1,000 files or 1 GB per upload here — use the mount (cp -r) or the Python client for more');
    expect(limitMessage(1, 2e9)).toMatch(/^You chose 1 file \(2\.0 GB\)\. /);
    const files = Array.from({ length: 1001 }, (_, i) => f(`a/${i}.jpg`, 1000));
    expect(planUpload(files, 1000, MAX_BYTES, true).error).toMatch(/^You chose at least 1,001 files \(at least 1\.0 MB\)\. At most/);
  });
  it('says what to use instead', () => {
    expect(LIMIT_MESSAGE).toContain('At most 1,000 files or 1 GB per upload');
    expect(LIMIT_MESSAGE).toContain('mount');
    expect(LIMIT_MESSAGE).toContain('Python client');
  });
});

describe('planUpload folders', () => {
  it('creates every folder once, parents before children', () => {
    const p = planUpload([
      f('photos/b/deep/x.jpg'), f('photos/a/1.jpg'), f('photos/top.jpg'), f('root.jpg'),
      f('photos/a/2.jpg'),
    ]);
    expect(p.folders).toEqual(['photos', 'photos/a', 'photos/b', 'photos/b/deep']);
    for (const [i, d] of p.folders.entries()) {
      const parent = d.includes('/') ? d.slice(0, d.lastIndexOf('/')) : '';
      if (parent) expect(p.folders.indexOf(parent)).toBeLessThan(i);
    }
    expect(p.files.map((x) => [x.dir, x.name])).toEqual([
      ['photos/b/deep', 'x.jpg'], ['photos/a', '1.jpg'], ['photos', 'top.jpg'], ['', 'root.jpg'],
      ['photos/a', '2.jpg'],
    ]);
  });
  it('refuses bad paths one by one, with reasons', () => {
    const p = planUpload([f('ok.jpg'), f('a//b.jpg'), f('../x.jpg'), f('ok.jpg'), f('x'.repeat(256))]);
    expect(p.files.map((x) => x.path)).toEqual(['ok.jpg']);
    // listed by path
    expect(p.refused.map((r) => r.index)).toEqual([2, 1, 3, 4]);
    expect(p.refused[2].reason).toMatch(/twice/);
  });
  it('refuses a file that is also a folder of the upload', () => {
    const p = planUpload([f('a'), f('a/b.jpg')]);
    expect(p.files.map((x) => x.path)).toEqual(['a/b.jpg']);
    expect(p.refused[0].path).toBe('a');
  });
  it('normalises leading slashes and backslashes', () => {
    expect(checkPath('/a\\b.jpg')).toEqual({ path: 'a/b.jpg' });
    expect('reason' in checkPath('')).toBe(true);
  });
  it('keeps names as given (no escaping)', () => {
    const p = planUpload([f('<img src=x onerror=alert(1)>.jpg')]);
    expect(p.files[0].name).toBe('<img src=x onerror=alert(1)>.jpg');
  });
});

describe('fileAction', () => {
  const sha = 'a'.repeat(64);
  it('skips the same content under the same name', () => {
    expect(fileAction({ ino: 5, kind: 2, has_sha: true, sha }, sha)).toEqual({ kind: 'skip' });
  });
  it('replaces other content under the same name', () => {
    expect(fileAction({ ino: 5, kind: 2, has_sha: true, sha: 'b'.repeat(64) }, sha))
      .toEqual({ kind: 'replace', ino: 5 });
    expect(fileAction({ ino: 5, kind: 2, has_sha: false }, sha)).toEqual({ kind: 'replace', ino: 5 });
  });
  it('creates a new name, refuses over a folder', () => {
    expect(fileAction(undefined, sha)).toEqual({ kind: 'create' });
    expect(fileAction({ ino: 5, kind: 1, has_sha: false }, sha).kind).toBe('refuse');
  });
});
