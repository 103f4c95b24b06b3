/* My datasets: name, samples, size, created; create one by name.
 * Samples and size are those of each dataset's initial-tag (its live tree),
 * from its info text (GET /v1/datasets/ID/info: the tag list counts only
 * frozen tags); the server's message is shown as is when a
 * create is refused (the same rules and messages as mkdir). The list is
 * asked for again every 5 s while the page is visible (lib/visiblepoll.ts),
 * so a dataset made by mkdir in a mount shows without a reload. */
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ApiError, type Dataset } from '../api';
import { formatBytes, formatCount, formatDate, isoDate } from '../format';
import { parseInfo, type InfoFigures } from '../info';
import { linkClick } from '../router';
import { refusal } from './util';
import { pollWhileVisible } from '../lib/visiblepoll';

interface Row {
  ds: Dataset;
  live?: InfoFigures | null; // undefined while loading, null when it failed
}

export function DatasetsPage() {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [createError, setCreateError] = useState<string | null>(null);
  const [status, setStatus] = useState<string>('');
  const [busy, setBusy] = useState(false);

  const known = useRef(new Map<number, InfoFigures | null>());

  // the list, and the info text of every dataset (all = false: only of the
  // datasets not seen before — the 5-s poll, so it does not read the info of
  // every dataset, 0.6 s of server time at 1,000,000 samples, each tick)
  const load = async (all = true) => {
    try {
      const list = await api.datasetList();
      setLoadError(null);
      const seen = known.current;
      setRows(list.map((ds) => ({ ds, live: seen.get(ds.id) })));
      const lives = await Promise.all(list.map(async (ds) => {
        if (!all && seen.has(ds.id)) return seen.get(ds.id) ?? null;
        try {
          return parseInfo(await api.infoRead(ds.id));
        } catch {
          return null;
        }
      }));
      list.forEach((ds, i) => seen.set(ds.id, lives[i]));
      setRows(list.map((ds, i) => ({ ds, live: lives[i] })));
    } catch (e) {
      setLoadError(e instanceof ApiError ? e.message : 'could not load the datasets');
    }
  };

  useEffect(() => {
    void load();
    // a dataset made elsewhere (mkdir in a mount, the API) shows without a
    // reload: GET /v1/datasets every 5 s while this page is open and visible
    return pollWhileVisible(() => load(false), 5000);
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('name') as HTMLInputElement;
    const name = input.value.trim();
    if (!name) {
      setCreateError('Give the dataset a name.');
      input.focus();
      return;
    }
    setBusy(true);
    setCreateError(null);
    setStatus('');
    try {
      const ds = await api.datasetCreate(name);
      input.value = '';
      setStatus(`Dataset ${ds.name} created.`);
      await load();
    } catch (err) {
      setCreateError(refusal(err, 'dataset', name, 'could not create the dataset'));
      input.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="ds-h">
      <h1 id="ds-h">My datasets</h1>
      <form class="inline-form card" onSubmit={create}>
        <label for="new-ds">New dataset</label>
        <input
          id="new-ds"
          name="name"
          type="text"
          autocomplete="off"
          spellcheck={false}
          maxLength={128}
          placeholder="e.g. leaves"
          aria-describedby="new-ds-help"
          aria-invalid={createError ? true : undefined}
        />
        <button type="submit" class="primary" disabled={busy}>Create</button>
        <p id="new-ds-help" class="help">
          1–128 letters, digits, <code>.</code> <code>_</code> <code>-</code>, starting with a letter or digit.
        </p>
        {createError && <p class="error" role="alert">{createError}</p>}
        <p class="status" role="status">{status}</p>
      </form>

      {loadError && <p class="error" role="alert">Could not load your datasets: {loadError}</p>}
      {rows === null && !loadError && <p class="muted" role="status">Loading…</p>}
      {rows && rows.length === 0 && (
        <p class="empty">No datasets yet. Create one above, then upload images into it.</p>
      )}
      {rows && rows.length > 0 && (
        <table class="data">
          <caption class="sr-only">Your datasets</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="num">Samples</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ ds, live }) => (
              <tr key={ds.id}>
                <th scope="row">
                  <a href={`/datasets/${ds.id}`} onClick={linkClick}>{ds.name}</a>
                </th>
                <td class="num">{live?.samples != null ? formatCount(live.samples) : live === undefined ? '…' : '—'}</td>
                <td class="num">{live?.bytes != null ? formatBytes(live.bytes) : live === undefined ? '…' : '—'}</td>
                <td class="nowrap"><time dateTime={isoDate(ds.created_ns)}>{formatDate(ds.created_ns)}</time></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
