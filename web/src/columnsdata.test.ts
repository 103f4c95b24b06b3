/* columnsdata.ts against a fake API: builtin.* values still pending are
 * asked for again until the server has them all, also when an ask in
 * between answers 304 (nothing computed since the last ask). */
import { afterEach, describe, expect, it, vi } from 'vitest';

const answers: ({ pending: number; values: (number | null)[]; etag: string } | null)[] = [];
const asks: (string | undefined)[] = [];
let answerMs = 0;   // how long the fake server takes to answer

vi.mock('./api', () => {
  class ApiError extends Error {
    constructor(public status: number, public code: string, message: string) { super(message); }
  }
  return {
    ApiError,
    columnList: async () => ['builtin.width'],
    columnValues: async (_ds: number, _cols: number[], etag?: string) => {
      asks.push(etag);
      if (answerMs) vi.setSystemTime(Date.now() + answerMs);
      const a = answers.shift();
      if (a === undefined) throw new Error('asked once too often');
      if (a === null) return null;
      return {
        count: 2, gen: 'g1', etag: a.etag, pending: a.pending,
        columns: [{ name: 'builtin.width', kind: 'number', values: a.values }],
      };
    },
  };
});

const cd = await import('./columnsdata');
const state = await import('./state');

afterEach(() => { vi.useRealTimers(); });

describe('ensureColumns with pending builtin.* values', () => {
  it('asks again after a 304 while values are pending, until none is', async () => {
    vi.useFakeTimers();
    state.table.value = { gen: 'g1', count: 2 } as typeof state.table.value;
    answers.push(
      { pending: 2, values: [null, null], etag: '"a"' },
      null,                                             // 304: nothing new yet
      { pending: 1, values: [16, null], etag: '"b"' },
      { pending: 0, values: [16, 17], etag: '"c"' },
    );
    await cd.loadColumnNames(7);
    await cd.ensureColumns(7, ['builtin.width']);
    expect(cd.columnsPending.value).toBe(2);
    for (let k = 0; k < 3; k++) await vi.advanceTimersByTimeAsync(3000);
    expect(asks).toEqual([undefined, '"a"', '"a"', '"b"']);
    expect(answers).toEqual([]);
    expect(cd.columnsPending.value).toBe(0);
    const c = cd.columns.value.get('builtin.width');
    expect(c && c.kind === 'number' ? Array.from(c.values) : null).toEqual([16, 17]);
    // nothing pending: no more asks
    await vi.advanceTimersByTimeAsync(10000);
    expect(asks.length).toBe(4);
  });

  it('waits longer when the server took long to answer', async () => {
    vi.useFakeTimers();
    asks.length = 0;
    answerMs = 2000;   // 4 x 2 s: the next ask after 8 s, not 3
    state.table.value = { gen: 'g1', count: 2 } as typeof state.table.value;
    answers.push(
      { pending: 2, values: [null, null], etag: '"d"' },
      { pending: 0, values: [16, 17], etag: '"e"' },
    );
    await cd.loadColumnNames(8);
    await cd.ensureColumns(8, ['builtin.width']);
    await vi.advanceTimersByTimeAsync(7000);
    expect(asks.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1500);
    expect(asks.length).toBe(2);
    expect(cd.columnsPending.value).toBe(0);
    answerMs = 0;
  });
});
