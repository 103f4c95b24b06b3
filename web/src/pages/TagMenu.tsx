/* The tag menu on the left of every dataset page.
 *
 * - The active bar: a role="meter" (data-testid="active-bar") of the active
 *   samples against the dataset's total (the table's count), following
 *   `active` — a tag chosen here, or the sampling slider while it moves.
 * - The tags as a listbox of the tag tree (parents first, children indented,
 *   with their sizes), the current selection first. Keyboard: the list is one
 *   tab stop; Up/Down/Home/End move and choose (aria-activedescendant).
 *   Choosing sets chosenTag and loads its members into `active`.
 * - The chosen tag's downloads (.txt of filenames, .tar of files), rename and
 *   delete (same rules as mv/rmdir: the server's messages are shown).
 * - A name field + Enter that freezes the current selection as a tag
 *   (POST /v1/datasets/ID/tags), shown only once the selection differs from
 *   its source tag (members without tag vs members of dataset.sel_tree).
 * Names are rendered as text only. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { signal } from '@preact/signals';
import * as api from '../api';
import type { Tag } from '../api';
import {
  tags, chosenTag, dataset, table, activeCount, selectionMembers, sourceMembers,
  sliderN, liveInfo, tagNote, type DatasetPageProps,
} from '../state';
import { chooseTag, reloadSelection, reloadTags, selectionDiffers } from '../data';
import { buildTagTree, liveTag } from '../tagtree';
import { formatBytes, formatCount, formatPercent, plural } from '../format';
import { refusal } from './util';
import { countOnes } from '../lib/active';

export function ActiveBar() {
  const t = table.value;
  const live = liveTag(tags.value);
  const li = liveInfo.value;
  const total = t ? t.count : li?.samples ?? (live ? live.files : 0);
  let n = activeCount.value;
  if (n === null) {
    // without membership arrays (an older server): the chosen tag's own
    // count, or the selection's size from the info text
    const c = chosenTag.value;
    const tag = c !== null ? tags.value.find((x) => x.id === c) : undefined;
    n = tag ? tag.files : c === null ? li?.selection ?? null : null;
  }
  const pct = n !== null && total > 0 ? Math.min(100, (100 * n) / total) : 0;
  const text = n === null ? 'unknown' : `${formatCount(n)} of ${formatCount(total)}`;
  return (
    <div class="active-bar-wrap">
      <div class="active-bar-label" id="active-bar-label">
        <span>Active samples</span>
        <span class="active-bar-num">{n === null ? '—' : formatCount(n)}
          <span class="muted"> / {formatCount(total)}</span></span>
      </div>
      <div
        class="active-bar"
        role="meter"
        data-testid="active-bar"
        aria-labelledby="active-bar-label"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={n ?? 0}
        aria-valuetext={n === null ? 'unknown' : `${text} (${formatPercent(n, total)})`}
      >
        <div class="active-bar-fill" style={{ width: `${pct}%` }} />
      </div>
      {sliderN.value !== null && <p class="help">Following the slider</p>}
    </div>
  );
}

interface Opt {
  key: string;
  id: number | null;
  label: string;
  count: number | null;
  bytes: number | null;
  depth: number;
  parent: string | null;
  live: boolean;
}

function TagList({ datasetId }: DatasetPageProps) {
  const rows = buildTagTree(tags.value);
  const sel = selectionMembers.value;
  const d = dataset.value;
  const source = d ? tags.value.find((t) => t.id === d.sel_tree) : undefined;
  const opts: Opt[] = [
    {
      key: 'sel', id: null, label: 'Current selection',
      count: sel ? countOnes(sel) : liveInfo.value?.selection ?? null, bytes: null, depth: 0,
      parent: source ? source.name : null, live: false,
    },
    ...rows.map((r) => ({
      key: `t${r.tag.id}`, id: r.tag.id, label: r.tag.name, count: r.tag.files,
      bytes: r.tag.bytes, depth: r.depth, parent: r.parent ? r.parent.name : null, live: r.tag.live,
    })),
  ];
  const cur = chosenTag.value;
  const idx = Math.max(0, opts.findIndex((o) => o.id === cur));
  const optId = (o: Opt) => `tagopt-${datasetId}-${o.key}`;

  const onKey = (e: KeyboardEvent) => {
    let i = idx;
    if (e.key === 'ArrowDown') i = Math.min(opts.length - 1, idx + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, idx - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = opts.length - 1;
    else return;
    e.preventDefault();
    if (i !== idx) void chooseTag(opts[i].id);
  };

  // keep the active option in view
  const listRef = useRef<HTMLUListElement>(null);
  useEffect(() => {
    const el = listRef.current?.querySelector('[aria-selected="true"]');
    if (el && 'scrollIntoView' in el) (el as HTMLElement).scrollIntoView({ block: 'nearest' });
  }, [cur]);

  return (
    <ul
      ref={listRef}
      class="tag-list"
      role="listbox"
      tabIndex={0}
      aria-label="Tags: choose which samples are active"
      aria-activedescendant={optId(opts[idx])}
      onKeyDown={onKey}
    >
      {opts.map((o, i) => (
        <li
          key={o.key}
          id={optId(o)}
          role="option"
          aria-selected={i === idx}
          class={`tag-opt depth-${Math.min(o.depth, 6)}${o.id === null ? ' tag-sel' : ''}`}
          onClick={() => void chooseTag(o.id)}
        >
          <span class="tag-name">
            {o.depth > 0 && <span class="tree-mark" aria-hidden="true">└ </span>}
            {o.label}
          </span>
          <span class="tag-count">{o.count === null ? '' : formatCount(o.count)}</span>
          <span class="sr-only">
            {o.count !== null ? ` ${o.count === 1 ? 'sample' : 'samples'}${o.bytes !== null ? `, ${formatBytes(o.bytes)}` : ''}` : ''}
            {o.parent ? `, from ${o.parent}` : ''}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** Bumps when an action of the tag menu starts: the messages of older actions
 * (another form's too) are no longer shown under the new one. */
const actionSeq = signal(0);

function TagActions({ tag }: { tag: Tag }) {
  const [mode, setMode] = useState<'none' | 'rename' | 'delete'>('none');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [seq, setSeq] = useState(-1);
  useEffect(() => {
    setMode('none');
    setError(null);
  }, [tag.id]);

  const rename = async (e: Event) => {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('name') as HTMLInputElement;
    const name = input.value.trim();
    if (!name || name === tag.name) {
      setMode('none');
      return;
    }
    setBusy(true);
    setError(null);
    setSeq(++actionSeq.value);
    try {
      await api.tagRename(tag.id, name);
      setMode('none');
      await reloadTags();
    } catch (err) {
      setError(refusal(err, 'tag', name, 'rename failed'));
    } finally {
      setBusy(false);
    }
  };

  const del = async () => {
    setBusy(true);
    setError(null);
    setSeq(++actionSeq.value);
    try {
      await api.tagDelete(tag.id);
      setMode('none');
      document.querySelector<HTMLElement>('.tag-list')?.focus();
      await chooseTag(null);
      await reloadTags();
      await reloadSelection();
    } catch (err) {
      setError(refusal(err, 'tag', tag.name, 'delete failed'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="tag-actions" aria-label={`Tag ${tag.name}`} role="group">
      <p class="tag-actions-title"><span class="muted">Tag </span><strong>{tag.name}</strong></p>
      <p class="tag-downloads">
        <a href={api.filenamesUrl(tag.id)} download>Filenames (.txt)</a>
        <a href={api.tarUrl(tag.id)} download>Files (.tar)</a>
      </p>
      {tag.live ? (
        <p class="help">initial-tag holds the live samples: it cannot be renamed or deleted.</p>
      ) : mode === 'rename' ? (
        <form class="tag-rename" onSubmit={rename}
              onKeyDown={(e) => { if (e.key === 'Escape') { setMode('none'); setError(null); } }}>
          <label for="tag-rename-input">New name for {tag.name}</label>
          <input id="tag-rename-input" name="name" type="text" defaultValue={tag.name}
                 autocomplete="off" spellcheck={false} maxLength={128} autoFocus />
          <div class="row">
            <button type="submit" class="primary small" disabled={busy}>Rename</button>
            <button type="button" class="small" onClick={() => { setMode('none'); setError(null); }}>Cancel</button>
          </div>
        </form>
      ) : mode === 'delete' ? (
        <div class="confirm" role="group" aria-label="Confirm delete">
          <p>Delete tag <strong>{tag.name}</strong>? Its samples stay in the dataset.</p>
          <div class="row">
            <button type="button" class="danger small" disabled={busy} onClick={() => void del()}>
              Delete tag
            </button>
            <button type="button" class="small" onClick={() => { setMode('none'); setError(null); }} autoFocus>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <div class="row">
          <button type="button" class="small" onClick={() => setMode('rename')}>Rename…</button>
          <button type="button" class="small" onClick={() => setMode('delete')}>Delete…</button>
        </div>
      )}
      {error && seq === actionSeq.value && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

function FreezeForm({ datasetId }: DatasetPageProps) {
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const [seq, setSeq] = useState(-1);
  const current = seq === actionSeq.value;
  const sel = selectionMembers.value;
  const src = sourceMembers.value;
  let differs = selectionDiffers(sel, src);
  let selCount = sel ? countOnes(sel) : null;
  if (!sel || !src) {
    // no membership arrays (a server without /members): the selection is a
    // subset of its source tag, so the counts tell whether they differ
    const d = dataset.value;
    const source = d ? tags.value.find((t) => t.id === d.sel_tree) : undefined;
    selCount = liveInfo.value?.selection ?? null;
    differs = selCount !== null && !!source && selCount !== source.files;
  }

  const freeze = async (e: Event) => {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('name') as HTMLInputElement;
    const name = input.value.trim();
    if (!name) return;
    setBusy(true);
    setError(null);
    setStatus('');
    setSeq(++actionSeq.value);
    try {
      const t = await api.tagCreate(datasetId, name);
      input.value = '';
      setStatus(`Tag ${t.name} frozen: ${plural(t.files, 'sample')}.`);
      await reloadTags();
      await reloadSelection();
    } catch (err) {
      setError(refusal(err, 'tag', name, 'could not freeze the selection'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="freeze">
      {differs && (
        <form onSubmit={freeze}>
          <label for="freeze-name">Freeze the selection as a tag</label>
          <input id="freeze-name" name="name" type="text" placeholder="tag name, then Enter"
                 autocomplete="off" spellcheck={false} maxLength={128} disabled={busy}
                 aria-describedby="freeze-help" />
          <p id="freeze-help" class="help">
            The current selection ({selCount === null ? '? samples' : plural(selCount, 'sample')}) becomes a
            read-only tag, a folder in every mount.
          </p>
        </form>
      )}
      {error && current && <p class="error" role="alert">{error}</p>}
      <p class="status" role="status">{current ? status : ''}</p>
    </div>
  );
}

export function TagMenu({ datasetId }: DatasetPageProps) {
  const c = chosenTag.value;
  const chosen = c !== null ? tags.value.find((t) => t.id === c) : undefined;
  return (
    <nav class="tag-menu" aria-label="Tag menu">
      <h2 class="side-h">Tags</h2>
      <ActiveBar />
      <TagList datasetId={datasetId} />
      {tagNote.value && <p class="help" role="status">{tagNote.value}</p>}
      {chosen && <TagActions tag={chosen} />}
      <FreezeForm datasetId={datasetId} />
    </nav>
  );
}
