/* The tag tree from parent links (pure; unit-tested).
 *
 * Tags come from GET /v1/datasets/ID/tags (initial-tag first, then by
 * creation); each names its parent by id (0 = none). Roots are tags whose
 * parent is 0, themselves, or a tag not in the list (deleted since). Children
 * keep the list's order. A cycle in the links (which the server never makes)
 * cannot loop: each tag is placed once, and tags left unplaced become roots. */
import type { Tag } from './api';

export interface TagRow {
  tag: Tag;
  depth: number;       // 0 for roots
  parent: Tag | null;  // the parent tag when it is in the list
  hasChildren: boolean;
}

/** The tree flattened depth-first (parents before their children). */
export function buildTagTree(tags: readonly Tag[]): TagRow[] {
  const byId = new Map<number, Tag>();
  for (const t of tags) byId.set(t.id, t);
  const kids = new Map<number, Tag[]>();
  const roots: Tag[] = [];
  for (const t of tags) {
    const p = t.parent;
    if (p > 0 && p !== t.id && byId.has(p)) {
      let a = kids.get(p);
      if (!a) kids.set(p, (a = []));
      a.push(t);
    } else roots.push(t);
  }
  const out: TagRow[] = [];
  const placed = new Set<number>();
  const walk = (t: Tag, depth: number, parent: Tag | null) => {
    if (placed.has(t.id)) return;
    placed.add(t.id);
    const ch = kids.get(t.id) ?? [];
    out.push({ tag: t, depth, parent, hasChildren: ch.length > 0 });
    for (const c of ch) walk(c, depth + 1, t);
  };
  for (const r of roots) walk(r, 0, null);
  // tags only reachable through a cycle
  for (const t of tags) if (!placed.has(t.id)) walk(t, 0, null);
  return out;
}

/** The live tag (initial-tag) of a list, or undefined. */
export function liveTag(tags: readonly Tag[]): Tag | undefined {
  return tags.find((t) => t.live) ?? tags.find((t) => t.name === 'initial-tag');
}
