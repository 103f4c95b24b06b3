/* Dataset overview: the dataset id (its 24-hex uid) with a copy button,
 * samples and total size (initial-tag), the tags as a tree with parents and
 * sizes and their downloads, the embeddings, the latest runs with their state.
 * Everything comes from the shared signals the loader keeps current (a poll
 * every 2 s), so a mkdir or an upload through a mount shows here. */
import { useState } from 'preact/hooks';
import * as api from '../api';
import type { Run } from '../api';
import {
  dataset, tags, runs, embeddings, missingRoutes, table, type DatasetPageProps,
} from '../state';
import { buildTagTree, liveTag } from '../tagtree';
import { formatBytes, formatCount, formatDate, isoDate, plural } from '../format';
import { linkClick } from '../router';
import { copyText } from './util';

function CopyId({ uid }: { uid: string }) {
  const [msg, setMsg] = useState('');
  const copy = async () => {
    const ok = await copyText(uid);
    setMsg(ok ? 'Copied' : 'Copy failed: select the id and copy it');
    window.setTimeout(() => setMsg(''), 2500);
  };
  return (
    <span class="copy-id">
      <code class="uid" id="dataset-uid">{uid}</code>
      <button type="button" class="small" onClick={() => void copy()}
              aria-label="Copy the dataset id" aria-describedby="dataset-uid">Copy</button>
      <span class="status" role="status">{msg}</span>
    </span>
  );
}

function runProgress(r: Run): string {
  if (r.state === 'queued') return 'waiting';
  if (r.state === 'running') {
    const ph = r.phase ? `${r.phase} ` : '';
    return r.total > 0 ? `${ph}${formatCount(r.done)} / ${formatCount(r.total)}` : ph.trim() || 'running';
  }
  if (r.state === 'failed') return r.error || 'failed';
  if (r.state === 'done') {
    const c = r.candidates !== undefined ? plural(r.candidates, 'candidate') : '';
    const s = r.skipped ? `, ${formatCount(r.skipped)} skipped` : '';
    return c + s;
  }
  return '';
}

function Runs({ datasetId }: DatasetPageProps) {
  const list = runs.value;
  const missing = missingRoutes.value.runs;
  return (
    <section class="card" aria-labelledby="ov-runs">
      <h2 id="ov-runs">Latest runs</h2>
      {missing ? (
        <p class="muted">Runs cannot be listed: {missing}</p>
      ) : list.length === 0 ? (
        <p class="muted">
          No sampling run yet. <a href={`/datasets/${datasetId}/sampling`} onClick={linkClick}>Start one</a>.
        </p>
      ) : (
        <table class="data">
          <thead>
            <tr>
              <th scope="col" class="num">Run</th>
              <th scope="col">Request</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {list.slice(0, 10).map((r) => (
              <tr key={r.number}>
                <td class="num">{r.number}</td>
                <td><code>{r.request}</code></td>
                <td><span class={`badge state-${r.state}`}>{r.state}</span></td>
                <td>{runProgress(r)}</td>
                <td><time dateTime={isoDate(r.started_ns ?? r.created_ns)}>
                  {formatDate(r.started_ns || r.created_ns)}</time></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function OverviewPage({ datasetId }: DatasetPageProps) {
  const d = dataset.value;
  if (!d) return null;
  const live = liveTag(tags.value);
  const rows = buildTagTree(tags.value);
  const embs = embeddings.value;
  const t = table.value;
  const samples = t ? t.count : live ? live.files : null;
  return (
    <div class="overview">
      <section class="card" aria-labelledby="ov-facts">
        <h2 id="ov-facts" class="sr-only">Facts</h2>
        <dl class="facts">
          <div><dt>Dataset id</dt><dd><CopyId uid={d.uid} /></dd></div>
          <div><dt>Samples</dt><dd>{samples === null ? '—' : formatCount(samples)}</dd></div>
          <div><dt>Total size</dt><dd>{live ? formatBytes(live.bytes) : '—'}</dd></div>
          <div><dt>Created</dt><dd><time dateTime={isoDate(d.created_ns)}>{formatDate(d.created_ns)}</time></dd></div>
        </dl>
        {samples === 0 && (
          <p class="empty">
            No samples yet. <a href={`/datasets/${datasetId}/upload`} onClick={linkClick}>Upload images</a>,
            or copy them into <code>{d.name}/initial-tag/</code> on a mount.
          </p>
        )}
      </section>

      <section class="card" aria-labelledby="ov-tags">
        <h2 id="ov-tags">Tags</h2>
        <table class="data tag-tree">
          <thead>
            <tr>
              <th scope="col">Tag</th>
              <th scope="col">Parent</th>
              <th scope="col" class="num">Samples</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">Created</th>
              <th scope="col">Download</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.tag.id}>
                <th scope="row" class={`indent-${Math.min(r.depth, 6)}`}>
                  {r.depth > 0 && <span class="tree-mark" aria-hidden="true">└ </span>}
                  {r.tag.name}
                </th>
                <td>{r.parent ? r.parent.name : r.tag.parent_name || '—'}</td>
                <td class="num">{formatCount(r.tag.files)}</td>
                <td class="num">{formatBytes(r.tag.bytes)}</td>
                <td><time dateTime={isoDate(r.tag.created_ns)}>{formatDate(r.tag.created_ns)}</time></td>
                <td class="downloads">
                  <a href={api.filenamesUrl(r.tag.id)} download>
                    .txt<span class="sr-only"> filenames of {r.tag.name}</span></a>
                  <a href={api.tarUrl(r.tag.id)} download>
                    .tar<span class="sr-only"> files of {r.tag.name}</span></a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section class="card" aria-labelledby="ov-emb">
        <h2 id="ov-emb">Embeddings</h2>
        {embs.length === 0 ? (
          <p class="muted">
            No embedding uploaded: sampling uses the built-in embedder. Copy a CSV into{' '}
            <code>{d.name}/embeddings/</code> on a mount to use your own.
          </p>
        ) : (
          <table class="data">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">Dimensions</th>
                <th scope="col" class="num">Rows</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {embs.map((e) => (
                <tr key={e.id}>
                  <th scope="row">{e.name}</th>
                  <td class="num">{formatCount(e.dim)}</td>
                  <td class="num">{formatCount(e.rows)}</td>
                  <td><time dateTime={isoDate(e.created_ns)}>{formatDate(e.created_ns)}</time></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <Runs datasetId={datasetId} />
    </div>
  );
}
