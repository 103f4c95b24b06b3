import { describe, it, expect } from 'vitest';
import { decodeError, splitScores, ApiError } from './api';
import { parseRoute } from './router';
import { selectionDiffers } from './data';

describe('decodeError', () => {
  it('reads the server JSON error', () => {
    const e = decodeError(409, '{"error":{"code":"exists","errno":"EEXIST","message":"name taken"}}',
      'application/json');
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.code, e.errno, e.message]).toEqual([409, 'exists', 'EEXIST', 'name taken']);
  });
  it('fills a missing code or message from the status', () => {
    const e = decodeError(404, '{"error":{}}');
    expect(e.code).toBe('http_404');
    expect(e.message).toBe('not found');
  });
  it('takes a short plain-text body as the message', () => {
    const e = decodeError(404, 'the app is not installed\n', 'text/plain');
    expect([e.code, e.message]).toEqual(['http_404', 'the app is not installed']);
  });
  it('ignores HTML and broken JSON bodies', () => {
    expect(decodeError(502, '<html>bad gateway</html>', 'text/html').message).toBe('bad gateway');
    expect(decodeError(500, '{"error":', 'application/json').code).toBe('http_500');
    expect(decodeError(418, '').message).toBe('HTTP 418');
  });
});

describe('splitScores', () => {
  it('views N float32 then N int32 of one buffer', () => {
    const buf = new ArrayBuffer(3 * 8);
    new Float32Array(buf, 0, 3).set([0.5, NaN, 2]);
    new Int32Array(buf, 12, 3).set([1, -1, 0]);
    const s = splitScores(buf, 3);
    expect(s.score[0]).toBe(0.5);
    expect(Number.isNaN(s.score[1])).toBe(true);
    expect([...s.rank]).toEqual([1, -1, 0]);
    expect(s.rank.buffer).toBe(buf);
  });
  it('takes the count from the length when the header is absent', () => {
    expect(splitScores(new ArrayBuffer(16)).rank.length).toBe(2);
    expect(splitScores(new ArrayBuffer(0), NaN).rank.length).toBe(0);
  });
  it('refuses a short answer', () => {
    expect(() => splitScores(new ArrayBuffer(8), 2)).toThrow(ApiError);
  });
});

describe('parseRoute', () => {
  it('knows the app routes', () => {
    expect(parseRoute('/')).toEqual({ name: 'home' });
    expect(parseRoute('/preferences')).toEqual({ name: 'preferences' });
    expect(parseRoute('/datasets/12')).toEqual({ name: 'overview', id: 12 });
    expect(parseRoute('/datasets/12/')).toEqual({ name: 'overview', id: 12 });
    expect(parseRoute('/datasets/12/samples')).toEqual({ name: 'samples', id: 12 });
    expect(parseRoute('/datasets/12/samples/99')).toEqual({ name: 'sample', id: 12, ino: 99 });
    expect(parseRoute('/datasets/12/upload')).toEqual({ name: 'upload', id: 12 });
    expect(parseRoute('/datasets/12/sampling')).toEqual({ name: 'sampling', id: 12 });
    expect(parseRoute('/datasets/12/plot')).toEqual({ name: 'plot', id: 12 });
    expect(parseRoute('/datasets/12/analyze')).toEqual({ name: 'analyze', id: 12 });
  });
  it('sends everything else to not found', () => {
    for (const p of ['/x', '/datasets', '/datasets/0', '/datasets/01', '/datasets/a',
      '/datasets/1/nope', '/datasets/1/samples/0', '/datasets/1/samples/1/x'])
      expect(parseRoute(p)).toEqual({ name: 'notfound' });
  });
});

describe('selectionDiffers', () => {
  it('compares memberships', () => {
    const a = Uint8Array.from([1, 1, 0]);
    expect(selectionDiffers(a, Uint8Array.from([1, 1, 0]))).toBe(false);
    expect(selectionDiffers(a, Uint8Array.from([1, 1, 1]))).toBe(true);
    expect(selectionDiffers(a, Uint8Array.from([1, 1]))).toBe(true);
    expect(selectionDiffers(null, a)).toBe(false);
  });
});
