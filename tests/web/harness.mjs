// harness.mjs — what the browser tests (tests/web/*.test.mjs, run by
// `node --test`) share: a real `sievefs serve` (or a mount with -o web=) on
// loopback over a temp store, tokens from `sievefs token create`, a headless
// Debian Chromium driven by playwright-core, and checks every page gets
// (axe-core, a screenshot, no dialog, no page error).
//
// Processes: every server, mount and helper server a test starts is
// registered here and stopped by its own PID (mounts: fusermount3 -u first)
// in stopAll(), which each test file calls from after(); temp dirs go too.
// Nothing here is killed by name.
//
// Needs: $SIEVEFS (default: the repository's ./sievefs), web/dist built
// (make), web/node_modules (make web-deps), /usr/bin/chromium (.ci/deps),
// /usr/bin/python3 with PIL (PNG files). A missing piece fails the test
// that needs it, with a message saying what is missing: nothing is skipped.
//
// Screenshots of every page go to $SV_SCREENSHOTS (default: a temp dir,
// printed once), named after the test and the page.
//
// SV_WEB_DEPLOY=1 (make test-deploy-web; issue 19): the same tests against a
// team deployment. startServe(STORE) then starts two `sievefs serve` on
// STORE's catalog in PostgreSQL (database sv_<md5 of STORE's path>, made on
// first use under $SV_PGBASE, a postgresql://USER@HOST:PORT base) and one
// S3 prefix of the Ceph RGW whose s3.env $SV_RGW_DIR names (its keys reach
// the servers in their environment, AWS_*, never on argv): server 1 on
// STORE, server 2 on STORE.s2 (its own owner lock, staging, caches), and
// HAProxy (the config of tests/scale/deploy.sh haproxy-cfg: round robin,
// health checks every 0.5 s) in front; it resolves to HAProxy's URL, the only one
// the browser and the API calls see. tokenCreate and tokenRevoke pass the
// same --catalog. Without SV_WEB_DEPLOY nothing here changes. A mount with
// -o web= (webmount.test.mjs) is no server: that file is not run so.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SIEVEFS = process.env.SIEVEFS || path.join(ROOT, 'sievefs');
export const WEB_DIST = process.env.SV_WEB_DIST || path.join(ROOT, 'web/dist');
export const CHROMIUM = process.env.SV_CHROMIUM || '/usr/bin/chromium';
const AXE = path.join(ROOT, 'web/node_modules/axe-core/axe.min.js');
const PW = path.join(ROOT, 'web/node_modules/playwright-core/index.mjs');

// ../shared/WEB-NOTES.md: as root Chromium needs these; without the
// background-networking ones it keeps trying to reach the network.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
	'--disable-default-apps', '--disable-extensions', '--mute-audio'];

const procs = [];   // {pid, child, kind, mnt?}
const tmpdirs = [];

export function tmpdir(tag = 'web') {
	const d = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), `sievefs-${tag}.`));
	tmpdirs.push(d);
	return d;
}

let shotDir = null;
export function screenshotDir() {
	if (shotDir) return shotDir;
	shotDir = process.env.SV_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'sievefs-shots.'));
	fs.mkdirSync(shotDir, { recursive: true });
	if (!process.env.SV_SCREENSHOTS) console.log(`# screenshots in ${shotDir}`);
	return shotDir;
}

export function need() {
	assert.ok(fs.existsSync(SIEVEFS), `no sievefs binary at ${SIEVEFS} (make)`);
	assert.ok(fs.existsSync(path.join(WEB_DIST, 'index.html')),
		`the web app is not built: no ${WEB_DIST}/index.html (make)`);
	assert.ok(fs.existsSync(CHROMIUM), `no ${CHROMIUM} (bash .ci/deps installs Debian's chromium)`);
	assert.ok(fs.existsSync(AXE), `no ${AXE} (make web-deps)`);
}

export async function playwright() {
	assert.ok(fs.existsSync(PW), `no playwright-core in web/node_modules (make web-deps)`);
	return import(PW);
}

/* ---- the server side ---- */

// a token for USER in STORE: {id, token, file} (file mode 600)
export function tokenCreate(store, user, dir) {
	fs.mkdirSync(store, { recursive: true });
	const r = spawnSync(SIEVEFS, ['token', 'create', '--store', store, user, ...deployCatalog(store)],
		{ encoding: 'utf8' });
	assert.equal(r.status, 0, `sievefs token create ${user} failed: ${r.stderr}`);
	const m = /token (\d+) for user/.exec(r.stderr);
	assert.ok(m, `token create said no id: ${r.stderr}`);
	const token = r.stdout.trim();
	const file = path.join(dir || path.dirname(store), `${user}-${m[1]}.tok`);
	fs.writeFileSync(file, token + '\n', { mode: 0o600 });
	return { id: Number(m[1]), token, file };
}

export function tokenRevoke(store, id) {
	const r = spawnSync(SIEVEFS, ['token', 'revoke', '--store', store, String(id), ...deployCatalog(store)],
		{ encoding: 'utf8' });
	assert.equal(r.status, 0, `sievefs token revoke ${id} failed: ${r.stderr}`);
}

function track(child, kind, extra = {}) {
	const p = { pid: child.pid, child, kind, out: '', ...extra };
	child.stdout?.on('data', (b) => { p.out += b; });
	child.stderr?.on('data', (b) => { p.out += b; });
	procs.push(p);
	return p;
}

async function waitFor(fn, what, ms = 10000, step = 100) {
	const end = Date.now() + ms;
	let last;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
		} catch (e) { last = e; }
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
		await new Promise((r) => setTimeout(r, step));
	}
}
export { waitFor };

// `sievefs serve STORE --listen 127.0.0.1:0 --web-root web/dist`; resolves
// to {url, pid, proc} once it printed its address and answers.
export async function startServe(store, { webRoot = WEB_DIST, args = [] } = {}) {
	if (DEPLOY) return startDeploy(store, { webRoot, args });
	fs.mkdirSync(store, { recursive: true });
	const child = spawn(SIEVEFS, ['serve', store, '--listen', '127.0.0.1:0',
		...(webRoot ? ['--web-root', webRoot] : []), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
	const p = track(child, 'serve');
	const url = await waitFor(() => {
		if (child.exitCode !== null) throw new Error(`sievefs serve exited ${child.exitCode}: ${p.out}`);
		const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out);
		return m && m[1];
	}, 'sievefs serve to print its address');
	await waitFor(async () => (await fetch(`${url}/v1/whoami`)).status === 401, 'the server to answer');
	return { url, pid: child.pid, proc: p };
}

/* ---- SV_WEB_DEPLOY=1: PostgreSQL + S3 (Ceph RGW) + two servers + HAProxy ---- */

const DEPLOY = process.env.SV_WEB_DEPLOY === '1';
const deployDbs = new Set();

function storeKey(store) {
	return createHash('md5').update(path.resolve(store) + '\n').digest('hex').slice(0, 16);
}

// ['--catalog', URI] of STORE's PostgreSQL database (made on first use), or
// [] without SV_WEB_DEPLOY
function deployCatalog(store) {
	if (!DEPLOY) return [];
	const base = process.env.SV_PGBASE;
	assert.ok(base && /^postgresql:\/\//.test(base),
		'SV_WEB_DEPLOY=1 needs SV_PGBASE=postgresql://USER@HOST:PORT (make test-deploy-web)');
	const db = `sv_${storeKey(store)}`;
	if (!deployDbs.has(db)) {
		const psql = (sql) => spawnSync('psql', ['-qtAX', '-v', 'ON_ERROR_STOP=1', '-d', `${base}/postgres`,
			'-c', sql], { encoding: 'utf8' });
		const have = () => psql(`SELECT 1 FROM pg_database WHERE datname='${db}'`).stdout.trim() === '1';
		if (!have()) {
			const r = psql(`CREATE DATABASE ${db} TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'`);
			assert.ok(r.status === 0 || have(), `cannot create database ${db} in ${base}: ${r.stderr || r.error}`);
		}
		deployDbs.add(db);
	}
	return ['--catalog', `${base}/${db}`];
}

// the RGW's s3.env (KEY=VALUE lines, a value maybe in single quotes)
function deployS3() {
	const dir = process.env.SV_RGW_DIR;
	assert.ok(dir && fs.existsSync(path.join(dir, 's3.env')),
		'SV_WEB_DEPLOY=1 needs SV_RGW_DIR, a directory with the s3.env of tests/scale/rgw.sh (make test-deploy-web)');
	const env = {};
	for (const line of fs.readFileSync(path.join(dir, 's3.env'), 'utf8').split('\n')) {
		const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
		if (m) env[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
	}
	for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'S3_ENDPOINT', 'S3_REGION', 'S3_BUCKET'])
		assert.ok(env[k], `${dir}/s3.env has no ${k}`);
	return env;
}

// one `sievefs serve` on 127.0.0.1:0 with ARGS and ENV; resolves to its URL
async function serveOne(store, args, env, what) {
	fs.mkdirSync(store, { recursive: true, mode: 0o700 });
	const child = spawn(SIEVEFS, ['serve', store, '--listen', '127.0.0.1:0', ...args],
		{ stdio: ['ignore', 'pipe', 'pipe'], env });
	const p = track(child, 'serve');
	const url = await waitFor(() => {
		if (child.exitCode !== null) throw new Error(`${what}: sievefs serve exited ${child.exitCode}: ${p.out}`);
		const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out);
		return m && m[1];
	}, `${what} (sievefs serve) to print its address`);
	await waitFor(async () => (await fetch(`${url}/v1/whoami`)).status === 401, `${what} to answer`);
	return { url, pid: child.pid, proc: p };
}

async function startDeploy(store, { webRoot, args }) {
	const s3 = deployS3();
	const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.AWS_ACCESS_KEY_ID,
		AWS_SECRET_ACCESS_KEY: s3.AWS_SECRET_ACCESS_KEY };
	const blobs = `s3://${s3.S3_BUCKET}/sv-${storeKey(store)}/?endpoint=${s3.S3_ENDPOINT}&region=${s3.S3_REGION}`;
	const common = [...deployCatalog(store), '--blobs', blobs,
		...(webRoot ? ['--web-root', webRoot] : []), ...args];
	const s1 = await serveOne(store, common, env, 'server 1');
	const s2 = await serveOne(`${store}.s2`, common, env, 'server 2');
	const port = await freePort();
	const statsPort = await freePort();
	const cfg = path.join(path.dirname(path.resolve(store)), `haproxy.${port}.cfg`);
	const [p1, p2] = [s1.url, s2.url].map((u) => new URL(u).port);
	// the config tests/scale/deploy.sh writes (one place for it)
	fs.writeFileSync(cfg, execFileSync('bash', [path.join(ROOT, 'tests/scale/deploy.sh'), 'haproxy-cfg',
		'--stats', String(statsPort), String(port), p1, p2], { encoding: 'utf8' }));
	const ha = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
	ha.on('error', () => {});   // no haproxy: the wait below says so
	const hp = track(ha, 'haproxy');
	const url = `http://127.0.0.1:${port}`;
	await waitFor(async () => {
		if (ha.exitCode !== null || ha.pid === undefined)
			throw new Error(`haproxy (.ci/deps) did not run: ${hp.out}`);
		return (await fetch(`${url}/v1/whoami`)).status === 401;
	}, `HAProxy on ${url}`);
	// a health check of each server has passed (every 0.5 s)
	await new Promise((r) => setTimeout(r, 600));
	console.log(`# SV_WEB_DEPLOY: ${url} is HAProxy in front of ${s1.url} and ${s2.url} ` +
		`(catalog in PostgreSQL, blobs in s3://${s3.S3_BUCKET}/sv-${storeKey(store)}/)`);
	const d = { url, stats: `http://127.0.0.1:${statsPort}/stats;csv` };
	d.base = await serverConns(d.stats);   // the waits' own requests
	deploys.push(d);
	return { url, pid: s1.pid, proc: s1.proc, servers: [s1, s2], haproxy: hp };
}

// HAProxy's connections so far to server 1 and 2 ({s1, s2}: stot, which
// leaves out its health checks)
async function serverConns(stats) {
	const csv = await (await fetch(stats)).text();
	const [head, ...rows] = csv.split('\n').filter(Boolean).map((l) => l.replace(/^# /, '').split(','));
	const stot = head.indexOf('stot');
	return Object.fromEntries(rows.filter((r) => r[0] === 'servers' && /^s[12]$/.test(r[1]))
		.map((r) => [r[1], Number(r[stot])]));
}

// at stopAll: each deployment's two servers both got connections from the
// test (after startServe's own), else the run did not test two servers and
// fails
const deploys = [];
async function checkDeploys() {
	const bad = [];
	for (const d of deploys.splice(0)) {
		let c;
		try { c = await serverConns(d.stats); } catch (e) { bad.push(`${d.url}: no HAProxy stats: ${e.message}`); continue; }
		const n = { s1: c.s1 - d.base.s1, s2: c.s2 - d.base.s2 };
		console.log(`# SV_WEB_DEPLOY: ${d.url}: the test made ${n.s1} connections to server 1, ${n.s2} to server 2`);
		if (!(n.s1 > 0 && n.s2 > 0)) bad.push(`${d.url}: not both servers answered the test (server 1: ${n.s1} connections, server 2: ${n.s2})`);
	}
	assert.deepEqual(bad, [], `SV_WEB_DEPLOY: ${bad.join('; ')}`);
}

export function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
	});
}

function isMounted(mnt) {
	const abs = fs.realpathSync(mnt);
	return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')
		.some((l) => l.split(' ')[1] === abs.replace(/ /g, '\\040'));
}

// a mount of STORE (a local store dir or a server URL) at MNT with `opts`
// (-o a -o b …), run with -f by PID; resolves once mounted.
export async function mount(store, mnt, opts = []) {
	fs.mkdirSync(mnt, { recursive: true });
	const child = spawn(SIEVEFS, [store, mnt, '-f', ...opts.flatMap((o) => ['-o', o])],
		{ stdio: ['ignore', 'pipe', 'pipe'] });
	const p = track(child, 'mount', { mnt });
	await waitFor(() => {
		if (child.exitCode !== null)
			throw new Error(`sievefs ${store} ${mnt} ${opts.join(' ')} exited ${child.exitCode}: ${p.out}`);
		return isMounted(mnt);
	}, `the mount at ${mnt}`);
	return { pid: child.pid, proc: p, mnt };
}

// a remote mount of the server at URL for the token in TOKFILE (meta_ttl=1,
// so a change made through the app shows within about a second)
export function remoteMount(url, tokFile, mnt) {
	return mount(url, mnt, [`token_file=${tokFile}`, `cache_dir=${mnt}.cache`, 'meta_ttl=1']);
}

export async function stopProc(p) {
	if (p.kind === 'mount' && p.mnt) {
		spawnSync('fusermount3', ['-u', p.mnt]);
	}
	if (p.child.exitCode === null && p.child.signalCode === null) {
		try { process.kill(p.pid, 'SIGTERM'); } catch { /* gone */ }
		const t = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
		await once(p.child, 'exit').catch(() => {});
		clearTimeout(t);
	}
	if (p.kind === 'mount' && p.mnt) spawnSync('fusermount3', ['-uz', p.mnt]);
	const i = procs.indexOf(p);
	if (i >= 0) procs.splice(i, 1);
}

export async function stopAll() {
	let deployErr = null;
	if (deploys.length) await checkDeploys().catch((e) => { deployErr = e; });
	for (const p of [...procs].reverse()) await stopProc(p);
	for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
	for (const d of tmpdirs.splice(0)) fs.rmSync(d, { recursive: true, force: true, maxRetries: 2 });
	if (deployErr) throw deployErr;
}

const servers = [];
// a plain http server on another port of 127.0.0.1 (another origin)
// answering every GET with HTML; resolves to its base URL
export async function otherOrigin(html) {
	const s = http.createServer((req, res) => {
		res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
		res.end(html);
	});
	await new Promise((r) => s.listen(0, '127.0.0.1', r));
	servers.push(s);
	return `http://127.0.0.1:${s.address().port}`;
}

/* ---- the API, by bearer token (what a script or curl would do) ---- */

export class Api {
	constructor(url, token) { this.url = url; this.token = token; }
	async req(method, p, body, headers = {}) {
		const h = { authorization: `Bearer ${this.token}`, ...headers };
		if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
			body = JSON.stringify(body);
			h['content-type'] = 'application/json';
		}
		return fetch(this.url + p, { method, headers: h, body });
	}
	async json(method, p, body, want) {
		const r = await this.req(method, p, body);
		const text = await r.text();
		if (want !== undefined) assert.equal(r.status, want, `${method} ${p}: ${r.status} ${text}`);
		else assert.ok(r.ok, `${method} ${p}: ${r.status} ${text}`);
		return text ? JSON.parse(text) : null;
	}
	async text(p) {
		const r = await this.req('GET', p);
		assert.ok(r.ok, `GET ${p}: ${r.status}`);
		return r.text();
	}
	dataset(name) { return this.json('GET', `/v1/datasets?name=${encodeURIComponent(name)}`); }
	async datasets() { return (await this.json('GET', '/v1/datasets')).datasets; }
	async tags(id) { return (await this.json('GET', `/v1/datasets/${id}/tags`)).tags; }
	async selection(id) { return (await this.text(`/v1/datasets/${id}/selection`)).split('\n').filter(Boolean); }
	// every file path under a folder node (a tag's root or the live root)
	async files(ino, prefix = '') {
		const out = [];
		let after = '';
		for (;;) {
			const q = `limit=10000${after ? `&after=${encodeURIComponent(after)}` : ''}`;
			const r = await this.json('GET', `/v1/nodes/${ino}/children?${q}`);
			for (const c of r.children) {
				if (c.kind === 1) out.push(...await this.files(c.ino, `${prefix}${c.name}/`));
				else out.push(prefix + c.name);
			}
			if (!r.next) break;
			after = r.next;
		}
		return out.sort();
	}
	// a sample's upload: HEAD/PUT the blob, create the node, commit it
	async put(parent, name, bytes) {
		const { createHash } = await import('node:crypto');
		const sha = createHash('sha256').update(bytes).digest('hex');
		const r = await this.req('PUT', `/v1/blobs/${sha}`, bytes, { 'content-type': 'application/octet-stream' });
		assert.ok(r.ok, `PUT blob: ${r.status} ${await r.text()}`);
		const node = await this.json('POST', `/v1/nodes/${parent}/children`, { name, kind: 2 }, 201);
		await this.json('PUT', `/v1/nodes/${node.ino}/content`, { sha256: sha, size: bytes.length }, 200);
		return node;
	}
	async mkdir(parent, name) {
		return this.json('POST', `/v1/nodes/${parent}/children`, { name, kind: 1 }, 201);
	}
	// waits for the dataset's latest sampling run to end; its status text
	async waitRun(id, ms = 120000) {
		return waitFor(async () => {
			const t = await this.text(`/v1/datasets/${id}/sample`);
			if (/status: (failed|cancelled)/.test(t)) throw new Error(`the run failed: ${t}`);
			return /status: done/.test(t) && t;
		}, 'the sampling run to finish', ms, 250);
	}
}

/* ---- test data ---- */

// PNG files made by /usr/bin/python3 PIL: `files` is [[relpath, [r,g,b]], …]
// under DIR (64x48, a flat colour with a darker square, so each differs)
export function makePngs(dir, files) {
	const script = `
import json, os, sys
from PIL import Image, ImageDraw
d = sys.argv[1]
for rel, rgb in json.load(sys.stdin):
    p = os.path.join(d, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    im = Image.new('RGB', (64, 48), tuple(rgb))
    ImageDraw.Draw(im).rectangle([8, 8, 24, 24], fill=tuple(c // 2 for c in rgb))
    im.save(p, 'PNG')
`;
	execFileSync('/usr/bin/python3', ['-c', script, dir], { input: JSON.stringify(files) });
}

// the lightly CSV of an embedding: rows [path, [v0, v1, …], label]
export function embeddingCsv(rows) {
	const d = rows[0][1].length;
	const head = ['filenames', ...Array.from({ length: d }, (_, i) => `embedding_${i}`), 'labels'].join(',');
	return [head, ...rows.map(([p, v, l]) => [p, ...v, l].join(','))].join('\n') + '\n';
}

/* ---- the browser ---- */

export async function launch() {
	need();
	const { chromium } = await playwright();
	// launch() gives every browser a fresh temporary user-data-dir
	return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

// a new context + page that fails the test on any dialog (alert, confirm…)
// or uncaught page error; `problems` lists them (checked by assertClean)
export async function newPage(browser, opts = {}) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
	context.setDefaultTimeout(10000);   // a missing control fails in 10 s, not 30
	const page = await context.newPage();
	page.problems = [];
	// any dialog is a problem (an alert is what injected markup would fire),
	// except a confirm() where the test set page.allowConfirm
	page.on('dialog', async (d) => {
		if (d.type() === 'confirm' && page.allowConfirm) return d.accept().catch(() => {});
		page.problems.push(`a ${d.type()} dialog fired: ${JSON.stringify(d.message())}`);
		await d.dismiss().catch(() => {});
	});
	page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text()))
			page.problems.push(`console: ${m.text()}`);
	});
	return { context, page };
}

export function assertClean(page) {
	assert.deepEqual(page.problems, [], `the page had problems:\n${page.problems.join('\n')}`);
}

// sign in through the API of the page's context (the cookie lands in the
// context) — for tests whose subject is not the sign-in form
export async function signInByApi(context, url, token) {
	const r = await context.request.post(`${url}/app/session`, { data: { token } });
	assert.equal(r.status(), 201, `POST /app/session: ${r.status()} ${await r.text()}`);
}

let shotN = 0;
const shotPrefix = path.basename(process.argv[1] || 'web', '.test.mjs');
export async function shot(page, name) {
	const file = path.join(screenshotDir(),
		`${shotPrefix}-${String(++shotN).padStart(2, '0')}-${name.replace(/[^\w.-]+/g, '_')}.png`);
	// from the top: a full-page shot of a scrolled page draws a sticky
	// header in the middle
	await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
	await page.screenshot({ path: file, fullPage: true });
	return file;
}

// axe-core on the page as it is: no serious or critical violation. The
// app's CSP (script-src 'self') refuses page.addScriptTag's inline script,
// so axe's source is evaluated through the DevTools protocol, which the CSP
// does not govern (bypassCSP would also hide the app's own CSP breaches).
let axeSource = null;
export async function axe(page, name) {
	axeSource ??= fs.readFileSync(AXE, 'utf8');
	if (!await page.evaluate(() => typeof window.axe === 'object'))
		await page.evaluate(`${axeSource}\n;void 0`);
	const res = await page.evaluate(async () => {
		// eslint-disable-next-line no-undef
		const r = await axe.run(document, { resultTypes: ['violations'] });
		return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
	});
	const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
	assert.deepEqual(bad, [], `axe on ${name}: ${bad.length} serious/critical violation(s):\n` +
		bad.map((v) => `  ${v.impact} ${v.id}: ${v.help} at ${v.nodes.join(', ')}`).join('\n'));
	return res;
}

// every check a page gets once it is shown: a screenshot, axe, no dialog
export async function look(page, name) {
	await page.waitForLoadState('networkidle').catch(() => {});
	await shot(page, name);
	await axe(page, name);
	assertClean(page);
}

export async function bodyText(page) {
	return page.locator('body').innerText();
}
