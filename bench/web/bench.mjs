// bench.mjs — bench/web's measurements (run.sh starts it): the web app in
// headless Chromium (SwiftShader WebGL here) against a real `sievefs serve`,
// with the bare WebGL page (bare.html: gl.POINTS from one Float32Array) as
// its peer in the same run; medians of RUNS (5), each on a fresh page.
//
//   node bench/web/bench.mjs [--samples 100000] [--big 1000000] [--runs 5]
//                            [--store DIR]   (kept and reused: building the
//                                             datasets is the slow part)
//                            [--via mount|serve]
//                            [--only usable,plot,step,bare,longtask]
//
// Figures (ms; "ratio" = app / bare page):
//   usable     dataset page usable after navigation: /datasets/ID until the
//              active bar has its aria-valuenow (the table, tags and
//              membership are in)
//   plot N     /datasets/ID/plot until N points are drawn (a hook on
//              drawArrays/drawElements counts gl.POINTS drawn and reads a
//              pixel back so the draw has finished; the bare page gets the
//              same hook); time since navigation, data transfer included
//   step       a slider step (ArrowLeft on the sampling page's slider)
//              until N points are drawn again, against the bare page's
//              redraw of them (and its recolour: an active array uploaded)
//   longtask   PerformanceObserver 'longtask' while the grid is scrolled
//              (40 wheel steps of 600 px): the longest and the count > 50 ms
// The datasets are made through a local mount whose daemon also serves the
// app (-o web=, --via mount, the default: python writes the files, ~3,000/s
// here), or with --via serve through the API of `sievefs serve` (one blob
// per distinct PNG, then a node and a commit per sample, 32 requests in
// flight, ~400 samples/s here), with an embedding (CSV through the API, dim
// 8, two blobs of points) and a finished `random` run for the scores.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as child from 'node:child_process';
import * as H from '../../tests/web/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const SAMPLES = Number(arg('samples', 100000));
const BIG = Number(arg('big', 1000000));
const RUNS = Number(arg('runs', 5));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[(s.length - 1) >> 1] : NaN; };
const fmt = (v) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 0) : 'n/a');
const log = (...a) => console.error('bench/web:', ...a);

async function pool(n, items, fn) {
	let i = 0;
	await Promise.all(Array.from({ length: n }, async () => {
		while (i < items.length) { const k = i++; await fn(items[k], k); }
	}));
}

// `count` files d0000/s000.png… under MNT/NAME/initial-tag, written by two
// python processes through the local mount (~1,500 files/s each here)
function writeThroughMount(mnt, name, count, photos) {
	const script = `
import os, sys
base, photos, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pngs = [open(os.path.join(photos, f), 'rb').read() for f in sorted(os.listdir(photos))]
for i in range(lo, hi):
    d = os.path.join(base, 'd%04d' % (i // 1000))
    if i % 1000 == 0 or i == lo:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 's%03d.png' % (i % 1000)), 'wb') as f:
        f.write(pngs[i % len(pngs)])
`;
	const base = path.join(mnt, name, 'initial-tag');
	const half = Math.ceil(count / 2000) * 1000;
	return Promise.all([[0, Math.min(half, count)], [Math.min(half, count), count]].map(([lo, hi]) => new Promise((res, rej) => {
		const c = child.spawn('/usr/bin/python3', ['-c', script, base, photos, String(lo), String(hi)], { stdio: ['ignore', 'inherit', 'inherit'] });
		c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`writer exited ${code}`))));
	})));
}

// a dataset of `count` samples in folders of 1000, 64 distinct PNGs: through
// the mount when `mnt` is given (-o web= mode), else through the API
async function buildDataset(api, name, count, photos, mnt) {
	let ds;
	const r = await api.req('GET', `/v1/datasets?name=${name}`);
	if (r.status === 200) {
		ds = await r.json();
		const st = await api.text(`/v1/datasets/${ds.id}/sample`);
		if (/status: done/.test(st)) return ds;
		throw new Error(`dataset ${name} exists half made: remove the --store dir`);
	}
	const t0 = Date.now();
	if (mnt) {
		fs.mkdirSync(path.join(mnt, name));
		ds = await api.dataset(name);
		await writeThroughMount(mnt, name, count, photos);
		log(`${name}: ${count} samples through the mount in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
		return finishDataset(api, ds, count, t0);
	}
	ds = await api.json('POST', '/v1/datasets', { name }, 201);
	const { createHash } = await import('node:crypto');
	const pngs = fs.readdirSync(photos).sort().map((f) => fs.readFileSync(path.join(photos, f)));
	const shas = [];
	for (const b of pngs) {
		const sha = createHash('sha256').update(b).digest('hex');
		const rr = await api.req('PUT', `/v1/blobs/${sha}`, b, { 'content-type': 'application/octet-stream' });
		if (!rr.ok) throw new Error(`PUT blob ${rr.status}`);
		shas.push([sha, b.length]);
	}
	const folders = Math.ceil(count / 1000);
	const dirs = [];
	for (let f = 0; f < folders; f++) dirs.push(await api.mkdir(ds.live_root, `d${String(f).padStart(4, '0')}`));
	const jobs = Array.from({ length: count }, (_, i) => i);
	await pool(32, jobs, async (i) => {
		const dir = dirs[Math.floor(i / 1000)];
		const nm = `s${String(i % 1000).padStart(3, '0')}.png`;
		const node = await api.json('POST', `/v1/nodes/${dir.ino}/children`, { name: nm, kind: 2 }, 201);
		const [sha, size] = shas[i % shas.length];
		await api.json('PUT', `/v1/nodes/${node.ino}/content`, { sha256: sha, size }, 200);
		if (i % 20000 === 19999) log(`${name}: ${i + 1} samples, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
	});
	log(`${name}: ${count} samples through the API in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
	return finishDataset(api, ds, count, t0);
}

// the embedding: two gaussian-ish blobs in 8 dimensions, and a `random` run
async function finishDataset(api, ds, count, t0) {
	const name = ds.name;
	const paths = [];
	for (let i = 0; i < count; i++)
		paths.push(`d${String(Math.floor(i / 1000)).padStart(4, '0')}/s${String(i % 1000).padStart(3, '0')}.png`);
	let seed = 1;
	const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
	const lines = ['filenames,' + Array.from({ length: 8 }, (_, k) => `embedding_${k}`).join(',') + ',labels'];
	for (let i = 0; i < count; i++) {
		const c = i % 3 === 0 ? 2 : -1;
		lines.push(`${paths[i]},${Array.from({ length: 8 }, (_, k) => (k < 2 ? c : 0) + rnd() * 2).map((v) => v.toFixed(4)).join(',')},${i % 3 === 0 ? 1 : 0}`);
	}
	await api.json('PUT', `/v1/datasets/${ds.id}/embeddings?name=e`, lines.join('\n') + '\n', 201);
	await api.json('POST', `/v1/datasets/${ds.id}/sample`, `random embedding=e`, 202);
	await api.waitRun(ds.id, 600000);
	log(`${name}: embedding and run done, ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
	return ds;
}

// counts gl.POINTS drawn (drawArrays / drawElements, WebGL 1 and 2, and
// ANGLE_instanced_arrays) into window.__pts [{t, n}], reading one pixel back
// after each so the time is that of a finished draw
const HOOK = `(() => {
  window.__pts = [];
  const px = new Uint8Array(4);
  const note = (gl, mode, count) => {
    if (mode !== 0 || count < 1000) return;
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
    window.__pts.push({ t: performance.now(), n: count });
  };
  for (const C of [self.WebGLRenderingContext, self.WebGL2RenderingContext]) {
    if (!C) continue;
    for (const f of ['drawArrays', 'drawElements', 'drawArraysInstanced', 'drawElementsInstanced']) {
      const o = C.prototype[f];
      if (!o) continue;
      C.prototype[f] = function (mode, a, count, ...rest) {
        const r = o.call(this, mode, a, count, ...rest);
        note(this, mode, f.startsWith('drawArrays') ? count : a);   // drawElements(mode, count, …)
        return r;
      };
    }
  }
  window.__drawn = (since, n) => { let s = 0; for (const e of window.__pts) if (e.t >= since && (s += e.n) >= n) return e.t; return null; };
  window.__long = [];
  try { new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
    .observe({ type: 'longtask', buffered: true }); } catch (e) { window.__long = null; }
})();`;

async function fresh(browser, url, token) {
	const { context, page } = await H.newPage(browser);
	context.setDefaultTimeout(120000);
	await context.addInitScript(HOOK);
	if (token) await H.signInByApi(context, url, token);
	return { context, page };
}

async function timeDrawn(page, n, since = 0, timeout = 120000) {
	return page.waitForFunction(([s, k]) => window.__drawn && window.__drawn(s, k),
		[since, n], { timeout, polling: 50 }).then((h) => h.jsonValue());
}

async function main() {
	H.need();
	const keep = arg('store', process.env.SV_BENCH_STORE || '');
	const dir = keep || H.tmpdir('benchweb');
	const store = path.join(dir, 'store');
	const fresh_store = !fs.existsSync(store);
	const tok = H.tokenCreate(store, 'bench', dir);
	// -o web= mode (the default when the binary has it): one local mount
	// both makes the files (fast) and serves the app; else sievefs serve
	const via = arg('via', 'mount');
	let url, mnt = null;
	if (via === 'mount') {
		mnt = path.join(dir, 'mnt');
		const m = await H.mount(store, mnt, ['web=127.0.0.1:0', `web_root=${H.WEB_DIST}`]);
		url = await H.waitFor(() => (/listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(m.proc.out) || [])[1], 'the web address', 10000);
	} else {
		({ url } = await H.startServe(store));
	}
	const api = new H.Api(url, tok.token);
	const photos = path.join(dir, 'photos');
	if (!fs.existsSync(photos))
		H.makePngs(photos, Array.from({ length: 64 }, (_, i) => [`p${String(i).padStart(2, '0')}.png`, [i * 4, 255 - i * 3, (i * 37) % 256]]));
	log(`server ${url}, store ${store}${fresh_store ? ' (new)' : ' (reused)'}`);
	log(`serving the app ${via === 'mount' ? 'from a mount with -o web=' : 'with sievefs serve'}`);
	const ds = await buildDataset(api, 'bench100k', SAMPLES, photos, mnt);
	const big = BIG > 0 ? await buildDataset(api, 'bench1m', BIG, photos, mnt) : null;

	// the peer's static files and data, from another port
	const layouts = {};
	const getLayout = async (d) => {
		const r = await api.req('GET', `/v1/datasets/${d.id}/layout`);
		if (!r.ok) throw new Error(`GET layout: ${r.status} ${await r.text()}`);
		return Buffer.from(await r.arrayBuffer());
	};
	layouts[SAMPLES] = await getLayout(ds).catch((e) => { log(`${e.message}: bare page draws random points`); return null; });
	if (big) layouts[BIG] = await getLayout(big).catch(() => null);
	for (const n of [SAMPLES, BIG]) {
		if (!n || layouts[n]) continue;
		const f = new Float32Array(2 * n);
		for (let i = 0; i < f.length; i++) f[i] = Math.random() * 2 - 1;
		layouts[n] = Buffer.from(f.buffer);
	}
	const peer = http.createServer((req, res) => {
		const u = new URL(req.url, 'http://x');
		if (u.pathname === '/points') {
			res.writeHead(200, { 'content-type': 'application/octet-stream' });
			return res.end(layouts[Number(u.searchParams.get('n'))]);
		}
		const f = { '/bare.html': 'text/html', '/bare.js': 'text/javascript' }[u.pathname];
		if (!f) { res.writeHead(404); return res.end(); }
		res.writeHead(200, { 'content-type': f });
		res.end(fs.readFileSync(path.join(here, u.pathname.slice(1))));
	});
	await new Promise((r) => peer.listen(0, '127.0.0.1', r));
	const purl = `http://127.0.0.1:${peer.address().port}`;

	const browser = await H.launch();
	const R = {};
	const add = (k, v) => { (R[k] ||= []).push(v); };
	// a figure that failed once (the app lacks it) is not tried again;
	// --only a,b measures only the figures whose key starts with a or b
	const only = arg('only', '').split(',').filter(Boolean);
	const tryRun = async (k, fn) => {
		if (R[k + ':error']) return;
		if (only.length && !only.some((o) => k.startsWith(o))) return;
		try { await fn(); } catch (e) { log(`${k}: ${e.message.split('\n')[0]}`); R[k + ':error'] = e.message.split('\n')[0]; }
	};
	for (let run = 0; run < RUNS; run++) {
		for (const n of [SAMPLES, BIG].filter(Boolean)) {
			await tryRun(`bare.draw.${n}`, async () => {
				const { context, page } = await fresh(browser);
				await page.goto(`${purl}/bare.html?n=${n}&src=${encodeURIComponent(`${purl}/points?n=${n}`)}`);
				const b = await page.waitForFunction(() => window.bare, null, { timeout: 120000 }).then((h) => h.jsonValue());
				if (b.error) throw new Error(b.error);
				add(`bare.draw.${n}`, b.drawnAt);
				if (n === SAMPLES) {
					add('bare.redraw', await page.evaluate(() => window.bare.redraw()));
					add('bare.recolour', await page.evaluate((k) => window.bare.recolour(k), Math.floor(n / 2)));
				}
				await context.close();
			});
		}
		await tryRun('usable', async () => {
			const { context, page } = await fresh(browser, url, tok.token);
			await page.goto(`${url}/datasets/${ds.id}`);
			const t = await page.waitForFunction(() => {
				const b = document.querySelector('[data-testid=active-bar][aria-valuenow]');
				return b && Number(b.getAttribute('aria-valuemax')) > 0 ? performance.now() : null;
			}, null, { timeout: 30000, polling: 'raf' }).then((h) => h.jsonValue());
			add('usable', t);
			await context.close();
		});
		for (const [n, d] of [[SAMPLES, ds], [BIG, big]].filter((x) => x[1])) {
			await tryRun(`plot.${n}`, async () => {
				const { context, page } = await fresh(browser, url, tok.token);
				await page.goto(`${url}/datasets/${d.id}/plot`);
				add(`plot.${n}`, await timeDrawn(page, n));
				await context.close();
			});
		}
		await tryRun('step', async () => {
			const { context, page } = await fresh(browser, url, tok.token);
			await page.goto(`${url}/datasets/${ds.id}/sampling`);
			const slider = page.getByRole('slider').first();
			await slider.waitFor({ timeout: 30000 });
			await timeDrawn(page, SAMPLES);
			await slider.focus();
			await page.waitForTimeout(300);
			const t0 = await page.evaluate(() => performance.now());
			// the slider starts at N = every ranked sample: a step down
			await page.keyboard.press('ArrowLeft');
			add('step', (await timeDrawn(page, SAMPLES, t0, 30000)) - t0);
			await context.close();
		});
		await tryRun('longtask', async () => {
			const { context, page } = await fresh(browser, url, tok.token);
			await page.goto(`${url}/datasets/${ds.id}/samples`);
			const grid = page.getByRole('grid').first();
			await grid.waitFor({ timeout: 30000 });
			await page.waitForLoadState('networkidle').catch(() => {});
			await page.waitForTimeout(500);
			const ok = await page.evaluate(() => { if (!window.__long) return false; window.__long.length = 0; return true; });
			if (!ok) throw new Error('no longtask observer in this browser');
			const box = await grid.boundingBox();
			await page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height / 2, 300));
			for (let i = 0; i < 40; i++) { await page.mouse.wheel(0, 600); await page.waitForTimeout(50); }
			await page.waitForTimeout(500);
			const l = await page.evaluate(() => window.__long);
			add('longtask.max', l.length ? Math.max(...l) : 0);
			add('longtask.count', l.filter((x) => x > 50).length);
			await context.close();
		});
	}
	await browser.close();
	await new Promise((r) => peer.close(r));
	await H.stopAll();

	const m = (k) => median(R[k] || []);
	const row = (what, v, peerv, limit) => {
		const ratio = Number.isFinite(v) && Number.isFinite(peerv) ? (v / peerv).toFixed(2) + '×' : '';
		const err = Object.keys(R).find((k) => k.endsWith(':error') && what.startsWith(k.split(':')[0].split('.')[0]));
		console.log(`${what.padEnd(44)} ${fmt(v).padStart(9)} ${fmt(peerv).padStart(9)} ${ratio.padStart(8)}  ${limit}${!Number.isFinite(v) && err ? `  (${R[err]})` : ''}`);
	};
	console.log(`${'figure (median of ' + RUNS + ', ms)'.padEnd(44)} ${'app'.padStart(9)} ${'bare'.padStart(9)} ${'ratio'.padStart(8)}  target`);
	row('dataset page usable after navigation', m('usable'), NaN, '≤ 1500 ms');
	row(`plot of ${SAMPLES} points drawn`, m(`plot.${SAMPLES}`), m(`bare.draw.${SAMPLES}`), '≤ 1000 ms');
	if (BIG) row(`plot of ${BIG} points drawn`, m(`plot.${BIG}`), m(`bare.draw.${BIG}`), '≤ 5000 ms');
	row(`slider step re-colour, ${SAMPLES} points`, m('step'), m('bare.redraw'), '≤ 1.5× bare redraw');
	row('  (bare recolour: active array uploaded)', m('bare.recolour'), m('bare.redraw'), '');
	row('longest task while scrolling the grid', m('longtask.max'), NaN, '≤ 50 ms');
	row('  long tasks over 50 ms per scroll', m('longtask.count'), NaN, '0');
	for (const [k, v] of Object.entries(R)) if (!k.endsWith(':error')) log(`${k}: ${v.map(fmt).join(' ')}`);
}

main().catch(async (e) => { console.error(e); await H.stopAll(); process.exit(1); });
