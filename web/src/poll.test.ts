/* The dataset loader against a fake API: what opening a dataset loads, and
 * that a poll reloads only what its changed counters name. */
import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';

const calls: string[] = [];
let st: Record<string, string> = { tree: '1', tags: '1', selection: '1', runs: '1', embeddings: '1' };
let dsName = 'd';
let count = 3;
let runsList: { number: number; state: string }[] = [];
let tableFails = 0;

vi.mock('./api', () => {
  class ApiError extends Error {
    constructor(public status: number, public code: string, message: string) { super(message); }
  }
  const log = (name: string) => calls.push(name);
  return {
    ApiError,
    datasetGet: async (id: number) => {
      log('dataset');
      if (id === 9) throw new ApiError(404, 'not_found', 'no such dataset');
      return { id, uid: 'u', name: dsName, sel_tree: 5, live_root: 2 };
    },
    datasetState: async () => { log('state'); return { ...st }; },
    infoRead: async () => { log('info'); return `samples: ${count}\nbytes: 10\nselection: 2 samples from initial-tag\n`; },
    tagList: async () => { log('tags'); return [{ id: 5, name: 'initial-tag', parent: 0, live: true, files: 0, bytes: 0 }]; },
    table: async () => {
      log('table');
      if (tableFails > 0) { tableFails--; throw new ApiError(503, 'busy', 'server busy'); }
      return { gen: st.tree, count, path: [], size: [], ino: [], kept: new Uint8Array(count) };
    },
    runList: async () => { log('runs'); return runsList; },
    embeddingList: async () => { log('embeddings'); return []; },
    members: async (_ds: number, tag?: number | null) => {
      log(tag ? `members ${tag}` : 'members');
      if (tag === 8) throw new ApiError(500, 'io', 'Input/output error');
      return { count, gen: st.tree, bytes: tag ? new Uint8Array(count).fill(1) : Uint8Array.from({ length: count }, (_, i) => (i < 2 ? 1 : 0)) };
    },
    scores: async () => {
      log('scores');
      if (!runsList.some((r) => r.state === 'done')) throw new ApiError(404, 'no_run', 'no finished run');
      return { count, gen: st.tree, run: 1, score: new Float32Array(count), rank: new Int32Array(count) };
    },
  };
});

const data = await import('./data');
const state = await import('./state');

beforeEach(() => {
  calls.length = 0;
  st = { tree: '1', tags: '1', selection: '1', runs: '1', embeddings: '1' };
  dsName = 'd';
  count = 3;
  runsList = [];
  tableFails = 0;
});
afterEach(() => data.closeDataset());

describe('openDataset', () => {
  it('loads everything once, selection as the default chosen tag', async () => {
    await data.openDataset(1);
    expect(calls.sort()).toEqual(['dataset', 'embeddings', 'info', 'members', 'members 5', 'runs', 'scores',
      'state', 'table', 'tags'].sort());
    expect(state.chosenTag.value).toBeNull();
    expect([...state.active.value!]).toEqual([1, 1, 0]);
    expect(state.scores.value).toBeNull(); // 404 no_run is normal
    expect(state.tags.value[0].files).toBe(3); // from info
    expect(data.selectionDiffers(state.selectionMembers.value, state.sourceMembers.value)).toBe(true);
  });
  it('shows nothing of a dataset that answers 404', async () => {
    await data.openDataset(9);
    expect(state.datasetError.value).toBe('not_found');
    expect(state.dataset.value).toBeNull();
    expect(calls.sort()).toEqual(['dataset', 'state']); // no tags, table, arrays
  });
});

describe('poll', () => {
  it('asks only /state when nothing changed', async () => {
    await data.openDataset(1);
    calls.length = 0;
    await data.poll();
    expect(calls).toEqual(['state']);
  });
  it('reloads tags only when only tags changed', async () => {
    await data.openDataset(1);
    calls.length = 0;
    st.tags = '2';
    await data.poll();
    expect(calls.sort()).toEqual(['state', 'tags']);
  });
  it('reloads the table and every array when the tree changed', async () => {
    await data.openDataset(1);
    calls.length = 0;
    st.tree = '2';
    count = 4;
    await data.poll();
    expect(calls).toContain('table');
    expect(calls).toContain('members');
    expect(calls).toContain('scores');
    expect(calls).not.toContain('runs');
    expect(state.table.value!.count).toBe(4);
    expect(state.active.value!.length).toBe(4);
  });
  it('loads scores when a run finished', async () => {
    await data.openDataset(1);
    calls.length = 0;
    st.runs = '2';
    runsList = [{ number: 1, state: 'done' }];
    await data.poll();
    // the run may have computed the built-in embedding: the list and the plot follow
    expect(calls.sort()).toEqual(['embeddings', 'runs', 'scores', 'state']);
    expect(state.scores.value!.run).toBe(1);
  });
  it('reloads the embeddings and bumps the plot\'s layout stamp when embeddings changed', async () => {
    await data.openDataset(1);
    calls.length = 0;
    const before = state.layoutStamp.value;
    st.embeddings = '2';
    await data.poll();
    expect(calls.sort()).toEqual(['embeddings', 'state']);
    expect(state.layoutStamp.value).toBe(before + 1);
  });
  it('does not bump the layout stamp when a run only started', async () => {
    await data.openDataset(1);
    calls.length = 0;
    const before = state.layoutStamp.value;
    st.runs = '2';
    runsList = [{ number: 1, state: 'running' }];
    await data.poll();
    expect(calls.sort()).toEqual(['runs', 'state']);
    expect(state.layoutStamp.value).toBe(before);
  });
  it('refetches the dataset when /state names it otherwise (renamed in the mount)', async () => {
    await data.openDataset(1);
    calls.length = 0;
    st.name = 'd';
    await data.poll();
    expect(calls).toEqual(['state']); // same name: nothing
    dsName = 'e';
    st.name = 'e';
    await data.poll();
    expect(calls.sort()).toEqual(['dataset', 'state', 'state']);
    expect(state.dataset.value!.name).toBe('e');
  });
  it('says so when the chosen tag was deleted elsewhere', async () => {
    await data.openDataset(1);
    state.tags.value = [...state.tags.value, { id: 7, name: 'lead', parent: 5, live: false, files: 1, bytes: 1 } as never];
    await data.chooseTag(7);
    st.tags = '2';
    await data.poll(); // the list answers without tag 7
    expect(state.chosenTag.value).toBeNull();
    expect(state.tagNote.value).toBe('Tag lead was deleted; showing the current selection.');
    await data.chooseTag(5);
    expect(state.tagNote.value).toBeNull();
  });
  it('says so when the chosen tag\'s members cannot be loaded', async () => {
    await data.openDataset(1);
    state.tags.value = [...state.tags.value, { id: 8, name: 'broken', parent: 5, live: false, files: 1, bytes: 1 } as never];
    await data.chooseTag(8);
    expect(state.active.value).toBeNull();
    expect(state.tagNote.value).toBe('The samples of tag broken could not be loaded (Input/output error); choose it again to retry.');
    await data.chooseTag(5);
    expect(state.tagNote.value).toBeNull();
    expect([...state.active.value!]).toEqual([1, 1, 1]);
  });
  it('loads everything again after a load failed (a 503), until it works', async () => {
    tableFails = 2;
    await data.openDataset(1);
    expect(state.table.value).toBeNull();
    expect(state.loadFailed.value).toEqual({ table: 'server busy' });
    calls.length = 0;
    await data.poll(); // nothing changed, but the table failed: every load again
    expect(calls).toContain('table');
    expect(calls).toContain('tags');
    expect(calls).toContain('runs');
    expect(state.loadFailed.value).toEqual({ table: 'server busy' });
    await data.poll();
    expect(state.table.value!.count).toBe(3);
    expect(state.loadFailed.value).toEqual({});
    calls.length = 0;
    await data.poll();
    expect(calls).toEqual(['state']);
  });
  it('follows a chosen tag', async () => {
    await data.openDataset(1);
    await data.chooseTag(5);
    expect([...state.active.value!]).toEqual([1, 1, 1]);
    await data.chooseTag(null);
    expect([...state.active.value!]).toEqual([1, 1, 0]);
  });
});
