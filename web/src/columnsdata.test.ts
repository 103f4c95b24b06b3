/* columnsdata.ts against a fake API: builtin.* values still pending are
 * asked for again until the server has them all, also when an ask in
 * between answers 304 (nothing computed since the last ask). */
import { afterEach, describe, expect, it, vi } from 'vitest';

const answers: ({ pending: number; values: (number | null)[]; etag: string } | null)[] = [];
const asks: (string | undefined)[] = [];

vi.mock('./api', () => {
  class ApiError extends Error {
    constructor(public status: number, public code: string, message: string) { super(message); }
  }
  return {
    ApiError,
    columnList: async () => ['builtin.width'],
    columnValues: async (_ds: number, _cols: number[], etag?: string) => {
      asks.push(etag);
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
});
