import { describe, it, expect } from 'vitest';
import { buildTagTree, liveTag } from './tagtree';
import type { Tag } from './api';

const tag = (id: number, name: string, parent: number, live = false): Tag => ({
  id, name, parent, live, dataset: 1, parent_name: '', created_ns: '0', root: 100 + id,
  files: id, bytes: id * 10,
});

describe('buildTagTree', () => {
  it('puts children under their parents, depth-first, in list order', () => {
    const rows = buildTagTree([
      tag(1, 'initial-tag', 0, true), tag(2, 'v1', 1), tag(3, 'best', 2), tag(4, 'v2', 1),
    ]);
    expect(rows.map((r) => [r.tag.name, r.depth])).toEqual([
      ['initial-tag', 0], ['v1', 1], ['best', 2], ['v2', 1],
    ]);
    expect(rows[0].hasChildren).toBe(true);
    expect(rows[2].hasChildren).toBe(false);
    expect(rows[2].parent?.name).toBe('v1');
  });
  it('makes a tag whose parent is gone a root', () => {
    const rows = buildTagTree([tag(1, 'initial-tag', 0, true), tag(5, 'orphan', 3)]);
    expect(rows.map((r) => [r.tag.name, r.depth])).toEqual([['initial-tag', 0], ['orphan', 0]]);
  });
  it('survives a cycle and a self-parent', () => {
    const rows = buildTagTree([tag(1, 'a', 2), tag(2, 'b', 1), tag(3, 'c', 3)]);
    expect(rows.map((r) => r.tag.name).sort()).toEqual(['a', 'b', 'c']);
    expect(rows.length).toBe(3);
  });
  it('finds the live tag', () => {
    expect(liveTag([tag(2, 'v1', 1), tag(1, 'initial-tag', 0, true)])?.id).toBe(1);
    expect(liveTag([])).toBeUndefined();
  });
});
