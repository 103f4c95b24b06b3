// bench/web-columns.mjs — the time of GET /v1/datasets/ID/columns (issue 21
// item 6) over N samples with one metadata input of 3 columns (2 numeric, 1
// categorical) and one predictions input of 10 classes: the names, the
// metadata + uncertainty values (cold and warm), and a 304.
//
// Usage: node bench/web-columns.mjs [N=20000] [RUNS=7]
// Starts its own `sievefs serve` on a temp store (./sievefs), stops it by
// PID, removes the temp dir; prints the median of RUNS per request and the
// answer's size, with /proc/loadavg. Samples are tiny distinct files sent
// through the API (PUT blob, create node, commit), 16 at a time.
//
// Measured (2 vCPU shared, N=20000, 7 runs, loadavg ~13.4): before
// core/colcache.c names 352.6 ms, 5 columns 1829.3 ms, 304 1624.8 ms;
// with it names 4.7 ms, 5 columns 85.8 ms (the first, cold, 1039 ms),
// 304 88.0 ms (medians; 775,448 bytes for 5 columns).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const N = Number(process.argv[2] || 20000), RUNS = Number(process.argv[3] || 7);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SIEVEFS = process.env.SIEVEFS || path.join(ROOT, 'sievefs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sievefs-bench-cols.'));
const store = path.join(dir, 'store');
let srv;
try {
	fs.mkdirSync(store);
	const t = spawnSync(SIEVEFS, ['token', 'create', '--store', store, 'bench'], { encoding: 'utf8' });
	if (t.status !== 0) throw new Error(t.stderr);
	const token = t.stdout.trim();
	srv = spawn(SIEVEFS, ['serve', store, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
	let out = '';
	srv.stdout.on('data', (b) => { out += b; });
	srv.stderr.on('data', (b) => { out += b; });
	let url;
	for (let i = 0; i < 100 && !url; i++) {
		await new Promise((r) => setTimeout(r, 100));
		url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
	}
	if (!url) throw new Error(`no server: ${out}`);
	const req = async (method, p, body, headers = {}) => {
		const h = { authorization: `Bearer ${token}`, ...headers };
		if (body !== undefined && typeof body === 'object' && !(body instanceof Uint8Array)) {
			body = JSON.stringify(body);
			h['content-type'] = 'application/json';
		}
		const r = await fetch(url + p, { method, headers: h, body });
		if (!r.ok && r.status !== 304) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
		return r;
	};
	const ds = await (await req('POST', '/v1/datasets', { name: 'bench' })).json();
	const d = await (await req('POST', `/v1/nodes/${ds.live_root}/children`, { name: 'img', kind: 1 })).json();
	const names = Array.from({ length: N }, (_, i) => `img/s${String(i).padStart(6, '0')}.bin`);
	let next = 0;
	const worker = async () => {
		while (next < N) {
			const i = next++;
			const bytes = new TextEncoder().encode(`sample ${i}\n`);
			const sha = createHash('sha256').update(bytes).digest('hex');
			await req('PUT', `/v1/blobs/${sha}`, bytes, { 'content-type': 'application/octet-stream' });
			const n = await (await req('POST', `/v1/nodes/${d.ino}/children`, { name: path.basename(names[i]), kind: 2 })).json();
			await req('PUT', `/v1/nodes/${n.ino}/content`, { sha256: sha, size: bytes.length });
		}
	};
	await Promise.all(Array.from({ length: 16 }, worker));
	const meta = ['filename,quality,score,weather', ...names.map((p, i) =>
		`${p},${(i % 1000) / 1000},${i % 7 ? i * 0.37 : ''},${['sunny', 'rainy', 'fog'][i % 3]}`)].join('\n') + '\n';
	await req('PUT', `/v1/datasets/${ds.id}/inputs?kind=metadata&name=meta`, meta, { 'content-type': 'text/csv' });
	const pred = [`filename,${Array.from({ length: 10 }, (_, k) => `c${k}`).join(',')}`, ...names.map((p, i) =>
		`${p},${Array.from({ length: 10 }, (_, k) => ((i * 31 + k * 17) % 97) / 10).join(',')}`)].join('\n') + '\n';
	await req('PUT', `/v1/datasets/${ds.id}/inputs?kind=predictions&name=model`, pred, { 'content-type': 'text/csv' });
	const list = (await (await req('GET', `/v1/datasets/${ds.id}/columns`)).json()).columns;
	const cols = ['meta.quality', 'meta.score', 'meta.weather', 'model.uncertainty_entropy', 'model.uncertainty_margin']
		.map((c) => list.indexOf(c)).join(',');
	const time = async (p, headers) => {
		const ms = [];
		let size = 0, status = 0, etag = '';
		for (let k = 0; k < RUNS; k++) {
			const t0 = performance.now();
			const r = await req('GET', p, undefined, headers);
			const b = await r.arrayBuffer();
			ms.push(performance.now() - t0);
			size = b.byteLength;
			status = r.status;
			etag = r.headers.get('etag');
		}
		ms.sort((a, b) => a - b);
		return { median: ms[ms.length >> 1], min: ms[0], max: ms[ms.length - 1], size, status, etag };
	};
	const names1 = await time(`/v1/datasets/${ds.id}/columns`);
	const vals = await time(`/v1/datasets/${ds.id}/columns?cols=${cols}`);
	const nm = await time(`/v1/datasets/${ds.id}/columns?cols=${cols}`, { 'if-none-match': vals.etag });
	const f = (x) => `median ${x.median.toFixed(1)} ms (min ${x.min.toFixed(1)}, max ${x.max.toFixed(1)}), ${x.size} bytes, ${x.status}`;
	console.log(`N=${N} samples, ${RUNS} runs each; loadavg ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
	console.log(`  names (${list.length} columns):         ${f(names1)}`);
	console.log(`  5 columns' values:            ${f(vals)}`);
	console.log(`  the same with If-None-Match:  ${f(nm)}`);
} finally {
	if (srv && srv.exitCode === null) {
		srv.kill('SIGTERM');
		await new Promise((r) => srv.once('exit', r));
	}
	fs.rmSync(dir, { recursive: true, force: true });
}
