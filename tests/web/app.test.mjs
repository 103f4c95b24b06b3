// app.test.mjs — the web app end to end (issue 17, "What it must show"), in
// headless Chromium against a real `sievefs serve` on loopback.
//
// Proves: a wrong token is refused with a message and no session; sign-in
// with a token shows My datasets; a dataset created by name; 50 PNGs dropped
// as a folder with two sub-folders are 50 samples (paths kept); 1,001 files
// are refused with the message and nothing is uploaded; with an embedding
// (CSV through the API) a sampling request made in the page runs, and
// dragging the slider moves the bar (aria-valuenow), the grid and the plot
// while dragging, and the arrow keys move it too; the selection frozen as a
// tag by name + Enter is a tag of that many files, and choosing tags in the
// menu (mouse and keyboard) moves the bar; hovering a point shows its
// thumbnail and path; a lasso around 10 points makes them the selection,
// frozen as a tag that a REMOTE mount shows as a folder with those 10 files;
// a file name that is HTML is shown as text (grid, sample view) and fires
// no dialog (tag and dataset names cannot hold < > or spaces); another user's dataset URL is a not-found page with none of the
// data; a POST from a page of another origin, with the session cookie, is
// refused (403) and creates nothing; the grid works from the keyboard; a
// token made in Preferences is shown once and can be revoked; revoking the
// token of the session signs the page out. Every page: axe-core finds no
// serious or critical violation, a screenshot is taken, no dialog fires.
//
// Tests run in order and share one server; each sets up through the API
// what an earlier test should have made, so one failure does not hide the
// others. Selectors are roles and labels (CONTRACT-17: test hooks), plus
// data-testid="plot" / "active-bar" and the file inputs (input[type=file]).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './harness.mjs';

const S = {};   // shared: url, store, tokens, api, browser, page…

function anyRole(scope, name) {
	return scope.getByRole('treeitem', { name }).or(scope.getByRole('link', { name }))
		.or(scope.getByRole('button', { name })).or(scope.getByRole('radio', { name }))
		.or(scope.getByRole('option', { name })).or(scope.getByRole('tab', { name })).first();
}
const tagMenu = (page) => page.getByRole('navigation', { name: /tag/i })
	.or(page.getByRole('complementary', { name: /tag/i })).first();
const bar = (page) => page.getByTestId('active-bar');
// a slider's value: aria-valuenow, or a native range input's value
const sliderValue = (loc) => loc.evaluate((el) => Number(el.getAttribute('aria-valuenow') ?? el.value));
const barValue = async (page) => Number(await bar(page).getAttribute('aria-valuenow'));
// a control whose accessible name starts with NAME (a count may follow,
// even with no space: "top-n11"), after an optional tree mark
const exactName = (s) => new RegExp(`^[\\s└─]*${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z._-])`);

// freezes the selection as tag NAME with the name field + Enter; waits for
// the tag in the menu (on failure: a screenshot, and the page's messages)
async function freeze(page, name) {
	const field = page.getByLabel(/tag name|new tag|freeze/i).first();
	await field.fill(name);
	await field.press('Enter');
	try {
		await anyRole(tagMenu(page), exactName(name)).waitFor({ timeout: 10000 });
	} catch (e) {
		await H.shot(page, `freeze-${name}-failed`);
		const msgs = await page.getByRole('alert').or(page.getByRole('status')).allInnerTexts();
		const menu = await tagMenu(page).ariaSnapshot().catch((x) => `(no tag menu: ${x.message.split('\n')[0]})`);
		throw new Error(`tag ${name} not in the tag menu after Enter; the page says: ${msgs.filter(Boolean).join(' | ')}\n` +
			`the tag menu:\n${menu}\n${e.message.split('\n')[0]}`);
	}
}

async function waitBar(page, want, what) {
	await H.waitFor(async () => (await barValue(page)) === want,
		`${what}: the active bar to say ${want} (it says ${await barValue(page).catch(() => '?')})`, 15000);
}

// presses Tab until `loc` has the focus — itself, inside it, or as the
// aria-activedescendant of the focused widget — or, in a widget with one tab
// stop (`group`: a listbox, a tree), until the focus is in the group, then
// Home and ArrowDown to `loc`: proves it is reachable by keyboard
async function tabTo(page, loc, group) {
	const focused = (l) => l.evaluate((el) => {
		const a = document.activeElement;
		return el === a || el.contains(a) || (!!el.id && a?.getAttribute('aria-activedescendant') === el.id);
	}).catch(() => false);
	const inGroup = () => group.evaluate((el) => el.contains(document.activeElement)).catch(() => false);
	await page.locator('body').click({ position: { x: 1, y: 1 } }).catch(() => {});
	for (let i = 0; i < 80; i++) {
		await page.keyboard.press('Tab');
		if (await focused(loc)) return;
		if (group && await inGroup()) {
			await page.keyboard.press('Home');
			for (let j = 0; j < 30 && await inGroup(); j++) {
				if (await focused(loc)) return;
				await page.keyboard.press('ArrowDown');
			}
		}
	}
	assert.fail(`${loc} cannot be reached with Tab`);
}

// the 50 samples: the folder photos/ with cats/c00..c24.png and
// dogs/d00..d24.png (choosing a folder in a browser uploads the folder
// itself: its name starts every path). In the embedding photos/dogs/d15..d24
// form a tight cluster far from the rest (the lasso's 10).
const CATS = Array.from({ length: 25 }, (_, i) => `photos/cats/c${String(i).padStart(2, '0')}.png`);
const DOGS = Array.from({ length: 25 }, (_, i) => `photos/dogs/d${String(i).padStart(2, '0')}.png`);
const LASSO = DOGS.slice(15);
function vector(p, i) {
	const j = (k) => ((i * 7919 + k * 104729) % 1000) / 1000 - 0.5;   // fixed jitter
	if (LASSO.includes(p)) return [9 + 0.15 * j(1), 9 + 0.15 * j(2), 0.01 * j(3), 0.01 * j(4)];
	if (p.startsWith('photos/cats/')) return [-4 + 3 * j(1), 0 + 3 * j(2), 0.01 * j(3), 0.01 * j(4)];
	return [3 + 3 * j(1), -5 + 3 * j(2), 0.01 * j(3), 0.01 * j(4)];
}

async function ensureDataset(name) {
	const r = await S.api.req('GET', `/v1/datasets?name=${encodeURIComponent(name)}`);
	if (r.status === 200) return r.json();
	return S.api.json('POST', '/v1/datasets', { name }, 201);
}

async function ensureSamples(ds) {
	const have = await S.api.files(ds.live_root);
	if (have.length >= 50) return;
	const dirs = {};
	const folder = async (rel) => {   // the node of folder REL, made if missing
		if (!rel) return { ino: ds.live_root };
		if (dirs[rel]) return dirs[rel];
		const parent = await folder(path.dirname(rel) === '.' ? '' : path.dirname(rel));
		const name = path.basename(rel);
		const r = await S.api.req('GET', `/v1/nodes/${parent.ino}/lookup?name=${encodeURIComponent(name)}`);
		return (dirs[rel] = r.status === 200 ? await r.json() : await S.api.mkdir(parent.ino, name));
	};
	for (const p of [...CATS, ...DOGS]) {
		if (have.includes(p)) continue;
		const dir = await folder(path.dirname(p));
		await S.api.put(dir.ino, path.basename(p), fs.readFileSync(path.join(S.src, p)));
	}
}

async function ensureEmbedding(ds) {
	const r = await S.api.req('GET', `/v1/datasets/${ds.id}/embeddings?name=mine`);
	if (r.status === 200) return r.json();
	const rows = [...CATS, ...DOGS].map((p, i) => [p, vector(p, i), p.startsWith('photos/cats/') ? 0 : 1]);
	return S.api.json('PUT', `/v1/datasets/${ds.id}/embeddings?name=mine`, H.embeddingCsv(rows), 201);
}

async function ensureRun(ds) {
	const t = await S.api.text(`/v1/datasets/${ds.id}/sample`);
	if (/status: done/.test(t)) return;
	if (!/status: (queued|running)/.test(t))
		await S.api.json('POST', `/v1/datasets/${ds.id}/sample`, 'coreset embedding=mine', 202);
	await S.api.waitRun(ds.id);
}

// the shared page, signed in as alice (through the API when the page has
// no session, e.g. because the sign-in test failed)
async function openSignedIn(pathname) {
	if (!S.page || S.page.isClosed())
		({ context: S.context, page: S.page } = await H.newPage(S.browser));
	if ((await S.context.request.get(`${S.url}/app/session`)).status() !== 200)
		await H.signInByApi(S.context, S.url, S.a1.token);
	await S.page.goto(S.url + pathname);
	return S.page;
}

describe('the web app against sievefs serve', { concurrency: false }, () => {
	before(async () => {
		H.need();
		S.dir = H.tmpdir('webtest');
		S.store = path.join(S.dir, 'store');
		S.a1 = H.tokenCreate(S.store, 'alice', S.dir);   // the browser's session
		S.a2 = H.tokenCreate(S.store, 'alice', S.dir);   // the test's API calls, the remote mount
		S.b1 = H.tokenCreate(S.store, 'bob', S.dir);
		({ url: S.url } = await H.startServe(S.store));
		S.api = new H.Api(S.url, S.a2.token);
		S.src = path.join(S.dir, 'src');
		H.makePngs(S.src, [...CATS, ...DOGS].map((p, i) =>
			[p, p.startsWith('photos/cats/') ? [200, 40 + 8 * (i % 25), 40] : [40, 60 + 7 * (i % 25), 200]]));
		S.browser = await H.launch();
	});
	after(async () => {
		await S.browser?.close().catch(() => {});
		await H.stopAll();
	});

	test('a wrong token is refused with a message, and no session', async () => {
		const { context, page } = await H.newPage(S.browser);
		await page.goto(S.url + '/');
		await H.look(page, 'sign-in');
		await page.getByLabel(/token/i).first().fill('svf_' + '0'.repeat(64));
		await page.getByRole('button', { name: /sign in/i }).click();
		await page.getByRole('alert').filter({ hasText: /\S/ }).first().waitFor({ timeout: 10000 });
		await H.shot(page, 'sign-in-wrong-token');
		assert.equal((await context.request.get(`${S.url}/app/session`)).status(), 401, 'a session exists');
		assert.ok(await page.getByLabel(/token/i).first().isVisible(), 'the sign-in form went away');
		H.assertClean(page);
		await context.close();
	});

	test('sign in with a token: My datasets', async () => {
		({ context: S.context, page: S.page } = await H.newPage(S.browser));
		const page = S.page;
		await page.goto(S.url + '/');
		await page.getByLabel(/token/i).first().fill(S.a1.token);
		await page.getByRole('button', { name: /sign in/i }).click();
		await page.getByRole('heading', { name: /datasets/i }).first().waitFor({ timeout: 10000 });
		const who = await S.context.request.get(`${S.url}/app/session`);
		assert.equal(who.status(), 200);
		assert.equal((await who.json()).user, 'alice');
		// the token is in no page storage and no URL
		const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href);
		assert.ok(!stored.includes(S.a1.token), 'the token sits in page storage or the URL');
		await H.look(page, 'my-datasets-empty');
	});

	test('create a dataset by name (and a bad name is refused with a message)', async () => {
		const page = await openSignedIn('/');
		const field = page.getByRole('textbox', { name: /new dataset|dataset name|name/i }).first();
		await field.fill('a/b');
		await page.getByRole('button', { name: /create/i }).first().click();
		await page.getByRole('alert').filter({ hasText: /\S/ }).first().waitFor({ timeout: 10000 });
		assert.deepEqual((await S.api.datasets()).map((d) => d.name), [], 'a dataset was made of a bad name');
		await H.shot(page, 'create-dataset-bad-name');
		await field.fill('leaves');
		await page.getByRole('button', { name: /create/i }).first().click();
		await page.getByRole('link', { name: exactName('leaves') }).first().waitFor({ timeout: 10000 });
		const ds = await S.api.dataset('leaves');
		assert.equal(ds.name, 'leaves');
		await H.look(page, 'my-datasets');
	});

	test('drop 50 images in two sub-folders: 50 samples, paths kept', async () => {
		const ds = await ensureDataset('leaves');
		const page = await openSignedIn(`/datasets/${ds.id}/upload`);
		await H.look(page, 'upload');
		const folder = page.locator('input[type=file][webkitdirectory]');
		await folder.waitFor({ state: 'attached', timeout: 10000 });
		await folder.setInputFiles(path.join(S.src, 'photos'));
		await H.waitFor(async () => (await S.api.files(ds.live_root)).length === 50,
			'the 50 files to be samples', 60000, 250);
		assert.deepEqual(await S.api.files(ds.live_root), [...CATS, ...DOGS]);
		await H.shot(page, 'upload-done');
		await page.goto(`${S.url}/datasets/${ds.id}`);
		await H.waitFor(async () => /\b50\b/.test(await H.bodyText(page)), 'the overview to say 50', 10000);
		await H.look(page, 'overview');
	});

	test('an upload of 1,001 files is refused with the message, nothing uploaded', async () => {
		const ds = await ensureDataset('many');
		const dir = path.join(S.dir, 'many');
		fs.mkdirSync(dir, { recursive: true });
		for (let i = 0; i < 1001; i++) fs.writeFileSync(path.join(dir, `f${String(i).padStart(4, '0')}.txt`), `${i}\n`);
		const page = await openSignedIn(`/datasets/${ds.id}/upload`);
		const folder = page.locator('input[type=file][webkitdirectory]');
		await folder.waitFor({ state: 'attached', timeout: 10000 });
		await folder.setInputFiles(dir);
		const msg = page.getByText(/1,?000 files/i).first();
		await msg.waitFor({ timeout: 10000 });
		const text = await H.bodyText(page);
		assert.match(text, /mount|python/i, 'the message does not say to use the mount or the Python client');
		await H.shot(page, 'upload-1001-refused');
		await new Promise((r) => setTimeout(r, 1500));
		assert.deepEqual(await S.api.files(ds.live_root), [], 'files were uploaded');
		H.assertClean(page);
	});

	test('sampling: Process runs the request; dragging the slider moves the bar, grid and plot', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		await ensureEmbedding(ds);
		const page = await openSignedIn(`/datasets/${ds.id}/sampling`);
		await H.look(page, 'sampling');
		const emb = page.getByLabel(/embedding/i).first();
		const opts = await emb.locator('option').allTextContents().catch(() => []);
		const mine = opts.find((o) => /mine/.test(o));
		assert.ok(mine, `no embedding "mine" to choose (options: ${opts.join(' | ')})`);
		await emb.selectOption({ label: mine });
		const strat = page.getByLabel(/strategy/i).first();
		const sopts = await strat.locator('option').allTextContents();
		await strat.selectOption({ label: sopts.find((o) => /coreset/i.test(o)) });
		await page.getByRole('button', { name: /process/i }).click();
		const status = await S.api.waitRun(ds.id);
		assert.match(status, /coreset/);
		const slider = page.getByRole('slider').first();
		await slider.waitFor({ timeout: 20000 });
		await H.shot(page, 'sampling-done');
		const grid = page.getByRole('grid').first();
		const plot = page.getByTestId('plot');
		await grid.waitFor({ timeout: 10000 });
		await plot.waitFor({ timeout: 10000 });
		const max = Number(await bar(page).getAttribute('aria-valuemax'));
		assert.equal(max, 50, 'the bar counts against the dataset total');
		const box = await slider.boundingBox();
		const y = box.y + box.height / 2;
		await page.mouse.move(box.x + box.width * 0.97, y);
		await page.mouse.down();
		await page.mouse.move(box.x + box.width * 0.9, y, { steps: 3 });
		await page.waitForTimeout(300);
		const gridBefore = await grid.innerHTML();
		const plotBefore = await plot.screenshot();
		const barBefore = await barValue(page);
		await page.mouse.move(box.x + box.width * 0.2, y, { steps: 10 });
		await page.waitForTimeout(500);
		// while the button is still down
		const n = await sliderValue(slider);
		assert.ok(n > 0 && n < barBefore, `the slider says ${n} after the drag (the bar said ${barBefore} before)`);
		await waitBar(page, n, 'while dragging');
		assert.notEqual(await grid.innerHTML(), gridBefore, 'the grid did not change while dragging');
		assert.ok(!plotBefore.equals(await plot.screenshot()), 'the plot did not change while dragging');
		await page.mouse.up();
		await H.shot(page, 'sampling-slider-dragged');
		// the keyboard moves it too
		await slider.focus();
		const k0 = await sliderValue(slider);
		await page.keyboard.press('ArrowRight');
		await H.waitFor(async () => await sliderValue(slider) === k0 + 1, 'ArrowRight to add one', 5000);
		await waitBar(page, k0 + 1, 'after ArrowRight');
		await page.keyboard.press('ArrowLeft');
		await waitBar(page, k0, 'after ArrowLeft');
		await page.keyboard.press('Home');
		await H.waitFor(async () => await sliderValue(slider) < k0, 'Home to lower it', 5000);
		for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
		S.sliderN = await sliderValue(slider);
		await waitBar(page, S.sliderN, 'after ten ArrowRight');
		await H.look(page, 'sampling-slider');
	});

	test('freeze the selection as a tag (name + Enter) and switch tags (mouse, keyboard)', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		await ensureEmbedding(ds);
		await ensureRun(ds);
		const page = S.page && !S.page.isClosed() && S.page.url().includes(`/datasets/${ds.id}/sampling`) ?
			S.page : await openSignedIn(`/datasets/${ds.id}/sampling`);
		if (!S.sliderN) {
			const slider = page.getByRole('slider').first();
			await slider.focus();
			await page.keyboard.press('Home');
			for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
			S.sliderN = await sliderValue(slider);
		}
		await freeze(page, 'top-n');
		const menu = tagMenu(page);
		const tag = (await S.api.tags(ds.id)).find((t) => t.name === 'top-n');
		assert.ok(tag, 'no tag top-n in the API');
		assert.equal((await S.api.files(tag.root)).length, S.sliderN, 'the tag holds the slider\'s N');
		await H.shot(page, 'tag-frozen');
		// mouse
		await anyRole(menu, exactName('initial-tag')).click();
		await waitBar(page, 50, 'initial-tag chosen');
		await anyRole(menu, exactName('top-n')).click();
		await waitBar(page, S.sliderN, 'top-n chosen');
		// keyboard
		const item = anyRole(menu, exactName('initial-tag'));
		await tabTo(page, item, menu);
		await page.keyboard.press('Enter');
		await waitBar(page, 50, 'initial-tag chosen with Enter');
		await H.look(page, 'tag-switched');
	});

	async function plotPage(ds) {
		const page = await openSignedIn(`/datasets/${ds.id}/plot`);
		const plot = page.getByTestId('plot');
		await plot.waitFor({ timeout: 15000 });
		await page.waitForTimeout(1000);
		const table = await S.api.json('GET', `/v1/datasets/${ds.id}/table`);
		const lay = new Float32Array(await (await S.api.req('GET', `/v1/datasets/${ds.id}/layout`)).arrayBuffer());
		assert.equal(lay.length, 2 * table.count);
		const idx = LASSO.map((p) => table.path.indexOf(p));
		assert.ok(idx.every((i) => i >= 0), 'the lasso paths are not all in the table');
		const cx = idx.reduce((a, i) => a + lay[2 * i], 0) / idx.length;
		const cy = idx.reduce((a, i) => a + lay[2 * i + 1], 0) / idx.length;
		const spread = Math.max(...idx.map((i) => Math.hypot(lay[2 * i] - cx, lay[2 * i + 1] - cy)));
		let gap = Infinity;   // the nearest point outside the cluster
		table.path.forEach((p, i) => {
			if (!LASSO.includes(p)) gap = Math.min(gap, Math.hypot(lay[2 * i] - cx, lay[2 * i + 1] - cy));
		});
		assert.ok(gap > 3 * spread, `the layout does not keep the cluster apart (spread ${spread}, gap ${gap})`);
		return { page, plot, table, lay, idx, cx, cy, spread, gap };
	}

	// layout [-1,1]² to page pixels: [-1, 1] fitted to the shorter side of
	// the canvas, centred, with some margin (the scale is found by hovering)
	function mappings(box) {
		const mx = box.x + box.width / 2, my = box.y + box.height / 2;
		return [0.47, 0.5, 0.45, 0.42, 0.4].map((k) => {
			const unit = Math.min(box.width, box.height) * k;
			return { name: `square ${k}`, f: (x, y) => [mx + x * unit, my - y * unit], unit };
		});
	}

	test('hover a point: its thumbnail and path', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		await ensureEmbedding(ds);
		const P = await plotPage(ds);
		const box = await P.plot.boundingBox();
		const i = P.idx[0];
		let found = null;
		for (const m of mappings(box)) {
			const [x, y] = m.f(P.lay[2 * i], P.lay[2 * i + 1]);
			await P.page.mouse.move(x - 20, y - 20);
			await P.page.mouse.move(x, y, { steps: 4 });
			const img = P.page.locator('img[src*="/thumbnail"]').first();
			if (await img.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false)) {
				found = { m, img };
				break;
			}
		}
		assert.ok(found, 'no thumbnail shows when hovering a point');
		await H.waitFor(() => found.img.evaluate((el) => el.complete && el.naturalWidth > 0), 'the thumbnail to load', 5000);
		const text = await H.bodyText(P.page);
		assert.ok(LASSO.some((p) => text.includes(p)), 'the hovered point\'s path is not shown');
		S.mapping = found.m.name;
		await H.shot(P.page, 'plot-hover');
		await H.axe(P.page, 'plot');
	});

	test('lasso 10 points and freeze them: a folder of those 10 files in a remote mount', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		await ensureEmbedding(ds);
		const P = await plotPage(ds);
		const box = await P.plot.boundingBox();
		const m = mappings(box).find((x) => x.name === (S.mapping || 'square 0.47'));
		const [cx, cy] = m.f(P.cx, P.cy);
		// a circle around the cluster, halfway to the nearest other point
		const r = m.unit * (P.spread + P.gap) / 2;
		assert.ok(r > 6, `the cluster is too small on screen to lasso (r ${r} px)`);
		const lasso = P.page.getByRole('button', { name: /lasso/i });
		const shift = !(await lasso.count());
		if (!shift) await lasso.first().click();
		if (shift) await P.page.keyboard.down('Shift');
		await P.page.mouse.move(cx + r, cy);
		await P.page.mouse.down();
		for (let k = 1; k <= 48; k++) {
			const a = (2 * Math.PI * k) / 48;
			await P.page.mouse.move(cx + r * Math.cos(a), cy + r * Math.sin(a), { steps: 2 });
		}
		await P.page.mouse.up();
		if (shift) await P.page.keyboard.up('Shift');
		await H.waitFor(async () => JSON.stringify((await S.api.selection(ds.id)).sort()) === JSON.stringify(LASSO),
			'the selection to be the 10 lassoed paths', 10000);
		await waitBar(P.page, 10, 'after the lasso');
		await H.shot(P.page, 'plot-lasso');
		await freeze(P.page, 'lasso-10');
		// the other door: a remote mount of the same server
		const mnt = path.join(S.dir, 'remote');
		await H.remoteMount(S.url, S.a2.file, mnt);
		const folder = path.join(mnt, 'leaves', 'lasso-10');
		const list = (d, pre = '') => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
			e.isDirectory() ? list(path.join(d, e.name), `${pre}${e.name}/`) : [pre + e.name]);
		await H.waitFor(() => fs.existsSync(folder), `${folder} in the remote mount`, 15000, 250);
		assert.deepEqual(list(folder).sort(), LASSO);
		assert.ok(fs.readFileSync(path.join(folder, LASSO[0])).equals(fs.readFileSync(path.join(S.src, LASSO[0]))),
			'the file read through the mount differs');
		await H.look(P.page, 'plot-lasso-frozen');
	});

	test('names that are HTML are shown as text; no dialog fires', async () => {
		const ds = await ensureDataset('names');
		const evil = '<img src=x onerror=alert(1)>.jpg';
		const have = await S.api.files(ds.live_root);
		if (!have.includes(evil)) {
			await S.api.put(ds.live_root, evil, fs.readFileSync(path.join(S.src, CATS[0])));
			await S.api.put(ds.live_root, 'plain.png', fs.readFileSync(path.join(S.src, CATS[1])));
		}
		const page = await openSignedIn(`/datasets/${ds.id}/samples`);
		const dialogs = [];
		page.on('dialog', (d) => dialogs.push(d.message()));
		await page.getByText(evil, { exact: true }).first().waitFor({ timeout: 10000 });
		await page.getByText(evil, { exact: true }).first().hover();
		await page.waitForTimeout(500);
		assert.equal(await page.locator('img[src="x"]').count(), 0, 'a name became markup');
		await H.shot(page, 'samples-html-names');
		const node = await (await S.api.req('GET', `/v1/nodes/${ds.live_root}/lookup?name=${encodeURIComponent(evil)}`)).json();
		await page.goto(`${S.url}/datasets/${ds.id}/samples/${node.ino}`);
		await page.getByText(evil).first().waitFor({ timeout: 10000 });
		assert.equal(await page.locator('img[src="x"]').count(), 0, 'a name became markup');
		await H.look(page, 'sample-html-name');
		assert.deepEqual(dialogs, [], 'a dialog fired');
	});

	test('another user\'s dataset URL: a not-found page, none of the data', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		const { context, page } = await H.newPage(S.browser);
		await H.signInByApi(context, S.url, S.b1.token);
		const seen = [];
		page.on('response', (r) => { if (r.url().includes('/v1/')) seen.push([r.url(), r.status()]); });
		for (const p of [`/datasets/${ds.id}`, `/datasets/${ds.id}/samples`, `/datasets/${ds.id}/plot`]) {
			await page.goto(S.url + p);
			await page.getByRole('heading', { name: /not found|no such/i }).first().waitFor({ timeout: 10000 });
			const text = await H.bodyText(page);
			assert.ok(!/leaves|photos\/|cats\/|dogs\//.test(text), `${p} shows alice's data`);
		}
		// the loop below proves nothing if the page never asked: it must have
		assert.ok(seen.some(([u]) => u.includes(`/datasets/${ds.id}`)), `no request for dataset ${ds.id} was seen`);
		for (const [u, st] of seen)
			if (u.includes(`/datasets/${ds.id}`)) assert.equal(st, 404, `${u} answered ${st}`);
		await H.look(page, 'not-found-other-user');
		await page.goto(S.url + '/no/such/page');
		await page.getByRole('heading', { name: /not found|no such/i }).first().waitFor({ timeout: 10000 });
		await H.look(page, 'not-found');
		await context.close();
	});

	test('a POST from a page of another origin, with the session cookie, is refused', async () => {
		const page = await openSignedIn('/');
		const other = await H.otherOrigin(`<!doctype html><html lang="en"><title>other</title>
<form method="POST" action="${S.url}/v1/datasets" enctype="text/plain">
<input name='{"name":"evil2","x":"' value='"}'><button>go</button></form>
<script>
fetch(${JSON.stringify(S.url + '/v1/datasets')}, {method: 'POST', credentials: 'include', mode: 'no-cors',
  headers: {'content-type': 'text/plain'}, body: '{"name":"evil"}'})
  .then(() => { document.title = 'sent'; }, (e) => { document.title = 'error ' + e; });
</script></html>`);
		const statuses = [];
		page.on('response', (r) => {
			if (r.request().method() === 'POST' && r.url().startsWith(S.url)) statuses.push(r.status());
		});
		await page.goto(other);
		await H.waitFor(() => statuses.length >= 1, 'the fetch POST to reach the server', 10000);
		await page.getByRole('button', { name: 'go' }).click();
		await H.waitFor(() => statuses.length >= 2, 'the form POST to reach the server', 10000);
		assert.deepEqual(statuses, [403, 403], 'the cross-origin POSTs were not refused with 403');
		const names = (await S.api.datasets()).map((d) => d.name);
		assert.ok(!names.includes('evil') && !names.includes('evil2'), `a dataset was created: ${names}`);
		// the cookie was good: the same context still reads the app
		assert.equal((await S.context.request.get(`${S.url}/app/session`)).status(), 200);
	});

	test('the grid works from the keyboard; the sample view', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		const page = await openSignedIn(`/datasets/${ds.id}/samples`);
		const grid = page.getByRole('grid').first();
		await grid.waitFor({ timeout: 10000 });
		await H.look(page, 'samples');
		const cells = grid.getByRole('gridcell');
		await cells.first().waitFor({ timeout: 10000 });
		await tabTo(page, grid);
		// the focused cell: the focused element, or the grid's active descendant
		const at = () => page.evaluate(() => {
			const a = document.activeElement;
			return a?.getAttribute('aria-activedescendant') || a?.id || a?.outerHTML.slice(0, 200);
		});
		const a = await at();
		await page.keyboard.press('ArrowRight');
		const b = await at();
		assert.notEqual(a, b, 'ArrowRight did not move the focus in the grid');
		await page.keyboard.press('ArrowDown');
		assert.notEqual(await at(), b, 'ArrowDown did not move the focus in the grid');
		await page.keyboard.press('Enter');
		await page.waitForURL(/\/samples\/\d+$/, { timeout: 10000 });
		await H.waitFor(async () => /[0-9a-f]{64}/.test(await H.bodyText(page)), 'the sample view to show the hash', 10000);
		await H.look(page, 'sample-view');
	});

	test('a load that fails (503) is shown, and the next poll loads it', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		const { context, page } = await H.newPage(S.browser);
		await H.signInByApi(context, S.url, S.a1.token);
		let fails = 1;
		await page.route(`**/v1/datasets/${ds.id}/table`, (r) => (fails-- > 0
			? r.fulfill({ status: 503, contentType: 'application/json',
				body: '{"error":{"code":"busy","message":"server busy"}}' })
			: r.continue()));
		await page.goto(`${S.url}/datasets/${ds.id}/samples`);
		const msg = page.getByRole('alert').filter({ hasText: /could not be loaded.*server busy/ });
		await msg.first().waitFor({ timeout: 10000 });
		await H.shot(page, 'load-failed');
		await page.getByRole('grid').first().getByRole('gridcell').first().waitFor({ timeout: 10000 });
		assert.ok(fails < 0, 'the table was not asked for again');
		assert.equal(await msg.count(), 0, 'the message stays after the table loaded');
		H.assertClean(page);
		await context.close();
	});

	test('every page: axe-core finds no serious or critical violation', async () => {
		const ds = await ensureDataset('leaves');
		await ensureSamples(ds);
		const failures = [];
		for (const [name, p] of [['datasets', '/'], ['overview', `/datasets/${ds.id}`],
			['samples', `/datasets/${ds.id}/samples`], ['upload', `/datasets/${ds.id}/upload`],
			['sampling', `/datasets/${ds.id}/sampling`], ['plot', `/datasets/${ds.id}/plot`],
			['preferences', '/preferences'], ['not-found', '/nothing/here']]) {
			const page = await openSignedIn(p);
			await page.waitForLoadState('networkidle').catch(() => {});
			await page.waitForTimeout(500);
			await H.shot(page, `page-${name}`);
			try { await H.axe(page, name); } catch (e) { failures.push(e.message); }
		}
		assert.deepEqual(failures, []);
	});

	test('Preferences: a token shown once, revoked; revoking the session\'s token signs out', async () => {
		const page = await openSignedIn('/preferences');
		await page.getByRole('heading', { name: /tokens/i }).first().waitFor({ timeout: 10000 });
		await H.look(page, 'preferences');
		await page.getByRole('textbox', { name: /token name|name/i }).first().fill('laptop');
		await page.getByRole('button', { name: /create/i }).first().click();
		// the new token: in a text or in a (read-only) field
		const tok = await H.waitFor(() => page.evaluate(() => {
			const re = /svf_[0-9a-zA-Z_-]{20,}/;
			for (const i of document.querySelectorAll('input, textarea, output, code, pre'))
				if (re.test(i.value ?? i.textContent)) return re.exec(i.value ?? i.textContent)[0];
			return re.exec(document.body.innerText)?.[0] ?? null;
		}), 'the new token to be shown', 10000);
		assert.equal((await fetch(`${S.url}/v1/whoami`, { headers: { authorization: `Bearer ${tok}` } })).status, 200,
			'the token shown does not work');
		await page.getByRole('button', { name: /copy/i }).first().waitFor();
		await H.shot(page, 'preferences-token-created');
		page.allowConfirm = true;   // a confirm() before revoking is fine here
		// revoke: the row's button, then an inline confirmation if there is one
		const revoke = async (row) => {
			await row.getByRole('button', { name: /revoke/i }).first().click();
			const confirm = row.getByRole('group', { name: /confirm/i }).getByRole('button', { name: /revoke/i });
			if (await confirm.count()) await confirm.first().click();
		};
		await revoke(page.getByRole('row', { name: /laptop/ }));
		await H.waitFor(async () => (await fetch(`${S.url}/v1/whoami`, { headers: { authorization: `Bearer ${tok}` } })).status === 401,
			'the laptop token to be revoked', 10000);
		await page.getByRole('row', { name: /laptop/ }).waitFor({ state: 'detached', timeout: 10000 });
		// the session's own token
		await revoke(page.getByRole('row', { name: /this session|current/i }));
		await page.getByLabel(/token/i).first().waitFor({ timeout: 15000 });
		assert.equal((await S.context.request.get(`${S.url}/app/session`)).status(), 401, 'the session lives on');
		await H.shot(page, 'signed-out-after-revoke');
		await S.context.close();
		S.page = null;
	});
});
