/* Upload: a drop zone, a browse button for files and one for a whole folder
 * (sub-folders kept). The plan is checked before anything is sent: more than
 * 1,000 files or 1 GB is refused with the message that says to use the mount
 * or the Python client; bad paths are listed with their reasons. Then the
 * runner (upload.ts) sends 4 files at a time, showing progress per file and
 * in total, skips files already there with the same content and lists each
 * failure with its reason. Files go into the dataset's initial-tag. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { signal } from '@preact/signals';
import { dataset, type DatasetPageProps } from '../state';
import { planUpload, MAX_FILES, MAX_BYTES, byPath, type Refused } from '../uploadplan';
import { Uploader, fromDrop, fromInput, type Picked, type Progress, type Job } from '../upload';
import { reloadTree } from '../data';
import { formatBytes, formatCount, formatPercent, plural } from '../format';
import { linkClick } from '../router';

const STATE_TEXT: Record<Job['state'], string> = {
  queued: 'waiting',
  hashing: 'checking',
  sending: 'sending',
  committing: 'saving',
  done: 'uploaded',
  skipped: 'skipped',
  failed: 'failed',
};

function JobRow({ j }: { j: Job }) {
  const pct = j.plan.size > 0 ? Math.round((100 * j.sent) / j.plan.size) : (j.state === 'done' ? 100 : 0);
  return (
    <li class={`job job-${j.state}`}>
      <span class="job-path">{j.plan.path}</span>
      <span class="job-size">{formatBytes(j.plan.size)}</span>
      <span class="job-state">
        {STATE_TEXT[j.state]}
        {j.state === 'sending' ? ` ${pct}%` : ''}
      </span>
      {j.reason && j.state !== 'failed' && <span class="job-note">{j.reason}</span>}
    </li>
  );
}

/* The upload of this tab, kept outside the page: moving to another tab of the
 * app and back shows it still going (or its result). */
interface UploadRun {
  ds: number;
  uploader: Uploader | null;
  progress: Progress | null;
  refused: Refused[];
  refusal: string | null;
}
const current = signal<UploadRun | null>(null);
const tick = signal(0);

function beforeUnload(e: BeforeUnloadEvent): void {
  // what is committed stays either way; the files in flight would be lost
  e.preventDefault();
  e.returnValue = '';
}

async function startUpload(ds: number, liveRoot: number, picked: Picked[], partial = false): Promise<void> {
  if (current.value?.uploader || picked.length === 0) return;
  const plan = planUpload(picked.map((p) => ({ path: p.path, size: p.file.size })), MAX_FILES, MAX_BYTES, partial);
  if (plan.error) {
    current.value = { ds, uploader: null, progress: null, refused: [], refusal: plan.error };
    return;
  }
  if (plan.files.length === 0) {
    current.value = { ds, uploader: null, progress: null, refused: plan.refused, refusal: null };
    return;
  }
  const u = new Uploader(liveRoot, plan, picked.map((p) => p.file), () => {
    tick.value++;
  });
  current.value = { ds, uploader: u, progress: u.p, refused: plan.refused, refusal: null };
  window.addEventListener('beforeunload', beforeUnload);
  try {
    await u.run();
  } finally {
    window.removeEventListener('beforeunload', beforeUnload);
    if (current.value?.uploader === u) current.value = { ...current.value, uploader: null };
    tick.value++;
  }
  void reloadTree();
}

export function UploadPage({ datasetId }: DatasetPageProps) {
  const [drag, setDrag] = useState(false);
  const [collecting, setCollecting] = useState(false);
  const filesRef = useRef<HTMLInputElement>(null);
  const folderRef = useRef<HTMLInputElement>(null);
  void tick.value; // re-render on progress
  const cur = current.value && current.value.ds === datasetId ? current.value : null;
  const busyElsewhere = !!current.value?.uploader && !cur;
  const running = !!current.value?.uploader;
  const progress = cur?.progress ?? null;
  const refusal = cur?.refusal ?? null;
  const refused = cur?.refused ?? [];

  // the folder input's attribute is not in preact's typings
  useEffect(() => {
    folderRef.current?.setAttribute('webkitdirectory', '');
  }, []);

  const start = async (picked: Picked[], partial = false) => {
    const d = dataset.value;
    if (!d || running) return;
    await startUpload(datasetId, d.live_root, picked, partial);
  };

  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setDrag(false);
    if (!e.dataTransfer || running) return;
    setCollecting(true);
    try {
      // a drop is read only to past the limit: its count is a lower bound
      await start(await fromDrop(e.dataTransfer, MAX_FILES), true);
    } finally {
      setCollecting(false);
    }
  };

  const onPick = (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const picked = input.files ? fromInput(input.files) : [];
    input.value = '';
    void start(picked);
  };

  const p = progress;
  const failures = p ? p.jobs.filter((j) => j.state === 'failed') : [];
  const d = dataset.value;
  return (
    <div class="upload">
      <h2 class="sr-only">Upload</h2>
      <div
        class={`dropzone${drag ? ' over' : ''}${running ? ' busy' : ''}`}
        onDragOver={(e) => { e.preventDefault(); if (!running) setDrag(true); }}
        onDragEnter={(e) => { e.preventDefault(); if (!running) setDrag(true); }}
        onDragLeave={() => setDrag(false)}
        onDrop={(e) => void onDrop(e)}
        role="group"
        aria-labelledby="dz-title"
        aria-describedby="dz-help"
        data-testid="dropzone"
      >
        <p id="dz-title" class="dz-title">Drop images or folders here</p>
        <p id="dz-help" class="help">
          Sub-folders are kept. Up to 1,000 files or 1 GB per upload; files already in{' '}
          {d ? <code>{d.name}/initial-tag</code> : 'the dataset'} with the same content are skipped.
        </p>
        <div class="row center">
          <button type="button" class="primary" disabled={running}
                  onClick={() => filesRef.current?.click()}>Choose files…</button>
          <button type="button" disabled={running}
                  onClick={() => folderRef.current?.click()}>Choose a folder…</button>
        </div>
        <input ref={filesRef} id="pick-files" class="sr-only" type="file" multiple tabIndex={-1}
               aria-label="Files to upload" onChange={onPick} />
        <input ref={folderRef} id="pick-folder" class="sr-only" type="file" multiple tabIndex={-1}
               aria-label="Folder to upload" onChange={onPick} />
        {collecting && <p class="muted" role="status">Reading the folder…</p>}
        {busyElsewhere && <p class="muted" role="status">Another dataset's upload is still going: wait for it to end.</p>}
      </div>

      {refusal && <p class="error refusal" role="alert">{refusal}</p>}

      {refused.length > 0 && (
        <section class="card" aria-labelledby="up-refused">
          <h3 id="up-refused">Not uploaded ({formatCount(refused.length)})</h3>
          <ul class="failures">
            {refused.map((r) => (
              <li key={r.index}><span class="job-path">{r.path}</span>: {r.reason}</li>
            ))}
          </ul>
        </section>
      )}

      {p && (
        <section class="card" aria-labelledby="up-progress">
          <h3 id="up-progress">
            {p.running ? 'Uploading' : p.stopped ? 'Upload stopped' : 'Upload finished'}
          </h3>
          <div class="total">
            <label for="up-total">
              {formatCount(p.done)} of {plural(p.jobs.length, 'file')} ·{' '}
              {formatBytes(p.doneBytes)} of {formatBytes(p.totalBytes)}
            </label>
            <progress id="up-total" max={Math.max(1, p.totalBytes)}
                      value={p.totalBytes ? p.doneBytes : p.done ? 1 : 0}
                      aria-valuetext={formatPercent(p.doneBytes, p.totalBytes || 1)} />
          </div>
          <p role="status" class="status summary">
            {p.running
              ? ''
              : `${formatCount(p.done - p.failed - p.skipped)} uploaded, ${formatCount(p.skipped)} skipped (already there), ${formatCount(p.failed)} failed.`}
          </p>
          {p.running && (
            <button type="button" class="small" onClick={() => cur?.uploader?.stop()}>
              Stop after the files in flight
            </button>
          )}
          {!p.running && p.done - p.failed > 0 && (
            <p><a href={`/datasets/${datasetId}/samples`} onClick={linkClick}>See the samples</a></p>
          )}
          {failures.length > 0 && (
            <>
              <h4>Failed ({formatCount(failures.length)})</h4>
              <ul class="failures" aria-label="Failed files">
                {[...failures].sort((a, b) => byPath(a.plan, b.plan)).map((j) => (
                  <li key={j.plan.path}><span class="job-path">{j.plan.path}</span>: {j.reason}</li>
                ))}
              </ul>
            </>
          )}
          <h4>Files</h4>
          <ul class="jobs" aria-label="Files of this upload">
            {[...p.jobs].sort((a, b) => byPath(a.plan, b.plan)).map((j) => <JobRow key={j.plan.path} j={j} />)}
          </ul>
        </section>
      )}
    </div>
  );
}
