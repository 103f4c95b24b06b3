// webmount.test.mjs — the web app served by the mount daemon itself
// (`sievefs STORE MNT -o web=127.0.0.1:0`, one process owns the store), in
// headless Chromium.
//
// Proves: the mount comes up with -o web= and prints its address (a binary
// without the option fails this test, never skips it); the app signs in
// with a token of `sievefs token create --store STORE`; a dataset made with
// mkdir in the mount is in the app's list (on a reload, and by the list's
// own 5-s poll); one made in the app is a folder in the mount; files copied
// into the mount while the dataset's page is open show in its active bar's
// total without a reload (the 2 s state poll). Each page: a screenshot,
// axe-core, no dialog.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './harness.mjs';

const S = {};
const bar = (page) => page.getByTestId('active-bar');

describe('the web app from a mount with -o web=', { concurrency: false }, () => {
	before(async () => {
		H.need();
		S.dir = H.tmpdir('webmount');
		S.store = path.join(S.dir, 'store');
		S.tok = H.tokenCreate(S.store, 'alice', S.dir);
		S.mnt = path.join(S.dir, 'mnt');
		const m = await H.mount(S.store, S.mnt, ['web=127.0.0.1:0', `web_root=${H.WEB_DIST}`]);
		S.url = await H.waitFor(() => (/listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(m.proc.out) || [])[1],
			'the mount to print its web address', 10000);
		S.browser = await H.launch();
	});
	after(async () => {
		await S.browser?.close().catch(() => {});
		await H.stopAll();
	});

	test('sign in, see a mkdir of the mount, make a dataset seen by the mount', async () => {
		const { page } = await H.newPage(S.browser);
		await page.goto(S.url + '/');
		await H.look(page, 'webmount-sign-in');
		await page.getByLabel(/token/i).first().fill(S.tok.token);
		await page.getByRole('button', { name: /sign in/i }).click();
		await page.getByRole('heading', { name: /datasets/i }).first().waitFor({ timeout: 10000 });
		// door 1 → door 2: a mkdir in the mount is a dataset in the list,
		// after a reload, and without one (the list's 5-s poll)
		fs.mkdirSync(path.join(S.mnt, 'fromfs'));
		await page.reload();
		await page.getByRole('link', { name: /^\s*fromfs\b/ }).first().waitFor({ timeout: 10000 });
		fs.mkdirSync(path.join(S.mnt, 'fromfs2'));
		await page.getByRole('link', { name: /^\s*fromfs2\b/ }).first().waitFor({ timeout: 15000 });
		// door 2 → door 1: a dataset made in the app is a folder of the mount
		await page.getByRole('textbox', { name: /new dataset|dataset name|name/i }).first().fill('fromweb');
		await page.getByRole('button', { name: /create/i }).first().click();
		await page.getByRole('link', { name: /^\s*fromweb\b/ }).first().waitFor({ timeout: 10000 });
		await H.waitFor(() => fs.existsSync(path.join(S.mnt, 'fromweb')), 'fromweb in the mount', 10000);
		await H.look(page, 'webmount-datasets');
		// files copied in through the mount while the overview is open show
		// on its next poll (GET /v1/datasets/ID/state every 2 s), no reload
		await page.getByRole('link', { name: /^\s*fromweb\b/ }).first().click();
		await page.waitForURL(/\/datasets\/\d+$/, { timeout: 10000 });
		await bar(page).waitFor({ timeout: 10000 });
		const photos = path.join(S.dir, 'photos');
		H.makePngs(photos, [['a/1.png', [200, 0, 0]], ['a/2.png', [0, 200, 0]], ['b/3.png', [0, 0, 200]]]);
		const live = path.join(S.mnt, 'fromweb', 'initial-tag');
		fs.cpSync(photos, live, { recursive: true });
		await H.waitFor(async () => Number(await bar(page).getAttribute('aria-valuemax')) === 3,
			'the overview to count 3 samples without a reload', 15000);
		await H.look(page, 'webmount-overview');
		assert.deepEqual(fs.readdirSync(path.join(live, 'a')).sort(), ['1.png', '2.png']);
	});
});
