// bench/web-columns.mjs — the time of GET /v1/datasets/ID/columns (issue 21
// item 6) over N samples with one metadata input of 3 columns (2 numeric, 1
// categorical) and one predictions input of 10 classes: the names, the
// metadata + uncertainty values (cold and warm), and a 304.
//
// Usage: node bench/web-columns.mjs [N=20000] [RUNS=7]
// Starts its own `sievefs serve` on a temp store (./sievefs or $SIEVEFS)
// through tests/web/harness.mjs, which stops it by PID and removes the temp
// dir; prints the median of RUNS per request and the
// answer's size, with /proc/loadavg. Samples are tiny distinct files sent
// through the API (PUT blob, create node, commit), 16 at a time.
//
// Measured (2 vCPU shared, N=20000, 7 runs, loadavg ~13.4): before
// core/colcache.c names 352.6 ms, 5 columns 1829.3 ms, 304 1624.8 ms;
// with it names 4.7 ms, 5 columns 85.8 ms (the first, cold, 1039 ms),
// 304 88.0 ms (medians; 775,448 bytes for 5 columns).
import fs from 'node:fs';
import path from 'node:path';
import * as H from '../tests/web/harness.mjs';

const N = Number(process.argv[2] || 20000), RUNS = Number(process.argv[3] || 7);
try {
	const store = path.join(H.tmpdir('bench-cols'), 'store');
	const { token } = H.tokenCreate(store, 'bench');
	const { url } = await H.startServe(store, { webRoot: null });
	const api = new H.Api(url, token);
	const req = async (method, p, body, headers = {}) => {
		const r = await api.req(method, p, body, headers);
		if (!r.ok && r.status !== 304) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
		return r;
	};
	const ds = await api.json('POST', '/v1/datasets', { name: 'bench' }, 201);
	const d = await api.mkdir(ds.live_root, 'img');
	const names = Array.from({ length: N }, (_, i) => `img/s${String(i).padStart(6, '0')}.bin`);
	let next = 0;
	const worker = async () => {
		while (next < N) {
			const i = next++;
			await api.put(d.ino, path.basename(names[i]), new TextEncoder().encode(`sample ${i}\n`));
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
	await H.stopAll();
}
