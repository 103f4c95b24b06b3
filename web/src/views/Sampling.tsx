/*
 * Sampling.tsx — the sampling view.
 *
 * The form builds one request line of the `sample` grammar (lib/request.ts:
 * [STRATEGY] [n=N] [from=TAG] [embedding=NAME] [seed=S] [min_distance=F];
 * there is no run name — runs are numbered by the server, and a pick is
 * named when it is frozen as a tag) and shows it before it is sent. Process
 * POSTs it to /v1/datasets/ID/sample; the latest run's state, phase and
 * progress come from GET /v1/datasets/ID/runs, polled every second while a
 * run is queued or running. When it is done the scores are loaded.
 *
 * The slider (and its number field) sets N: while it moves, sliderN = N and
 * the bar, grid and plot follow (active = rank < N; the plot by a uniform).
 * On release (change) `keep N` is POSTed, so the selection file becomes the
 * top N of the latest run; the tag menu's freeze field can then freeze it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { ApiError, type Run } from '../api';
import {
	embeddings, runs, scores, sliderN, tags, table, selectionMembers, chosenTag, type DatasetPageProps,
} from '../state';
import { chooseTag, reloadSelection } from '../data';
import { errorMessage as msg, formatCount, plural } from '../format';
import { rankedCount } from '../lib/active';
import {
	BUILTIN, STRATEGIES, STRATEGY_HELP, buildSampleRequest, keepRequest, type SampleForm, type Strategy,
} from '../lib/request';
import { PlotPanel } from './Plot';
import { SamplesGrid } from './Samples';
import './views.css';

const PHASES = ['embedding', 'projecting', 'loading', 'sampling'];

function busy(r: Run | undefined): boolean {
	return !!r && (r.state === 'queued' || r.state === 'running');
}

/** The form, kept while the user moves between pages. */
let lastForm: SampleForm = { strategy: 'typicality', n: '', from: '', embedding: '', seed: '', minDistance: '' };

function RunStatus({ run }: { run: Run }) {
	const phaseIdx = PHASES.indexOf(run.phase);
	const pct = run.total > 0 ? Math.min(100, (100 * run.done) / run.total) : null;
	return (
		<div class="run-box" aria-live="polite">
			<div>
				<strong>Run {run.number}</strong> <code>{run.request}</code>
				<span class={`badge state-${run.state}`}>{run.state}</span>
			</div>
			{busy(run) && (
				<ol class="run-phases" aria-label="Phases">
					{PHASES.map((p, k) => (
						<li key={p} class={p === run.phase ? 'now' : phaseIdx > k ? 'done' : ''}
							aria-current={p === run.phase ? 'step' : undefined}>{p}</li>
					))}
				</ol>
			)}
			{run.state === 'running' && pct !== null && (
				<>
					<label for="run-progress" class="muted">
						{run.phase || 'working'}: {formatCount(run.done)} / {formatCount(run.total)}
					</label>
					<progress id="run-progress" max={run.total} value={run.done}>{Math.round(pct)} %</progress>
				</>
			)}
			{run.state === 'queued' && <p class="muted">Queued behind another request (one run at a time per store).</p>}
			{run.state === 'done' && (
				<p>
					Picked from {run.candidates !== undefined ? plural(run.candidates, 'candidate') : '? candidates'}
					{run.skipped > 0 ? `; ${formatCount(run.skipped)} skipped (no vector)` : ''}.
				</p>
			)}
			{(run.state === 'failed' || run.state === 'cancelled') && run.error && (
				<p class="error">{run.error}</p>
			)}
		</div>
	);
}

export function SamplingPage({ datasetId }: DatasetPageProps) {
	const [form, setFormState] = useState<SampleForm>(lastForm);
	const setForm = (f: SampleForm) => { lastForm = f; setFormState(f); };
	const [sending, setSending] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const [localRuns, setLocalRuns] = useState<Run[] | null>(null);
	const [keepNote, setKeepNote] = useState<{ text: string; error: boolean } | null>(null);
	const [n, setN] = useState<number | null>(null);
	const keepTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
	const keepSeq = useRef(0);

	const runList = localRuns ?? runs.value;
	const latest = runList[0];
	const built = buildSampleRequest(form);
	const s = scores.value;
	const t = table.value;
	const ranked = s ? rankedCount(s.rank) : 0;

	// poll the runs every second while the latest is queued or running
	const polling = busy(latest);
	useEffect(() => {
		if (!polling) return;
		let stop = false;
		const tick = async () => {
			try {
				const r = await api.runList(datasetId, 5);
				if (stop) return;
				setLocalRuns(r);
				if (!busy(r[0])) {
					if (r[0]?.state === 'done') await loadScores();
					return;
				}
			} catch (e) {
				if (stop) return;
				if (e instanceof ApiError && e.status === 404) {
					setError(`This server cannot report runs (GET runs: ${e.message}); the sample file shows the state.`);
					return;
				}
			}
			if (!stop) timer = setTimeout(() => void tick(), 1000);
		};
		let timer = setTimeout(() => void tick(), 1000);
		return () => { stop = true; clearTimeout(timer); };
	}, [polling, datasetId]);

	// the shell's poll also brings runs; the newer list wins
	useEffect(() => { setLocalRuns(null); }, [runs.value]);

	async function loadScores() {
		try {
			const sc = await api.scores(datasetId);
			// the selection first: the slider starts at its size
			await reloadSelection();
			const tt = table.value;
			if (!tt || sc.rank.length === tt.count) scores.value = { run: sc.run, score: sc.score, rank: sc.rank };
		} catch (e) {
			if (!(e instanceof ApiError && e.code === 'no_run')) setError(`Scores could not be loaded: ${msg(e)}`);
		}
	}

	// the slider's start: the selection's size when it is the run's top N, else all ranked
	useEffect(() => {
		if (!s) { setN(null); return; }
		const sel = selectionMembers.value;
		let c = 0;
		if (sel && sel.length === s.rank.length) for (let i = 0; i < sel.length; i++) c += sel[i];
		setN(c > 0 && c <= ranked ? c : ranked);
	}, [s]);

	async function process(e: Event) {
		e.preventDefault();
		if (!built.ok) return;
		setSending(true);
		setError(null);
		try {
			await api.sampleRequest(datasetId, built.line);
			const r = await api.runList(datasetId, 5).catch(() => null);
			if (r) setLocalRuns(r);
		} catch (err) {
			setError(err instanceof ApiError ? `The server refused the request: ${err.message}` : msg(err));
		} finally {
			setSending(false);
		}
	}

	async function cancel() {
		try {
			await api.sampleRequest(datasetId, 'cancel');
			const r = await api.runList(datasetId, 5).catch(() => null);
			if (r) setLocalRuns(r);
		} catch (err) {
			setError(msg(err));
		}
	}

	function moveTo(v: number) {
		if (!Number.isFinite(v) || ranked === 0) return;
		const k = Math.min(ranked, Math.max(1, Math.round(v)));
		setN(k);
		sliderN.value = k;
	}

	/* Release: keep N after a short pause, so keyboard steps (each a change
	 * event) send one request, not one per key press. */
	function release(v: number) {
		moveTo(v);
		if (keepTimer.current) clearTimeout(keepTimer.current);
		keepTimer.current = setTimeout(() => void keep(Math.min(ranked, Math.max(1, Math.round(v)))), 250);
	}

	async function keep(k: number) {
		const seq = ++keepSeq.current;
		setKeepNote({ text: `Keeping the top ${formatCount(k)}…`, error: false });
		try {
			await api.sampleRequest(datasetId, keepRequest(k));
			await reloadSelection();
			if (seq !== keepSeq.current) return;
			if (chosenTag.value !== null) await chooseTag(null);
			setKeepNote({
				text: `The selection is now the top ${formatCount(k)} of run ${s?.run ?? ''}. Freeze it as a tag in the tag menu.`,
				error: false,
			});
		} catch (err) {
			if (seq === keepSeq.current) setKeepNote({ text: `Keep failed: ${msg(err)}`, error: true });
		} finally {
			if (seq === keepSeq.current) sliderN.value = null;
		}
	}

	useEffect(() => () => {
		if (keepTimer.current) clearTimeout(keepTimer.current);
		sliderN.value = null;
	}, []);

	const embs = embeddings.value.filter((x) => x.name !== BUILTIN);
	const hasBuiltin = embeddings.value.some((x) => x.name === BUILTIN);
	const field = (k: keyof SampleForm) => (e: Event) =>
		setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement | HTMLSelectElement).value });
	const bad = (k: keyof SampleForm) => !built.ok && built.field === k;
	const nShown = n ?? ranked;

	return (
		<section aria-labelledby="sampling-h">
			<h2 id="sampling-h">Sampling</h2>
			<form class="card" onSubmit={(e) => void process(e)} aria-label="Sample request">
				<div class="sampling-form">
					<div class="field wide">
						<label for="smp-emb">Embedding</label>
						<select id="smp-emb" value={form.embedding} onChange={field('embedding')}>
							<option value="">default (the latest CSV, else built-in)</option>
							<option value={BUILTIN}>built-in embedder{hasBuiltin ? '' : ' (computed first)'}</option>
							{embs.map((em) => <option key={em.id} value={em.name}>{em.name} ({em.dim}-d, {plural(em.rows, 'row')})</option>)}
						</select>
					</div>
					<div class="field">
						<label for="smp-strategy">Strategy</label>
						<select id="smp-strategy" value={form.strategy} aria-describedby="smp-strategy-help"
							onChange={(e) => {
								const v = (e.currentTarget as HTMLSelectElement).value as Strategy;
								setForm({ ...form, strategy: v, minDistance: v === 'coreset' ? form.minDistance : '' });
							}}>
							{STRATEGIES.map((x) => <option key={x} value={x}>{x}</option>)}
						</select>
						<p class="help" id="smp-strategy-help">{STRATEGY_HELP[form.strategy]}</p>
					</div>
					<div class="field">
						<label for="smp-n">Samples to pick (n)</label>
						<input id="smp-n" type="text" inputMode="numeric" placeholder="every candidate" value={form.n}
							aria-invalid={bad('n')} aria-describedby="smp-n-help" onInput={field('n')} />
						<p class="help" id="smp-n-help">Empty: rank every candidate.</p>
					</div>
					<div class="field">
						<label for="smp-from">From tag</label>
						<select id="smp-from" value={form.from} onChange={field('from')}>
							<option value="">initial-tag (every sample)</option>
							{tags.value.filter((x) => x.name !== 'initial-tag').map((x) => (
								<option key={x.id} value={x.name}>{x.name}</option>
							))}
						</select>
					</div>
					<div class="field">
						<label for="smp-seed">Seed</label>
						<input id="smp-seed" type="text" inputMode="numeric" placeholder="0" value={form.seed}
							aria-invalid={bad('seed')} onInput={field('seed')} />
					</div>
					<div class="field">
						<label for="smp-md">Minimum distance</label>
						<input id="smp-md" type="text" inputMode="decimal" placeholder="none" value={form.minDistance}
							disabled={form.strategy !== 'coreset'} aria-invalid={bad('minDistance')}
							aria-describedby="smp-md-help" onInput={field('minDistance')} />
						<p class="help" id="smp-md-help">coreset only: stop once every sample is this close to a pick.</p>
					</div>
				</div>
				<div class="request-line">
					<span class="muted">Request:</span>
					{built.ok ? <code aria-label="Request line">{built.line}</code> : <span class="error" role="alert">{built.message}</span>}
					<button type="submit" class="primary" disabled={!built.ok || sending || busy(latest)}>
						{sending ? 'Sending…' : 'Process'}
					</button>
					{busy(latest) && <button type="button" onClick={() => void cancel()}>Cancel run {latest.number}</button>}
				</div>
				{error && <p class="error" role="alert">{error}</p>}
			</form>

			<div class="card section-gap">
				<h3>Latest run</h3>
				{latest ? <RunStatus run={latest} /> : <p class="muted">No sampling run yet: choose the options above and press Process.</p>}
			</div>

			<div class="card section-gap slider-box">
				<h3>Keep the top N</h3>
				{!s && <p class="muted">Once a run is done, every sample has an importance score and this slider sets how many to keep.</p>}
				{s && t && (
					<>
						<div class="slider-row">
							<label for="keep-range">Keep the top</label>
							<input id="keep-range" type="range" min={1} max={Math.max(1, ranked)} step={1} value={nShown}
								aria-valuetext={`${formatCount(nShown)} of ${plural(ranked, 'sample')}`}
								onInput={(e) => moveTo(Number((e.currentTarget as HTMLInputElement).value))}
								onChange={(e) => release(Number((e.currentTarget as HTMLInputElement).value))} />
							<label for="keep-n" class="sr-only">Number of samples to keep</label>
							<input id="keep-n" type="number" min={1} max={ranked} step={1} value={nShown}
								onChange={(e) => release(Number((e.currentTarget as HTMLInputElement).value))} />
							<span class="muted">of {formatCount(ranked)} ranked by run {s.run}</span>
						</div>
						{keepNote && <p class={keepNote.error ? 'error' : 'status'} role={keepNote.error ? 'alert' : 'status'}>{keepNote.text}</p>}
					</>
				)}
			</div>

			<div class="sampling-views">
				<div>
					<h3>Plot</h3>
					<PlotPanel datasetId={datasetId} compact />
				</div>
				<div>
					<h3>Samples</h3>
					<SamplesGrid datasetId={datasetId} compact sortKey={s ? 'score' : 'name'} desc={false}
						label="Active samples, most important first" />
				</div>
			</div>
		</section>
	);
}
