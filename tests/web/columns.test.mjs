// columns.test.mjs — per-sample columns in the web app (issue 21 item 6), in
// headless Chromium against a real `sievefs serve` with a dataset that has
// metadata/ and predictions/ uploaded.
//
// Proves: GET /v1/datasets/ID/columns lists the columns and gives their
// values in table order (numbers, null for a sample without one, category
// indexes), answers 304 to its ETag, masks to a tag, refuses a malformed
// `cols` with its range and another user's dataset or tag with 404 (nothing
// leaks); in the Samples grid a chosen column is shown under each thumbnail
// and sorting by it (ascending, descending) puts the samples without a value
// last; on Analyze & Filter a range typed for a numeric column and a picked
// category give the live count the data says, and the button makes exactly
// those samples the selection (read back through the API), which the tag
// menu freezes as a tag of exactly those files; the plot switches
// to the server's UMAP layout; a column name and a category that are HTML
// are shown as text and fire no dialog. Every page: axe-core finds no
// serious or critical violation, a screenshot is taken, no dialog fires.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './harness.mjs';

const S = {};
const N = 30;
const PATHS = Array.from({ length: N }, (_, i) => `img/s${String(i).padStart(2, '0')}.png`);
// quality: i / 29 rounded, none for every 7th sample (s00, s07, s14, s21, s28)
const quality = (i) => (i % 7 === 0 ? null : Math.round((i / (N - 1)) * 1000) / 1000);
const WEATHER = ['sunny', 'rainy', '<img src=x onerror=alert(1)>'];
const weather = (i) => (i % 5 === 4 ? '' : WEATHER[i % 3]);
const HTML_COL = '<b onmouseover=alert(2)>x</b>';

function metadataCsv() {
	const q = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
	const rows = PATHS.map((p, i) => [p, quality(i) ?? '', q(weather(i)), i % 2].join(','));
	return [`filename,quality,weather,${q(HTML_COL)}`, ...rows].join('\n') + '\n';
}
function predictionsCsv() {
	const rows = PATHS.map((p, i) => { const a = 0.5 + 0.49 * Math.cos(i); return `${p},${a.toFixed(4)},${(1 - a).toFixed(4)}`; });
	return ['filename,cat,dog', ...rows].join('\n') + '\n';
}

async function openSignedIn(pathname) {
	if (!S.page || S.page.isClosed())
		({ context: S.context, page: S.page } = await H.newPage(S.browser));
	if ((await S.context.request.get(`${S.url}/app/session`)).status() !== 200)
		await H.signInByApi(S.context, S.url, S.a1.token);
	await S.page.goto(S.url + pathname);
	return S.page;
}

// the paths of the grid's cells in the order shown
const gridPaths = (page) => page.locator('.sgrid-cell img').evaluateAll((els) => els.map((e) => e.getAttribute('alt')));

describe('columns, sort, Analyze & Filter, layouts', { concurrency: false }, () => {
	before(async () => {
		H.need();
		S.dir = H.tmpdir('webcols');
		S.store = path.join(S.dir, 'store');
		S.a1 = H.tokenCreate(S.store, 'alice', S.dir);
		S.a2 = H.tokenCreate(S.store, 'alice', S.dir);
		S.b1 = H.tokenCreate(S.store, 'bob', S.dir);
		({ url: S.url } = await H.startServe(S.store));
		S.api = new H.Api(S.url, S.a2.token);
		S.bob = new H.Api(S.url, S.b1.token);
		S.src = path.join(S.dir, 'src');
		H.makePngs(S.src, PATHS.map((p, i) => [p, [20 + 7 * i, 200 - 5 * i, 90 + (i % 4) * 30]]));
		S.ds = await S.api.json('POST', '/v1/datasets', { name: 'cols' }, 201);
		const dir = await S.api.mkdir(S.ds.live_root, 'img');
		for (const p of PATHS) await S.api.put(dir.ino, path.basename(p), fs.readFileSync(path.join(S.src, p)));
		const vec = (i) => [Math.cos(i / 3) * (1 + (i % 3)), Math.sin(i / 3) * (1 + (i % 3)), (i % 5) / 10];
		await S.api.json('PUT', `/v1/datasets/${S.ds.id}/embeddings?name=mine`,
			H.embeddingCsv(PATHS.map((p, i) => [p, vec(i), i % 2])), 201);
		await S.api.json('PUT', `/v1/datasets/${S.ds.id}/inputs?kind=metadata&name=meta`, metadataCsv(), 201);
		await S.api.json('PUT', `/v1/datasets/${S.ds.id}/inputs?kind=predictions&name=model`, predictionsCsv(), 201);
		S.browser = await H.launch();
	});
	after(async () => {
		await S.browser?.close().catch(() => {});
		await H.stopAll();
	});

	test('the columns route: names, values in table order, 304, tag mask, refusals', async () => {
		const id = S.ds.id;
		const { columns: names } = await S.api.json('GET', `/v1/datasets/${id}/columns`);
		for (const n of ['meta.quality', 'meta.weather', `meta.${HTML_COL}`, 'model.uncertainty_entropy', 'model.class',
			'model.cat', 'builtin.width', 'builtin.file_size'])
			assert.ok(names.includes(n), `no column ${n} in ${JSON.stringify(names)}`);
		const qi = names.indexOf('meta.quality'), wi = names.indexOf('meta.weather');
		const r = await S.api.req('GET', `/v1/datasets/${id}/columns?cols=${qi},${wi}`);
		assert.equal(r.status, 200);
		const etag = r.headers.get('etag');
		assert.match(etag, /^"[0-9a-f]{32}"$/);
		assert.equal(r.headers.get('x-sievefs-count'), String(N));
		const j = await r.json();
		assert.equal(j.count, N);
		assert.deepEqual(j.columns.map((c) => [c.name, c.kind]), [['meta.quality', 'number'], ['meta.weather', 'category']]);
		// the table is sorted by path, which PATHS already is
		assert.deepEqual(j.columns[0].values, PATHS.map((_, i) => quality(i)));
		const w = j.columns[1];
		assert.deepEqual(w.values.map((k) => (k < 0 ? '' : w.categories[k])), PATHS.map((_, i) => weather(i)));
		// the same answer again: 304 with no body
		const r304 = await S.api.req('GET', `/v1/datasets/${id}/columns?cols=${qi},${wi}`, undefined, { 'if-none-match': etag });
		assert.equal(r304.status, 304);
		assert.equal(await r304.text(), '');
		// a replaced input is read again (the server caches columns per inputs
		// and table): quality of s01 changed to 0.5, then back
		const changed = metadataCsv().replace(`${PATHS[1]},${quality(1)},`, `${PATHS[1]},0.5,`);
		assert.notEqual(changed, metadataCsv());
		// (a replaced input is listed anew, after the others: the indexes move,
		// and each answer names its columns)
		const colsOf = async (...want) => {
			const l = (await S.api.json('GET', `/v1/datasets/${id}/columns`)).columns;
			return want.map((n) => l.indexOf(n)).join(',');
		};
		await S.api.json('PUT', `/v1/datasets/${id}/inputs?kind=metadata&name=meta`, changed, 201);
		const c2 = await colsOf('meta.quality', 'meta.weather');
		const r2 = await S.api.req('GET', `/v1/datasets/${id}/columns?cols=${c2}`, undefined, { 'if-none-match': etag });
		assert.equal(r2.status, 200, 'a replaced input still answered 304');
		const j2 = await r2.json();
		assert.deepEqual(j2.columns.map((c) => c.name), ['meta.quality', 'meta.weather']);
		assert.equal(j2.columns[0].values[1], 0.5);
		await S.api.json('PUT', `/v1/datasets/${id}/inputs?kind=metadata&name=meta`, metadataCsv(), 201);
		const r3 = await S.api.req('GET', `/v1/datasets/${id}/columns?cols=${await colsOf('meta.quality', 'meta.weather')}`);
		assert.equal(r3.headers.get('etag'), etag, 'the same inputs again, not the same ETag');
		// another input adds its columns to the list at once
		// (numbers keep every digit and no more: 0.1 stays 0.1)
		await S.api.json('PUT', `/v1/datasets/${id}/inputs?kind=metadata&name=extra`,
			`filename,z\n${PATHS[0]},1700000000123\n${PATHS[1]},0.1\n${PATHS[2]},-2.5e-7\n`, 201);
		const ez = await S.api.req('GET', `/v1/datasets/${id}/columns?cols=${await colsOf('extra.z')}`);
		const ezText = await ez.text();
		assert.match(ezText, /"values":\[1700000000123,0\.1,-2\.5e-0?7,null/);
		assert.deepEqual(JSON.parse(ezText).columns[0].values.slice(0, 3), [1700000000123, 0.1, -2.5e-7]);
		await S.api.req('DELETE', `/v1/inputs/${(await S.api.json('GET', `/v1/datasets/${id}/inputs?kind=metadata&name=extra`)).id}`)
			.then((x) => assert.equal(x.status, 204));
		assert.ok(!(await S.api.json('GET', `/v1/datasets/${id}/columns`)).columns.includes('extra.z'));
		// masked to a tag: the selection as a tag of 3 samples
		await S.api.req('PUT', `/v1/datasets/${id}/selection`, `${PATHS[1]}\n${PATHS[2]}\n${PATHS[3]}\n`,
			{ 'content-type': 'text/plain' }).then((x) => assert.ok(x.ok, `PUT selection ${x.status}`));
		const tag = await S.api.json('POST', `/v1/datasets/${id}/tags`, { name: 'three' }, 201);
		const q2 = await colsOf('meta.quality');
		const m = await S.api.json('GET', `/v1/datasets/${id}/columns?cols=${q2}&tag=${tag.id}`);
		assert.deepEqual(m.columns[0].values, PATHS.map((_, i) => (i >= 1 && i <= 3 ? quality(i) : null)));
		const ms = await S.api.json('GET', `/v1/datasets/${id}/columns?cols=${q2}&selection=1`);
		assert.deepEqual(ms.columns[0].values, m.columns[0].values);
		// refusals: malformed cols (with the range), another user's dataset and tag
		for (const bad of ['x', `${names.length}`, '1,,2', '-1', Array.from({ length: 65 }, () => 0).join(',')]) {
			const b = await S.api.req('GET', `/v1/datasets/${id}/columns?cols=${encodeURIComponent(bad)}`);
			assert.equal(b.status, 400, `cols=${bad}: ${b.status}`);
			assert.match((await b.json()).error.message, new RegExp(`indexes into the column list \\(0\\.\\.${names.length - 1}\\)`));
		}
		for (const p of [`/v1/datasets/${id}/columns`, `/v1/datasets/${id}/columns?cols=all`]) {
			const b = await S.bob.req('GET', p);
			assert.equal(b.status, 404, `bob GET ${p}: ${b.status}`);
		}
		const bobDs = await S.bob.json('POST', '/v1/datasets', { name: 'bobs' }, 201);
		const b = await S.bob.req('GET', `/v1/datasets/${bobDs.id}/columns?cols=0&tag=${tag.id}`);
		assert.equal(b.status, 404, `bob with alice's tag: ${b.status}`);
		assert.doesNotMatch(await b.text(), /quality|sunny/);
		// back to the whole dataset as the selection, for the pages below
		const all = PATHS.join('\n') + '\n';
		const x = await S.api.req('PUT', `/v1/datasets/${id}/selection`, all, { 'content-type': 'text/plain' });
		assert.ok(x.ok);
	});

	test('the grid shows a chosen column and sorts by it, missing values last', async () => {
		const page = await openSignedIn(`/datasets/${S.ds.id}/samples`);
		await page.locator('.sgrid-cell').first().waitFor();
		await page.getByText(/Columns shown/).click();
		await page.getByRole('checkbox', { name: 'meta.quality' }).check();
		await page.getByRole('checkbox', { name: `meta.${HTML_COL}` }).check();
		await page.locator('.sgrid-col').first().waitFor();
		await page.getByText(/Columns shown/).click();   // closes the chooser
		await page.getByLabel('Sort by').selectOption({ label: 'meta.quality' });
		const have = PATHS.map((p, i) => [p, quality(i)]).filter(([, q]) => q !== null);
		const none = PATHS.filter((_, i) => quality(i) === null);
		const asc = [...have].sort((a, b) => a[1] - b[1]).map(([p]) => p);
		await H.waitFor(async () => JSON.stringify(await gridPaths(page)) === JSON.stringify([...asc, ...none]),
			`the grid sorted by meta.quality ascending (it shows ${JSON.stringify(await gridPaths(page))})`);
		// numbers formatted; a missing value is a dash
		const firstCell = page.locator('.sgrid-cell').first();
		assert.match(await firstCell.innerText(), /meta\.quality\s+0\.034/);
		assert.match(await page.locator('.sgrid-cell').last().innerText(), /meta\.quality\s+—/);
		await page.getByRole('button', { name: 'Reverse order' }).click();
		await H.waitFor(async () => JSON.stringify(await gridPaths(page)) === JSON.stringify([...[...asc].reverse(), ...none]),
			'the grid sorted by meta.quality descending, missing last');
		// the HTML column name is text
		assert.ok((await H.bodyText(page)).includes(HTML_COL), 'the HTML column name is not shown as text');
		assert.equal(await page.locator('b[onmouseover]').count(), 0, 'the column name became markup');
		await H.look(page, 'samples-sorted-by-column');
	});

	test('Analyze & Filter: a range and a category give the live count; the button makes them the selection', async () => {
		const page = await openSignedIn(`/datasets/${S.ds.id}/analyze`);
		await page.getByRole('heading', { name: 'meta.quality' }).waitFor();
		await page.locator('.an-hist').first().waitFor();
		await H.look(page, 'analyze');
		// builtin.* values not computed yet are said to be on their way, not
		// missing (one read of the page: both texts come from one render)
		const first = await H.bodyText(page);
		if (/is still being computed/.test(first))
			assert.match(first, /Being computed: the values fill in/, 'a pending builtin.* column reads as having no value');
		assert.doesNotMatch(first, /No sample of this tag has a value/);
		const count = page.locator('.an-count');
		await H.waitFor(async () => /30 of 30 samples pass/.test(await count.innerText()), 'the count before any filter');
		// a typed range: 0.5 to 0.8
		await page.getByLabel('Minimum of meta.quality').fill('0.5');
		await page.getByLabel('Minimum of meta.quality').press('Enter');
		await page.getByLabel('Maximum of meta.quality').fill('0.8');
		await page.getByLabel('Maximum of meta.quality').press('Enter');
		const inRange = PATHS.filter((_, i) => quality(i) !== null && quality(i) >= 0.5 && quality(i) <= 0.8);
		await H.waitFor(async () => (await count.innerText()).startsWith(`${inRange.length} of 30 samples pass`),
			`the count of the range (${inRange.length}); it says ${await count.innerText()}`);
		// and a category: sunny
		await page.getByRole('checkbox', { name: /^sunny/ }).check();
		const want = PATHS.filter((_, i) => quality(i) !== null && quality(i) >= 0.5 && quality(i) <= 0.8 && weather(i) === 'sunny');
		await H.waitFor(async () => (await count.innerText()).startsWith(`${want.length} of 30 samples pass`),
			`the count of range + sunny (${want.length}); it says ${await count.innerText()}`);
		// the HTML category is text
		assert.ok((await H.bodyText(page)).includes(WEATHER[2]), 'the HTML category is not shown as text');
		assert.equal(await page.locator('img[src="x"]').count(), 0, 'the category became markup');
		await H.look(page, 'analyze-filtered');
		await page.getByRole('button', { name: `Make these ${want.length} samples the selection` }).click();
		await page.getByText(/The selection is now the/).waitFor();
		assert.deepEqual(await S.api.selection(S.ds.id), want);
		await H.look(page, 'analyze-selection-made');
		// frozen in the tag menu (name + Enter): a tag of exactly those files
		const field = page.getByLabel(/tag name|new tag|freeze/i).first();
		await field.fill('filtered');
		await field.press('Enter');
		const tag = await H.waitFor(async () => (await S.api.tags(S.ds.id)).find((x) => x.name === 'filtered'),
			'the tag filtered to exist');
		assert.deepEqual(await S.api.files(tag.root), want);
	});

	test('Analyze & Filter from the keyboard: Tab reaches the fields, a range by typing', async () => {
		const r = await S.api.req('PUT', `/v1/datasets/${S.ds.id}/selection`, PATHS.join('\n') + '\n', { 'content-type': 'text/plain' });
		assert.ok(r.ok, `PUT selection: ${r.status}`);
		const page = await openSignedIn(`/datasets/${S.ds.id}/analyze`);
		const lo = page.getByLabel('Minimum of meta.quality');
		await lo.waitFor();
		let reached = false;
		await page.locator('body').click({ position: { x: 1, y: 1 } });
		for (let i = 0; i < 80 && !reached; i++) {
			await page.keyboard.press('Tab');
			reached = await lo.evaluate((el) => el === document.activeElement);
		}
		assert.ok(reached, 'the minimum field cannot be reached with Tab');
		await page.keyboard.type('0.9');
		await page.keyboard.press('Enter');
		const want = PATHS.filter((_, i) => quality(i) !== null && quality(i) >= 0.9);
		const count = page.locator('.an-count');
		await H.waitFor(async () => (await count.innerText()).startsWith(`${want.length} of `),
			`the count of >= 0.9 (${want.length}); it says ${await count.innerText()}`);
		H.assertClean(page);
	});

	test('Analyze & Filter: dragging across a histogram sets the range', async () => {
		const page = await openSignedIn(`/datasets/${S.ds.id}/analyze`);
		const hist = page.getByRole('region', { name: 'meta.quality', exact: true }).locator('.an-hist');
		await hist.waitFor();
		const box = await hist.boundingBox();
		await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
		await page.mouse.down();
		await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 5 });
		await page.mouse.move(box.x + box.width * 0.99, box.y + box.height / 2, { steps: 5 });
		await page.mouse.up();
		// the fields follow the drag once the page re-rendered
		await H.waitFor(async () => (await page.getByLabel('Maximum of meta.quality').inputValue()) !== '',
			'the range fields to show the dragged range');
		const lo = Number(await page.getByLabel('Minimum of meta.quality').inputValue());
		const hi = Number(await page.getByLabel('Maximum of meta.quality').inputValue());
		// the histogram spans 0.034..1 in 30 bins: the drag's ends (half way, the
		// right edge) snap outwards to bin edges, so the largest value is kept
		assert.ok(lo > 0.45 && lo < 0.57, `the dragged range starts at ${lo}`);
		assert.equal(hi, 1, 'a drag to the right end keeps the largest value');
		const want = PATHS.filter((_, i) => quality(i) !== null && quality(i) >= lo && quality(i) <= hi);
		const count = page.locator('.an-count');
		await H.waitFor(async () => (await count.innerText()).startsWith(`${want.length} of 30 samples pass`),
			`the count of the dragged range (${want.length}); it says ${await count.innerText()}`);
		await H.look(page, 'analyze-dragged');
	});

	test('the plot: PCA, then the server\'s UMAP layout', async () => {
		const page = await openSignedIn(`/datasets/${S.ds.id}/plot`);
		await page.getByTestId('plot').waitFor();
		await H.waitFor(async () => (await page.locator('.plot-message').count()) === 0, 'the PCA plot to load');
		await H.look(page, 'plot-pca');
		// the server's answer held back until the page showed its pending state
		let release;
		const held = new Promise((r) => { release = r; });
		await page.route(/\/layout\?.*method=umap/, async (route) => { await held; await route.continue(); });
		const got = page.waitForResponse((r) => /\/layout\?.*method=umap/.test(r.url()), { timeout: 60000 });
		await page.getByLabel('Layout').selectOption('umap');
		await page.getByRole('status').filter({ hasText: /computing the (neighbour-preserving )?layout/i }).first().waitFor();
		await H.shot(page, 'plot-umap-pending');
		release();
		const res = await got;
		assert.equal(res.status(), 200);
		assert.equal(res.headers()['x-sievefs-layout'], 'umap');
		await H.waitFor(async () => (await page.locator('.plot-message').count()) === 0
			&& (await page.locator('.plot-pending').count()) === 0, 'the UMAP plot to be drawn', 60000);
		await H.look(page, 'plot-umap');
	});

	test('Analyze & Filter with more than 64 columns: the image metadata stays, and the page says how many are left out', async () => {
		const ds = await S.api.json('POST', '/v1/datasets', { name: 'wide' }, 201);
		const dir = await S.api.mkdir(ds.live_root, 'img');
		for (const p of PATHS.slice(0, 3)) await S.api.put(dir.ino, path.basename(p), fs.readFileSync(path.join(S.src, p)));
		const head = Array.from({ length: 70 }, (_, k) => `c${String(k).padStart(2, '0')}`);
		const rows = PATHS.slice(0, 3).map((p, i) => [p, ...head.map((_, k) => i + k)].join(','));
		await S.api.json('PUT', `/v1/datasets/${ds.id}/inputs?kind=metadata&name=wide`,
			`filename,${head.join(',')}\n${rows.join('\n')}\n`, 201);
		const { columns: names } = await S.api.json('GET', `/v1/datasets/${ds.id}/columns`);
		const nb = names.filter((n) => n.startsWith('builtin.')).length;
		assert.ok(names.length > 64 && nb > 0, `${names.length} columns, ${nb} builtin`);
		// a tag of the same user's other dataset is no tag of this one
		const three = (await S.api.tags(S.ds.id)).find((x) => x.name === 'three');
		const other = await S.api.req('GET', `/v1/datasets/${ds.id}/columns?cols=0&tag=${three.id}`);
		assert.equal(other.status, 404, `a tag of another dataset: ${other.status}`);
		assert.match((await other.json()).error.message, /no such tag in this dataset/);
		const page = await openSignedIn(`/datasets/${ds.id}/analyze`);
		await page.getByRole('heading', { name: 'wide.c00' }).waitFor();
		await page.getByRole('heading', { name: 'builtin.width' }).waitFor();
		assert.equal(await page.locator('.an-col').count(), 64);
		assert.equal(await page.getByRole('heading', { name: `wide.c${64 - nb}` }).count(), 0);
		await page.getByText(`${names.length - 64} more columns not shown (at most 64)`).waitFor();
		await H.look(page, 'analyze-wide');
	});
});
