/*
 * SampleView.tsx — one sample (/datasets/ID/samples/INO): the image (GET
 * /v1/nodes/INO/image), its path, size and content hash (GET /v1/nodes/INO),
 * the score and rank of the latest run, and the tags that hold it (each
 * tag's membership bytes, fetched once per table generation and kept for the
 * next sample). A metadata-only sample (upload=meta: the bytes stay with the
 * uploader) shows the server's thumbnail or placeholder and says so.
 * Previous/next follow the grid's order when the sample came from the grid.
 */
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { ApiError, type Node } from '../api';
import { table, tags, scores, selectionMembers, type SamplePageProps } from '../state';
import { linkClick } from '../router';
import { errorMessage, formatBytes, formatCount, formatDate } from '../format';
import { shownOrder } from './Samples';
import './views.css';

/* Tag memberships by "tag:gen": a tag's bytes do not change for a table
 * generation unless the tag is deleted (then its id is never asked for). */
const memberCache = new Map<string, Promise<Uint8Array | null>>();

function tagMembers(ds: number, tag: number, gen: string): Promise<Uint8Array | null> {
	const key = `${tag}:${gen}`;
	let p = memberCache.get(key);
	if (!p) {
		p = api.members(ds, tag).then((m) => m.bytes, () => null);
		memberCache.set(key, p);
		if (memberCache.size > 64) memberCache.delete(memberCache.keys().next().value as string);
	}
	return p;
}

export function SamplePage({ datasetId, ino }: SamplePageProps) {
	const [node, setNode] = useState<Node | null>(null);
	const [err, setErr] = useState<string | null>(null);
	const [holding, setHolding] = useState<string[] | null>(null);
	const [imgFailed, setImgFailed] = useState(false);
	const t = table.value;
	const idx = t ? t.ino.indexOf(ino) : -1;

	useEffect(() => {
		let stale = false;
		setNode(null);
		setErr(null);
		setImgFailed(false);
		api.nodeGet(ino).then((n) => {
			if (stale) return;
			if (n.dataset !== datasetId || n.kind !== 2) setErr('not_found');
			else setNode(n);
		}).catch((e) => {
			if (stale) return;
			setErr(e instanceof ApiError && e.status === 404 ? 'not_found' : errorMessage(e));
		});
		return () => { stale = true; };
	}, [ino, datasetId]);

	// the tags that hold it
	const tagList = tags.value;
	useEffect(() => {
		if (!t || idx < 0) {
			setHolding(null);
			return;
		}
		let stale = false;
		Promise.all(tagList.map((tg) => tagMembers(datasetId, tg.id, t.gen))).then((ms) => {
			if (stale) return;
			const names: string[] = [];
			ms.forEach((m, k) => {
				if (m && m.length === t.count && m[idx]) names.push(tagList[k].name);
			});
			setHolding(names);
		});
		return () => { stale = true; };
	}, [t, idx, tagList, datasetId]);

	if (err === 'not_found')
		return (
			<section aria-labelledby="sample-h">
				<h2 id="sample-h">Sample not found</h2>
				<p>This dataset has no sample with that number. <a href={`/datasets/${datasetId}/samples`} onClick={linkClick}>Back to the samples</a></p>
			</section>
		);

	const path = idx >= 0 && t ? t.path[idx] : node?.name ?? '';
	const kept = idx >= 0 && t ? t.kept[idx] === 1 : false;
	const s = scores.value;
	const sc = s && idx >= 0 && s.score.length === t?.count ? s.score[idx] : null;
	const rk = s && idx >= 0 && s.rank.length === t?.count ? s.rank[idx] : null;
	const sel = selectionMembers.value;
	const inSel = sel && idx >= 0 && sel.length === t?.count ? sel[idx] === 1 : null;

	// previous / next in the grid's order
	let prev: number | null = null, next: number | null = null, pos = -1;
	const order = shownOrder;
	if (order && t && idx >= 0) {
		for (let q = 0; q < order.length; q++) if (order[q] === idx) { pos = q; break; }
		if (pos > 0) prev = t.ino[order[pos - 1]];
		if (pos >= 0 && pos + 1 < order.length) next = t.ino[order[pos + 1]];
	}
	const href = (i: number) => `/datasets/${datasetId}/samples/${i}`;

	return (
		<section aria-labelledby="sample-h">
			<nav class="sample-nav" aria-label="Sample navigation">
				<a href={`/datasets/${datasetId}/samples`} onClick={linkClick}>← All samples</a>
				{prev !== null && <a href={href(prev)} onClick={linkClick}>Previous</a>}
				{next !== null && <a href={href(next)} onClick={linkClick}>Next</a>}
				{pos >= 0 && order && <span class="muted">{formatCount(pos + 1)} of {formatCount(order.length)}</span>}
			</nav>
			<h2 id="sample-h" class="sample-path">{path || 'Sample'}</h2>
			{err && <p class="error" role="alert">The sample could not be loaded: {err}</p>}
			<div class="sample-view">
				<div class="sample-image">
					{kept || imgFailed
						? <img src={api.thumbnailUrl(ino)} alt={path} />
						: <img src={api.imageUrl(ino)} alt={path} onError={() => setImgFailed(true)} />}
				</div>
				<div class="card">
					{kept && (
						<p class="sample-note" role="note">
							Metadata only — the bytes stay with the uploader (a mount with upload=meta), so the
							server shows its thumbnail or a placeholder instead of the image.
						</p>
					)}
					{!kept && imgFailed && (
						<p class="sample-note" role="note">The server could not send this sample's image; its thumbnail is shown.</p>
					)}
					<dl class="sample-facts">
						<dt>Path</dt><dd>{path}</dd>
						<dt>Size</dt><dd>{node ? `${formatBytes(node.size)} (${formatCount(node.size)} bytes)` : idx >= 0 && t ? formatBytes(t.size[idx]) : '…'}</dd>
						<dt>SHA-256</dt><dd class="hash">{node ? (node.has_sha && node.sha ? node.sha : 'not yet (upload in progress)') : '…'}</dd>
						<dt>Modified</dt><dd>{node ? formatDate(node.mtime_ns) : '…'}</dd>
						<dt>Score</dt>
						<dd>{s === null ? 'no sampling run yet'
							: sc === null || Number.isNaN(sc) ? `not scored by run ${s.run}`
							: `${sc.toFixed(4)} (run ${s.run}, rank ${rk !== null && rk >= 0 ? formatCount(rk + 1) : '—'})`}</dd>
						<dt>Selected</dt><dd>{inSel === null ? '…' : inSel ? 'yes, in the current selection' : 'no'}</dd>
						<dt>Tags</dt>
						<dd>
							{holding === null ? '…' : holding.length === 0 ? <span class="muted">none</span> : (
								<ul class="sample-tags" aria-label="Tags holding this sample">
									{holding.map((n) => <li key={n}>{n}</li>)}
								</ul>
							)}
						</dd>
					</dl>
				</div>
			</div>
		</section>
	);
}
