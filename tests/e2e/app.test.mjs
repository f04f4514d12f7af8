// End-to-end tests of the built page (dist/) in headless Debian Chromium, driven by
// playwright-core. They act as a person would, through the contract's data-testid hooks.
// Run by ./scripts/test after `trunk build --release`. Screenshots: target/e2e/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve-dist.mjs';
import { CotlabelPage, freshPage, npy, readNpy } from './page.mjs';

const OUT = 'target/e2e';
/** The native CLI, built by `cargo test` (scripts/test runs it before these tests). */
const CLI = process.env.COTLABEL_CLI ?? 'target/debug/cotlabel';

/** `cotlabel label FILES --labels LABELS --name NAME -o OUT`: the label file it writes. */
function cliLabel(files, labels, name, out) {
  execFileSync(CLI, ['label', ...files, '--labels', labels, '--name', name, '-o', out, '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

/** A label file without the times in it (when it was written, when each label was set). */
function untimed(file) {
  const f = structuredClone(file);
  delete f.exported_at;
  for (const l of f.labels ?? []) delete l.updated_at;
  for (const p of f.pairs ?? []) delete p.updated_at;
  return f;
}
mkdirSync(OUT, { recursive: true });
if (!existsSync('dist/index.html')) throw new Error('dist/ is missing: run `trunk build --release` first');

let server, browser, context, app;
const consoleErrors = [];
const metrics = {};

/** A name the page takes for another machine; Chromium resolves it to 127.0.0.1 (LAUNCH). */
const REMOTE_HOST = 'cotlabel-remote.test';

const LAUNCH = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu',
         // a host that is not loopback to the page but reaches this machine's loopback only:
         // the "off this machine" case of generation without any traffic leaving 127.0.0.1
         `--host-resolver-rules=MAP ${REMOTE_HOST} 127.0.0.1`],
};

before(async () => {
  server = await startServer('dist', 0);
  browser = await chromium.launch(LAUNCH);
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  app = new CotlabelPage(page, `http://127.0.0.1:${server.address().port}/`, OUT);
});

after(async () => {
  writeFileSync(`${OUT}/metrics.json`, JSON.stringify(metrics, null, 2));
  console.log('metrics:', JSON.stringify(metrics));
  await browser?.close();
  server?.close();
});

test('first open shows the 300-record demo with no console error', async () => {
  const t0 = Date.now();
  await app.open();
  await app.waitForCount(300);
  metrics.first_open_wall_ms = Date.now() - t0;
  metrics.first_render_ms = await app.page.evaluate(
    () => performance.getEntriesByName('cotlabel-first-render')[0]?.startTime ?? null);
  console.log(`time to first render of the demo: ${metrics.first_render_ms?.toFixed(0)} ms`);
  assert.ok(metrics.first_render_ms != null, 'the page marks its first render');
  assert.match(await app.text('dataset-name'), /GSM8K demo/);
  assert.match(await app.text('record-count'), /384-d embeddings/);
  const first = app.row(0);
  assert.equal(await first.getAttribute('aria-selected'), 'true');
  assert.equal(await first.getAttribute('data-label'), 'none');
  assert.equal(await first.getAttribute('data-provenance'), 'none');
  const rendered = await app.page.getByTestId('record').count();
  assert.ok(rendered > 5 && rendered < 60, `only the rows in view are rendered (${rendered})`);
  assert.equal(await app.text('count-unlabelled'), '300 unlabelled');
  // The reasoning signature of the selected CoT: its answer, agreement with its 3 siblings, prior.
  assert.equal(await app.text('extracted-answer'), '610');
  assert.match(await app.text('agreement'), /^\d of 3 other CoTs agree/);
  assert.match(await app.text('prior'), /^\d+%$/);
  assert.match(await first.textContent(), /prior \d+% · \d\/3 agree/);
  await app.shot('01-first-open');
  assert.deepEqual(consoleErrors, []);
});

test('the reasoning map renders, summarises clusters and selects a clicked point', async () => {
  const page = app.page;
  await page.getByTestId('cluster-summary').first().waitFor({ timeout: 30000 });
  assert.equal(await page.getByTestId('cluster-summary').count(), 8);
  assert.match(await page.getByTestId('cluster-summary').first().textContent(), /^1 · \d+ CoTs · 0 labelled/);
  // Find a drawn point from the canvas pixels, hover it, click it.
  const canvas = page.getByTestId('cluster-map');
  const spot = await canvas.evaluate((c) => {
    const ctx = c.getContext('2d');
    const { data, width, height } = ctx.getImageData(0, 0, c.width, c.height);
    const ratio = c.width / c.getBoundingClientRect().width;
    for (let y = 0; y < height; y += 2) for (let x = 0; x < width; x += 2) {
      const k = (y * width + x) * 4;
      if (data[k + 3] > 150 && !(data[k] < 40 && data[k + 1] < 40 && data[k + 2] < 40)) return { x: x / ratio, y: y / ratio };
    }
    return null;
  });
  assert.ok(spot, 'the map has drawn points');
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + spot.x, box.y + spot.y);
  const tip = page.getByTestId('map-tooltip');
  await tip.waitFor();
  const id = (await tip.locator('.tip-id').textContent()).split(' ')[0];
  await page.mouse.down();
  await page.mouse.up();
  await page.waitForFunction((id) => document.querySelector('[data-testid=record-detail]')?.dataset.id === id, id);
  await app.shot('01b-map-click');
  // A cluster summary filters the list to that cluster, a second click shows all again.
  const first = page.getByTestId('cluster-summary').first();
  const size = Number((await first.textContent()).match(/· (\d+) CoTs/)[1]);
  await first.click();
  await page.waitForFunction((n) => {
    const h = parseFloat(document.querySelector('.spacer')?.style.height ?? '0');
    return Math.round(h / 76) === n;
  }, size);
  await first.click();
  await page.waitForFunction(() => Math.round(parseFloat(document.querySelector('.spacer').style.height) / 76) === 300);
  // HDBSCAN on the embeddings in the browser: the 8 clusters scikit-learn finds, and noise.
  await page.getByTestId('map-space').selectOption('embedding');
  await page.getByTestId('map-method').selectOption('hdbscan');
  await page.getByTestId('cluster-noise').waitFor({ timeout: 30000 });
  assert.equal(await page.getByTestId('cluster-summary').count(), 8);
  const noise = Number((await page.getByTestId('cluster-noise').textContent()).match(/noise · (\d+) CoTs/)[1]);
  assert.ok(noise >= 150 && noise <= 170, `noise ${noise} (scikit-learn: 161 of 300)`);
  assert.match(await page.getByTestId('cluster-summary').first().textContent(), /persistence \d/);
  await app.shot('01c-hdbscan-embeddings');
  await page.getByTestId('map-method').selectOption('kmeans');
  await page.getByTestId('map-space').selectOption('signature');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=cluster-summary]').length === 8
    && !document.querySelector('[data-testid=cluster-noise]'));
  // Back to the top of the list and its first record for the keyboard test.
  await page.evaluate(() => { document.querySelector('.list').scrollTop = 0; });
  await page.waitForFunction(() => document.querySelector('[data-testid=record]')?.dataset.id === 'gsm8k-0017-6b_finetuning');
  await page.getByTestId('record').first().click();
  assert.deepEqual(consoleErrors, []);
});

test('label three records with the keyboard', async () => {
  await app.page.keyboard.press('1');
  await app.page.keyboard.press('j');
  await app.page.keyboard.press('2');
  await app.page.keyboard.press('j');
  await app.page.keyboard.press('1');
  await app.expectLabels([['good', 'human'], ['bad', 'human'], ['good', 'human']]);
  assert.equal(await app.row(2).getAttribute('aria-selected'), 'true');
  assert.equal(await app.text('count-good'), '2 good');
  assert.equal(await app.text('count-bad'), '1 bad');
  assert.equal(await app.text('count-unlabelled'), '297 unlabelled');
  // k goes back, 0 clears, u undoes the clear
  await app.page.keyboard.press('k');
  await app.page.keyboard.press('0');
  await app.expectLabels([['good', 'human'], ['none', 'none'], ['good', 'human']]);
  await app.page.keyboard.press('u');
  await app.expectLabels([['good', 'human'], ['bad', 'human'], ['good', 'human']]);
  await app.waitSaved();
  await app.shot('02-three-labels');
});

test('overlays: one at a time, Esc closes them, the focus stays inside, the labelling keys do nothing under them', async () => {
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  await p.waitForCount(300);
  await p.row(0).click();
  const before = await p.row(0).getAttribute('data-label');
  const inside = (name) => page.evaluate((n) => document.querySelector(`[data-overlay=${n}]`)?.contains(document.activeElement) ?? false, name);
  await page.getByTestId('training-export-button').click();
  await page.getByTestId('training-export').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-overlay=training-export]')?.contains(document.activeElement));
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press(i % 5 === 4 ? 'Shift+Tab' : 'Tab');
    assert.ok(await inside('training-export'), `the focus stays in the dialog (key ${i + 1})`);
  }
  // from the page's body too: Tab comes back in, and the labelling keys do nothing
  await page.evaluate(() => document.activeElement?.blur());
  for (const key of ['1', 'j', '2', 'u']) await page.keyboard.press(key);
  await page.waitForTimeout(200);
  assert.equal(await p.row(0).getAttribute('data-label'), before, 'no label under an overlay');
  assert.equal(await p.row(0).getAttribute('aria-selected'), 'true', 'no move under an overlay');
  await page.keyboard.press('Tab');
  assert.ok(await inside('training-export'), 'Tab from outside brings the focus in');
  await p.shot('overlay-training-export');
  // opening another closes the first
  await page.getByTestId('generate-open').click();
  await page.getByTestId('generate').waitFor();
  assert.equal(await page.getByTestId('training-export').count(), 0, 'one overlay at a time');
  await page.waitForFunction(() => document.querySelector('[data-overlay=generate]')?.contains(document.activeElement));
  // Esc closes it, and the keys label again
  await page.keyboard.press('Escape');
  await page.getByTestId('generate').waitFor({ state: 'detached' });
  await page.keyboard.press('1');
  await p.expectLabels([['good', 'human']]);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('accessibility (axe-core): no serious or critical violation on the main views', async () => {
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  await p.row(0).click();
  const audit = async (view) => {
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
      await page.addScriptTag({ path: 'node_modules/axe-core/axe.min.js' });
    }
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    report[view] = r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help,
                                             targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
    return bad.map((v) => `${view}: ${v.id} (${v.impact}, ${v.nodes.length}×: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}) — ${v.help}`);
  };
  const report = {};
  const found = [];
  found.push(...await audit('list and detail'));
  await page.getByTestId('training-export-button').click();
  await page.getByTestId('training-export').waitFor();
  found.push(...await audit('training export'));
  await page.getByTestId('generate-open').click();
  await page.getByTestId('generate').waitFor();
  found.push(...await audit('generate'));
  await page.keyboard.press('Escape');
  await page.getByTestId('demo-choice').selectOption('mmlu-pro');
  await p.waitForCount(314, 60000);
  await p.row(0).click();
  found.push(...await audit('MMLU-Pro demo'));
  writeFileSync(`${OUT}/axe.json`, JSON.stringify(report, null, 2));
  metrics.axe_violations = Object.fromEntries(Object.entries(report).map(([k, v]) => [k, v.map((x) => `${x.id}:${x.impact}`)]));
  assert.deepEqual(found, [], found.join('\n'));
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('a reload loses nothing and says it restored the session', async () => {
  await app.page.reload();
  await app.waitForCount(300);
  await app.expectLabels([['good', 'human'], ['bad', 'human'], ['good', 'human']]);
  assert.match(await app.text('restored'), /Restored your session .*3 labels \(3 by you\)/);
  await app.shot('03-after-reload');
});

let exported;
test('export downloads the label file of the contract', async () => {
  const [download] = await Promise.all([
    app.page.waitForEvent('download'),
    app.page.getByTestId('export-button').click(),
  ]);
  assert.match(download.suggestedFilename(), /^cotlabel-GSM8K-demo-300-CoTs-\d{4}-\d\d-\d\d\.json$/);
  const path = `${OUT}/${download.suggestedFilename()}`;
  await download.saveAs(path);
  exported = readFileSync(path, 'utf8');
  const file = JSON.parse(exported);
  assert.equal(file.format, 'cotlabel.labels');
  assert.equal(file.version, 1);
  assert.match(file.exported_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(file.dataset.records, 300);
  assert.match(file.dataset.fingerprint, /^[0-9a-f]{32}$/);
  const ids = await Promise.all([0, 1, 2].map((i) => app.row(i).getAttribute('data-id')));
  assert.deepEqual(file.labels.map((l) => l.id), ids);
  assert.deepEqual(file.labels.map((l) => l.label), ['good', 'bad', 'good']);
  for (const l of file.labels) {
    assert.equal(l.provenance, 'human');
    assert.equal(l.confidence, 1);
    assert.match(l.updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }
  assert.deepEqual(file.pairs, []);
});

test('a JSONL with a broken line 3 is refused whole, naming the file and line', async () => {
  const lines = [
    '{"id": "a", "question": "q", "cot": "c"}',
    '{"id": "b", "question": "q", "cot": "c"}',
    '{"id": "c", "question": "q", "cot": ',
    '{"id": "d", "question": "q", "cot": "c"}',
  ];
  await app.importFiles([{ name: 'broken.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(lines.join('\n')) }]);
  const err = await app.firstError();
  assert.match(err, /broken\.jsonl line 3/);
  assert.match(await app.text('record-count'), /^300 records/);
  await app.expectLabels([['good', 'human'], ['bad', 'human'], ['good', 'human']]);
  await app.shot('04-broken-line-3');
});

test('records with a .npy of the wrong row count give a clear error', async () => {
  const recs = ['x1', 'x2', 'x3'].map((id) => JSON.stringify({ id, question: 'q', cot: `cot ${id}` })).join('\n');
  await app.importFiles([
    { name: 'three.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(recs) },
    { name: 'two_rows.npy', mimeType: 'application/octet-stream', buffer: npy([[1, 0], [0, 1]]) },
  ]);
  const err = await app.firstError();
  assert.match(err, /two_rows\.npy: 2 embedding rows but 3 records in three\.jsonl/);
  assert.match(await app.text('record-count'), /^300 records/);
  await app.shot('05-wrong-row-count');
});

test('importing the exported file resumes the labels (and u undoes the import)', async () => {
  // After the reload the restored labels are not undoable: clear the three by hand.
  for (const key of ['0', 'j', '0', 'j', '0']) await app.page.keyboard.press(key);
  await app.expectLabels([['none', 'none'], ['none', 'none'], ['none', 'none']]);
  await app.importFiles([{ name: 'labels.json', mimeType: 'application/json', buffer: Buffer.from(exported) }]);
  await app.page.getByTestId('notice').filter({ hasText: 'labels.json: 3 labels applied' }).waitFor();
  await app.expectLabels([['good', 'human'], ['bad', 'human'], ['good', 'human']]);
  assert.equal(await app.page.getByTestId('error').count(), 0, 'a good import clears the errors');
  await app.page.keyboard.press('u');
  await app.expectLabels([['none', 'none'], ['none', 'none'], ['none', 'none']]);
  await app.importFiles([{ name: 'labels.json', mimeType: 'application/json', buffer: Buffer.from(exported) }]);
  await app.expectLabels([['good', 'human'], ['bad', 'human'], ['good', 'human']]);
  // The same file again changes nothing and says so.
  await app.importFiles([{ name: 'labels.json', mimeType: 'application/json', buffer: Buffer.from(exported) }]);
  await app.page.getByTestId('notice').filter({ hasText: '0 labels applied; 3 already present' }).waitFor();
  await app.waitSaved();
});

test('own records and embeddings load, keep their labels over a reload, and start over returns the demo', async () => {
  const recs = ['x1', 'x2', 'x3'].map((id) => JSON.stringify({ id, question: `How much is 7 times 8?`, cot: `First 7 * 8 = 54.\nThen 54 + 2 = 56.`, answer: '56' })).join('\n');
  await app.importFiles([
    { name: 'mine.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(recs) },
    { name: 'mine.npy', mimeType: 'application/octet-stream', buffer: npy([[1, 0], [0, 1], [0.6, 0.8]]) },
  ]);
  await app.waitForCount(3);
  assert.match(await app.text('record-count'), /3 records · 2-d embeddings/);
  // The notice comes once the files are also kept in this browser.
  await app.page.getByTestId('notice').filter({ hasText: 'Loaded 3 records from mine.jsonl' }).waitFor();
  assert.match(await app.text('notice'), /Loaded 3 records from mine\.jsonl.*Your labels on GSM8K demo.* stay saved/);
  // The wrong step is marked in the CoT, with the right value.
  const wrong = app.page.getByTestId('wrong-step');
  assert.equal((await wrong.textContent()).trim(), '7 * 8 = 54');
  assert.match(await wrong.getAttribute('title'), /left side is 56, not 54/);
  assert.match(await app.text('agreement'), /^2 of 2 other CoTs agree; most common answer 56 \(3 of 3\)/);
  await app.shot('06a-wrong-arithmetic');
  await app.page.keyboard.press('2');
  await app.expectLabels([['bad', 'human']]);
  await app.waitSaved();
  await app.page.reload();
  await app.waitForCount(3);
  await app.expectLabels([['bad', 'human'], ['none', 'none']]);
  await app.shot('06-own-data-after-reload');
  // Start over asks for a second click, then deletes this data set's labels and opens the demo.
  await app.page.getByTestId('start-over').click();
  assert.match(await app.text('start-over'), /Click again/);
  await app.page.getByTestId('start-over').click();
  await app.waitForCount(300);
  assert.equal(await app.text('count-unlabelled'), '300 unlabelled');
  await app.page.reload();
  await app.waitForCount(300);
  assert.equal(await app.text('count-unlabelled'), '300 unlabelled');
  assert.deepEqual(consoleErrors, [], 'no console error (a Rust panic logs one) in the whole run');
});

/** The label (`good`/`bad`/`none`) and provenance of the rendered row with this id. */
async function rowLabel(page, id) {
  const row = page.locator(`[data-testid=record][data-id="${id}"]`);
  return [await row.getAttribute('data-label'), await row.getAttribute('data-provenance')];
}

test('two tabs on one data set: 24 interleaved labels from both are seen by the other tab within a second, survive a reload, and the newer wins on a shared record', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  const open = async () => {
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    const p = new CotlabelPage(page, app.url, OUT);
    await p.open();
    await p.waitForCount(300);
    return p;
  };
  const a = await open();
  const b = await open();
  const ids = await a.page.$$eval('[data-testid=record]', (r) => r.slice(0, 18).map((x) => x.dataset.id));
  assert.equal(ids.length, 18);
  // A labels records 0…11 good, B labels 17…6 bad, turn about: 6…11 are labelled by both,
  // and the later label wins (B on 6–8, A on 9–11).
  const expected = {};
  const seen = [];
  for (let k = 0; k < 24; k++) {
    const [p, other, id, key, verdict] = k % 2 === 0
      ? [a, b, ids[k / 2], '1', 'good']
      : [b, a, ids[17 - (k - 1) / 2], '2', 'bad'];
    // select the record by clicking it (once the virtual list has settled after scrolling)
    const row = p.page.locator(`[data-testid=record][data-id="${id}"]`);
    for (let tries = 0; ; tries++) {
      await row.scrollIntoViewIfNeeded();
      await p.page.waitForTimeout(100);
      await row.click();
      if (await row.getAttribute('aria-selected') === 'true') break;
      assert.ok(tries < 5, `could not select ${id}`);
    }
    await p.page.keyboard.press(key);
    expected[id] = verdict;
    const good = Object.values(expected).filter((v) => v === 'good').length;
    const counts = [`${good} good`, `${Object.keys(expected).length - good} bad`];
    const t = Date.now();
    // the other tab's counts change (its list may be scrolled away from the record);
    // polling on a timer: a page in the background gets no animation frames
    await other.page.waitForFunction(([g, b]) =>
      document.querySelector('[data-testid=count-good]')?.textContent === g
      && document.querySelector('[data-testid=count-bad]')?.textContent === b, counts, { timeout: 1000, polling: 20 })
      .catch((e) => { throw new Error(`label ${k + 1} (${id} ${verdict}) not seen by the other tab within 1 s: ${e.message}`); });
    seen.push(Date.now() - t);
  }
  metrics.tabs_label_seen_by_other_ms_max = Math.max(...seen);
  const want = ids.map((id, i) => [id, i < 6 || (i >= 9 && i < 12) ? 'good' : 'bad']);
  assert.deepEqual(Object.entries(expected).sort(), want.slice().sort());
  const check = async (p, when) => {
    await p.page.evaluate(() => { document.querySelector('.list').scrollTop = 0; });
    await p.page.waitForFunction((id) => document.querySelector(`[data-testid=record][data-id="${id}"]`), ids[0], { polling: 20 });
    for (const [id, v] of want) assert.deepEqual(await rowLabel(p.page, id), [v, 'human'], `${when}: ${id}`);
    assert.equal(await p.text('count-good'), '9 good', when);
    assert.equal(await p.text('count-bad'), '9 bad', when);
  };
  await check(a, 'tab A');
  await check(b, 'tab B');
  await a.waitSaved();
  await b.waitSaved();
  await a.shot('16-two-tabs');
  await a.page.reload();
  await a.waitForCount(300);
  await check(a, 'tab A after a reload');
  await b.page.reload();
  await b.waitForCount(300);
  await check(b, 'tab B after a reload');
  // …and once the journal has been folded into the stored label file (4 s after the last change)
  await a.page.waitForTimeout(5000);
  await a.page.reload();
  await a.waitForCount(300);
  await check(a, 'tab A after compaction and a reload');
  console.log(`two tabs: 24 labels, each seen by the other tab within ${metrics.tabs_label_seen_by_other_ms_max} ms; all kept`);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('a burst of five labels and the browser closed at once: 5 of 5 kept when it reopens, 5 runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cotlabel-profile-'));
  const want = { good: 0, bad: 0 };
  const kept = [];
  try {
    for (let run = 0; run <= 5; run++) {
      const ctx = await chromium.launchPersistentContext(dir, { ...LAUNCH, viewport: { width: 1400, height: 900 } });
      const page = ctx.pages()[0] ?? await ctx.newPage();
      const p = new CotlabelPage(page, app.url, OUT);
      await p.open();
      await p.waitForCount(300);
      if (run > 0) {
        // the five labels of the run before, and all before them (no propagation runs in
        // this profile: every label is a human one)
        const good = parseInt(await p.text('count-good'), 10);
        const bad = parseInt(await p.text('count-bad'), 10);
        const before = 5 * (run - 1);
        kept.push(good + bad - before);
        assert.deepEqual({ good, bad }, want, `run ${run}: labels after reopening`);
      }
      if (run === 5) { await ctx.close(); break; }
      // records 5·run … 5·run + 4, reached with the keyboard from the first
      await p.row(0).click();
      for (let i = 0; i < 5 * run; i++) await page.keyboard.press('j');
      for (let i = 0; i < 5; i++) {
        const good = (run + i) % 2 === 0;
        await page.keyboard.press(good ? '1' : '2');
        want[good ? 'good' : 'bad'] += 1;
        if (i < 4) await page.keyboard.press('j');
      }
      await ctx.close(); // at once: no wait for "Saved"
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  metrics.burst_then_close_kept = kept;
  console.log(`burst of 5 labels, browser closed at once: kept ${kept.join(', ')} (of 5 each run)`);
});

test('a failed write (quota) is shown at once; the labels stay in the tab and are stored once writing works again', async () => {
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  // Storage refuses every write, as a full disk or an exhausted quota would.
  await page.evaluate(() => {
    const put = IDBObjectStore.prototype.put;
    window.__failWrites = true;
    IDBObjectStore.prototype.put = function (...args) {
      if (window.__failWrites) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return put.apply(this, args);
    };
  });
  await p.row(0).click();
  await page.keyboard.press('1');
  await page.keyboard.press('j');
  await page.keyboard.press('2');
  await page.waitForFunction(() => /^Not saved: QuotaExceededError/.test(document.querySelector('[data-testid=save-status]')?.textContent ?? ''), null, { timeout: 2000 });
  await page.waitForFunction(() => /2 label changes are kept in this tab; retrying/.test(document.querySelector('[data-testid=save-status]')?.textContent ?? ''), null, { timeout: 2000 });
  await p.expectLabels([['good', 'human'], ['bad', 'human']]);
  await p.shot('17-quota-failure');
  // Storage works again: the retry stores both.
  await page.evaluate(() => { window.__failWrites = false; });
  await p.waitSaved();
  await page.reload();
  await p.waitForCount(300);
  await p.expectLabels([['good', 'human'], ['bad', 'human']]);
  assert.deepEqual(errors, []);
  await ctx.close();
});

/** Labels `n` records picked by "label next" with their truth (`truth`: id → is_correct);
 *  returns their ids. The queue never offers one twice. */
async function labelNext(page, truth, n) {
  const labelled = [];
  for (let k = 0; k < n; k++) {
    const before = await page.getByTestId('record-detail').getAttribute('data-id');
    await page.getByTestId('next-button').click();
    // "label next" selects an unlabelled record the queue ranks first
    await page.waitForFunction((before) => {
      const d = document.querySelector('[data-testid=record-detail]');
      return d && d.dataset.id !== before && !/your label/.test(document.querySelector('[data-testid=label-state]')?.textContent ?? '');
    }, before, { timeout: 20000 });
    const id = await page.getByTestId('record-detail').getAttribute('data-id');
    assert.ok(!labelled.includes(id), `the queue offered ${id} twice`);
    labelled.push(id);
    await page.keyboard.press(truth[id] ? '1' : '2');
    await page.waitForFunction(() => /your label/.test(document.querySelector('[data-testid=label-state]')?.textContent ?? ''));
  }
  return labelled;
}

test('label next and propagate: five human labels spread to the rest with confidence, sources and a live evaluation', async () => {
  const truth = Object.fromEntries(JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8')).map((r) => [r.id, r.is_correct]));
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  const labelled = await labelNext(page, truth, 5);
  await page.getByTestId('propagate-button').click();
  await page.waitForFunction(() => /^Propagated from 5 human labels in \d+ ms/.test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? ''), null, { timeout: 20000 });
  const status = await p.text('propagation-status');
  metrics.propagate_demo_ms = Number(status.match(/in (\d+) ms/)[1]);
  // rows carry the propagated labels with a confidence
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=record][data-provenance=propagated]').length > 3);
  const badge = await page.locator('[data-testid=record][data-provenance=propagated] .badge').first().textContent();
  assert.match(badge, /^(good|bad) \d+%$/);
  // the live evaluation against is_correct
  const evaluation = await p.text('evaluation-text');
  const acc = Number(evaluation.match(/accuracy ([\d.]+)%/)[1]);
  metrics.propagate_demo_accuracy_5_labels = acc;
  assert.ok(acc >= 75, evaluation);
  assert.equal(await page.getByTestId('accuracy-plot').count(), 1);
  // the selected propagated record names the human labels it came from
  await page.locator('[data-testid=record][data-provenance=propagated]').first().click();
  assert.match(await p.text('label-state'), /propagated label, confidence \d+%/);
  // …and its sources open the human-labelled records
  const source = page.getByTestId('label-source').first();
  if (await source.count()) {
    const sid = (await source.textContent()).trim();
    await source.click();
    await page.waitForFunction((sid) => document.querySelector('[data-testid=record-detail]')?.dataset.id === sid, sid);
    assert.match(await p.text('label-state'), /your label/);
  }
  // export: humans, then propagated labels with confidence ≥ the 60 % threshold and `from`
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-button').click()]);
  const file = JSON.parse(readFileSync(await download.path(), 'utf8'));
  const humans = file.labels.filter((l) => l.provenance === 'human');
  const spread = file.labels.filter((l) => l.provenance === 'propagated');
  assert.deepEqual(humans.map((l) => l.id).sort(), [...labelled].sort());
  assert.ok(spread.length > 150, `${spread.length} propagated labels`);
  for (const l of spread) {
    assert.ok(l.confidence >= 0.6 && l.confidence <= 1, JSON.stringify(l));
    for (const f of l.from ?? []) assert.ok(labelled.includes(f), JSON.stringify(l));
  }
  assert.ok(spread.some((l) => (l.from ?? []).length > 0), 'some labels name their sources');
  console.log(`demo: 5 labels picked by "label next" → ${spread.length} propagated, accuracy ${acc}% (${evaluation}); ${metrics.propagate_demo_ms} ms`);
  // the CLI, given the same records and the page's file, writes the same label file
  const pageFile = `${OUT}/page-demo-labels.json`;
  writeFileSync(pageFile, JSON.stringify(file));
  const cli = cliLabel(['static/demo/demo_cots.json', 'static/demo/demo_emb.npy'], pageFile, file.dataset.name, `${OUT}/cli-demo-labels.json`);
  assert.deepEqual(untimed(cli), untimed(file));
  await p.shot('07b-propagated');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the CLI labels the GSM8K test split as the page does: the same label file, times apart', async (t) => {
  const dir = '../shared/data';
  if (!existsSync(`${dir}/gsm8k_cots.jsonl`)) {
    if (process.env.CI === 'true') throw new Error(`${dir}/gsm8k_cots.jsonl is missing under CI=true`);
    t.skip(`${dir} is absent`);
    return;
  }
  const all = readFileSync(`${dir}/gsm8k_cots.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const vectors = readNpy(readFileSync(`${dir}/gsm8k_cot_emb.npy`));
  const rows = all.map((r, i) => [r, i]).filter(([r]) => r.split === 'test');
  const records = `${OUT}/gsm8k-test.jsonl`, emb = `${OUT}/gsm8k-test.npy`, humans = `${OUT}/gsm8k-test-humans.json`;
  writeFileSync(records, rows.map(([r]) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(emb, npy(rows.map(([, i]) => vectors[i])));
  const picked = rows.filter((_, k) => k % 100 === 0).map(([r]) => ({ id: r.id, label: r.is_correct ? 'good' : 'bad', provenance: 'human' }));
  writeFileSync(humans, JSON.stringify({ format: 'cotlabel.labels', version: 1, labels: picked }));
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  await p.importFiles([records, emb]);
  await p.waitForCount(rows.length, 60000);
  await p.importFiles([humans]);
  await page.getByTestId('notice').filter({ hasText: `gsm8k-test-humans.json: ${picked.length} labels applied` }).waitFor({ timeout: 20000 });
  await page.getByTestId('propagate-button').click();
  await page.waitForFunction((n) => new RegExp(`^Propagated from ${n} human labels in \\d+ ms`).test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? ''), picked.length, { timeout: 120000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-button').click()]);
  const file = JSON.parse(readFileSync(await download.path(), 'utf8'));
  const start = Date.now();
  const cli = cliLabel([records, emb], humans, file.dataset.name, `${OUT}/cli-gsm8k-test-labels.json`);
  metrics.cli_gsm8k_test_ms = Date.now() - start;
  const machine = file.labels.filter((l) => l.provenance === 'propagated').length;
  assert.ok(machine > rows.length / 2, `${machine} propagated labels of ${rows.length}`);
  assert.deepEqual(untimed(cli), untimed(file));
  console.log(`GSM8K test split: ${rows.length} CoTs, ${picked.length} human labels → ${machine} propagated; the CLI's label file equals the page's (CLI ${metrics.cli_gsm8k_test_ms} ms, debug build)`);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the MMLU-Pro demo: options read in any phrasing, the general member speaks, unreadable answers wait; the live panel at 0 and 20 labels', async () => {
  const rows = readFileSync('static/demo/mmlu-pro-demo.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const truth = Object.fromEntries(rows.map((r) => [r.id, r.is_correct]));
  const sound = rows.filter((r) => r.is_correct).length / rows.length;
  const majority = Math.max(sound, 1 - sound);
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  await p.testId('demo-choice').selectOption('mmlu-pro');
  await p.waitForCount(rows.length, 60000);
  assert.match(await p.text('dataset-name'), /mmlu-pro-demo/);
  const propagated = async (n) => {
    await p.testId('propagate-button').click();
    await page.waitForFunction((n) => new RegExp(`^Propagated from ${n} human labels? `).test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? ''), n, { timeout: 30000 });
    await page.waitForFunction((n) => new RegExp(`\\(${n} human labels\\)`).test(document.querySelector('[data-testid=evaluation-text]')?.textContent ?? ''), n, { timeout: 30000 });
    const text = await p.text('evaluation-text');
    const [acc, cov, ece] = [/accuracy ([\d.]+)%/, /coverage ([\d.]+)%/, /ECE ([\d.]+)/].map((re) => Number(text.match(re)[1]));
    return { text, acc: acc / 100, cov: cov / 100, ece };
  };
  // label-free: honest (at least the majority class, calibrated) and covering most CoTs
  const zero = await propagated(0);
  metrics.mmlu_demo_0_labels = zero.text;
  assert.ok(zero.acc >= majority - 0.01 && zero.ece <= 0.15 && zero.cov >= 0.6, `${zero.text} (majority ${majority.toFixed(3)})`);
  // the detail pane names the member, or why none speaks
  await p.row(0).click();
  assert.match(await p.text('prior-member'), /general member|^none — /);
  await p.shot('mmlu-demo-0');
  // 20 labels picked by "label next"
  await labelNext(page, truth, 20);
  const twenty = await propagated(20);
  metrics.mmlu_demo_20_labels = twenty.text;
  assert.ok(twenty.acc >= majority - 0.01 && twenty.ece <= 0.15, `${twenty.text} (majority ${majority.toFixed(3)})`);
  console.log(`MMLU-Pro demo (majority ${majority.toFixed(3)}): 0 labels ${zero.text}; 20 labels ${twenty.text}`);
  await p.shot('mmlu-demo-20');
  // the GSM8K demo opens again from the same menu
  await p.testId('demo-choice').selectOption('gsm8k');
  await p.waitForCount(300, 60000);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('step labels: the suggested step, the first wrong step marked with the keyboard, undo, a sibling gets it spread with its source, a reload keeps it, the stepwise exports carry it', async () => {
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  const detail = (id) => page.waitForFunction((id) => document.querySelector('[data-testid=record-detail]')?.dataset.id === id, id);
  const states = () => page.$$eval('[data-testid=step]', (els) => els.map((e) => `${e.dataset.state}${e.dataset.provenance ? ':' + e.dataset.provenance : ''}`));
  const goto = async (index, id) => {
    await p.row(0).click();
    for (let k = 0; k < index; k++) await page.keyboard.press('j');
    await detail(id);
  };
  // gsm8k-0032-6b_finetuning: 80 + 20 = 100 in its first step is the real first error (the
  // second guess is 20 more than half of 80); the page suggests step 6, whose arithmetic is wrong
  await goto(4, 'gsm8k-0032-6b_finetuning');
  assert.deepEqual(await states(), ['none', 'none', 'none', 'none', 'none', 'suggested']);
  assert.match(await p.text('step-status'), /^Suggested first wrong step: step 6 — the arithmetic does not check/);
  await p.shot('07c-step-suggested');
  // w, Enter takes the suggestion; u undoes it; w 1 marks step 1 (no second digit can follow: 6 steps)
  await page.keyboard.press('w');
  await page.getByTestId('step-pick').waitFor();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=step][data-state=wrong]').length === 1);
  assert.deepEqual(await states(), ['fine:human', 'fine:human', 'fine:human', 'fine:human', 'fine:human', 'wrong:human']);
  assert.match(await p.text('label-state'), /^bad — your label/);
  await page.keyboard.press('u');
  await page.waitForFunction(() => document.querySelector('[data-testid=step][data-state=suggested]'));
  assert.match(await p.text('label-state'), /^Not labelled/);
  await page.keyboard.press('w');
  await page.keyboard.press('1');
  await page.waitForFunction(() => document.querySelector('[data-testid=step][data-index="0"]')?.dataset.state === 'wrong');
  assert.deepEqual(await states(), ['wrong:human', 'none:human', 'none:human', 'none:human', 'none:human', 'none:human']);
  assert.match(await p.text('step-status'), /^First wrong step: 1 — your mark; suggested was step 6/);
  assert.equal(await p.row(4).getAttribute('data-label'), 'bad');
  assert.equal(await p.row(4).getAttribute('data-provenance'), 'human');
  await p.shot('07d-step-marked');
  // its sibling gsm8k-0032-175b_finetuning makes the same computation in its first step
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await detail('gsm8k-0032-175b_finetuning');
  await page.waitForFunction(() => document.querySelector('[data-testid=step]')?.dataset.state === 'wrong');
  assert.deepEqual(await states(), ['wrong:spread', 'none:spread', 'none:spread', 'none:spread']);
  assert.match(await p.text('step-status'), /^First wrong step: 1 — spread from your step mark on gsm8k-0032-6b_finetuning \(90% confidence\)\./);
  await p.shot('07e-step-spread');
  // the source opens the marked CoT
  await page.getByTestId('step-source').click();
  await detail('gsm8k-0032-6b_finetuning');
  // a click on a step marks it; f says all steps are fine (on a correct CoT)
  await goto(15, 'gsm8k-0091-175b_verification');
  await page.keyboard.press('f');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=step]')].every((e) => e.dataset.state === 'fine'));
  assert.match(await p.text('label-state'), /^good — your label/);
  await p.waitSaved();
  // a reload keeps the marks and spreads them again
  await page.reload();
  await p.waitForCount(300);
  await goto(6, 'gsm8k-0032-175b_finetuning');
  await page.waitForFunction(() => document.querySelector('[data-testid=step]')?.dataset.state === 'wrong');
  assert.deepEqual((await states()).slice(0, 1), ['wrong:spread']);
  // the label file carries the marks and the spread label of a labelled record
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-button').click()]);
  const file = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  const byId = Object.fromEntries(file.labels.map((l) => [l.id, l]));
  assert.deepEqual(byId['gsm8k-0032-6b_finetuning'].step, { first_wrong: 0, provenance: 'human' });
  assert.equal(byId['gsm8k-0032-6b_finetuning'].label, 'bad');
  assert.deepEqual(byId['gsm8k-0091-175b_verification'].step, { first_wrong: 'none', provenance: 'human' });
  // the stepwise training sets: TRL stepwise supervision and ProcessBench, JSONL and Parquet
  await page.getByTestId('training-export-button').click();
  const rows = await downloadTraining(page, { format: 'stepwise', filetype: 'jsonl', include: 'all', min: 80, name: 'steps' });
  const row = (id) => rows.find((r) => r.id === id);
  // the marks, the spread wrong step, and siblings of the all-fine CoT that make all its computations
  for (const r of rows.filter((r) => !['gsm8k-0032-6b_finetuning', 'gsm8k-0032-175b_finetuning', 'gsm8k-0091-175b_verification'].includes(r.id))) {
    assert.ok(r.id.startsWith('gsm8k-0091-') && r.provenance === 'spread' && r.labels.every((x) => x), JSON.stringify(r));
  }
  assert.deepEqual(row('gsm8k-0032-6b_finetuning').labels, [false, false, false, false, false, false]);
  assert.equal(row('gsm8k-0032-6b_finetuning').completions[0], 'First Gunter asks how many jelly beans there are by asking 80 + 20 = 100.');
  assert.deepEqual(row('gsm8k-0032-175b_finetuning').labels, [false, false, false, false]);
  assert.equal(row('gsm8k-0032-175b_finetuning').provenance, 'spread');
  assert.ok(row('gsm8k-0091-175b_verification').labels.every((x) => x === true));
  const human = await downloadTraining(page, { format: 'stepwise', filetype: 'parquet', include: 'human', name: 'steps' });
  assert.deepEqual(human.map((r) => r.id).sort(), ['gsm8k-0032-6b_finetuning', 'gsm8k-0091-175b_verification']);
  const pb = await downloadTraining(page, { format: 'processbench', filetype: 'parquet', include: 'all', min: 80, name: 'steps' });
  const pbl = Object.fromEntries(pb.map((r) => [r.id, r.label]));
  assert.deepEqual([pbl['gsm8k-0032-6b_finetuning'], pbl['gsm8k-0032-175b_finetuning'], pbl['gsm8k-0091-175b_verification']], [0, 0, -1]);
  assert.equal(pb.length, rows.length);
  console.log(`step labels: 2 marks by keyboard → 1 spread (90 %), kept over a reload; stepwise ${rows.length} rows (all), ${human.length} (human); ProcessBench ${pb.length}`);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('one CoT per question: the page says what lone CoTs rest on, labels them at honest confidence, and the classifier leaves them alone', async () => {
  // 75 lone arithmetic CoTs (one per demo question, the four models in turn) and three
  // yes/no CoTs: no question has a second CoT
  const demo = JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8'));
  const lone = demo.filter((r, i) => i % 4 === Math.floor(i / 4) % 4)
    .map(({ id, question_id, question, cot, answer, is_correct }) => ({ id, question_id, question, cot, answer, is_correct }));
  const yesNo = [1, 2, 3].map((k) => ({ id: `yn-${k}`, question_id: `yn-${k}`, question: `Is ${k} even?`, cot: `${k} divided by 2 leaves ${k % 2}. So the answer is ${k % 2 ? 'no' : 'yes'}.`, is_correct: true }));
  const records = [...lone, ...yesNo];
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  await p.importFiles([{ name: 'lone.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(records.map((r) => JSON.stringify(r)).join('\n')) }]);
  await p.waitForCount(records.length);
  const notice = await p.text('no-siblings');
  assert.match(notice, new RegExp(`^${records.length} CoTs have no sibling .*answer agreement is unavailable: their labels rest on your labels and weak single-CoT signals`), notice);
  assert.match(notice, /3 give yes\/no, option or text answers/, notice);
  // the detail pane names the member that scored the selected CoT
  assert.match(await p.text('prior-member'), /^lone: sibling signals are missing/);
  await page.getByTestId('propagate-button').click();
  await page.waitForFunction(() => /^Propagated from 0 human labels/.test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? ''), null, { timeout: 20000 });
  // the evaluation against is_correct: no worse than the majority class, calibrated
  const sound = lone.filter((r) => r.is_correct).length / lone.length;
  const evaluation = await p.text('evaluation-text');
  const [acc, cov, ece] = [/accuracy ([\d.]+)%/, /coverage ([\d.]+)%/, /ECE ([\d.]+)/].map((re) => Number(evaluation.match(re)[1]));
  metrics.lone_accuracy = acc; metrics.lone_coverage = cov; metrics.lone_ece = ece;
  console.log(`lone CoTs: ${evaluation} (majority ${(100 * Math.max(sound, 1 - sound)).toFixed(1)}%)`);
  assert.ok(acc >= 100 * Math.max(sound, 1 - sound), evaluation);
  // the yes/no CoTs have no fitted member and no labels to settle a base rate: unlabelled;
  // every machine label clears the minimum confidence
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-button').click()]);
  const file = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.ok(file.labels.length > 0, 'some lone CoTs are labelled');
  for (const l of file.labels) {
    assert.ok(!l.id.startsWith('yn-'), JSON.stringify(l));
    assert.ok(l.provenance === 'propagated' && l.confidence >= 0.6, JSON.stringify(l));
  }
  // honest confidence: the labels' mean confidence is their accuracy, within sampling
  // (a binned ECE over a few dozen labels is mostly noise; tests/shapes.rs measures it on
  // a thousand)
  const truth = Object.fromEntries(records.map((r) => [r.id, r.is_correct]));
  const right = file.labels.filter((l) => (l.label === 'good') === truth[l.id]).length / file.labels.length;
  const meanConfidence = file.labels.reduce((a, l) => a + l.confidence, 0) / file.labels.length;
  console.log(`lone CoTs: ${file.labels.length} labels, accuracy ${right.toFixed(3)}, mean confidence ${meanConfidence.toFixed(3)}`);
  assert.ok(Math.abs(meanConfidence - right) <= 0.1, `${meanConfidence} vs ${right}`);
  await p.shot('07c-lone-cots');
  // the classifier judges pairs of siblings: with none, it labels nothing and says so
  await page.goto(app.url + '?cpu');
  await p.waitForCount(records.length);
  await page.getByTestId('classify-button').click();
  await page.waitForFunction(() => /no sibling to compare with/.test(document.querySelector('[data-testid=classify-summary]')?.textContent ?? ''), null, { timeout: 180000 });
  assert.match(await p.text('classify-summary'), /^0 sibling pairs scored.*78 CoTs have no sibling to compare with: the classifier gives them no label/);
  assert.equal(await page.locator('[data-testid=record][data-provenance=classifier]').count(), 0);
  assert.deepEqual(errors, []);
  await ctx.close();
});

/** Classifies the demo in a fresh page; returns {backend, summary, page, ctx, errors}. */
async function classifyDemo(b, query) {
  const { context: ctx, page, app: p, errors } = await freshPage(b, app.url + query, OUT);
  const t0 = Date.now();
  await page.getByTestId('classify-button').click();
  await page.waitForFunction(() => /^(webgpu|cpu)$/.test(document.querySelector('[data-testid=backend]')?.textContent ?? ''), null, { timeout: 180000 });
  const ms = Date.now() - t0;
  return { ctx, page, p, errors, ms, backend: await p.text('backend'), summary: await p.text('classify-summary') };
}

test('classify: the binary-choice model labels the demo on WebGPU, equal to the CPU within 1e-4', async () => {
  // ?webgpu: SwiftShader's software adapter here, which the page passes over by itself
  const { ctx, page, p, errors, ms, backend, summary } = await classifyDemo(browser, '?parity&webgpu');
  metrics.classify_demo_first_ms = ms;
  metrics.classify_backend = backend;
  metrics.classify_summary = summary;
  console.log(`classifier on the demo: ${summary}; first click to labels ${ms} ms`);
  assert.match(summary, /^450 sibling pairs scored in \d+ ms on (webgpu|cpu)/);
  if (backend === 'webgpu') {
    const diff = Number(summary.match(/max \|GPU − CPU\| ([\d.e+-]+)/)[1]);
    metrics.classify_gpu_cpu_max_diff = diff;
    assert.ok(diff <= 1e-4, summary);
  } else {
    console.log(`SKIP parity: this Chromium offers no WebGPU adapter (${summary})`);
  }
  const n = await page.locator('[data-testid=record][data-provenance=classifier]').count();
  assert.ok(n > 0, 'rows carry classifier labels');
  const evaluation = await p.text('evaluation-text');
  const acc = Number(evaluation.match(/accuracy ([\d.]+)%/)[1]);
  metrics.classify_demo_accuracy = acc;
  assert.ok(acc >= 80, evaluation);
  // the pairwise view: the selected CoT beside a sibling, the model's choice, the person's
  await page.locator('[data-testid=record]').first().click();
  await page.keyboard.press('c');
  await page.getByTestId('pairwise').waitFor();
  assert.match(await p.text('pair-model'), /^Model: [AB], confidence \d+%$/);
  await page.keyboard.press('b');
  await page.waitForFunction(() => document.querySelector('[data-testid=pair-human]')?.textContent === 'You chose B.');
  await p.shot('07e-pairwise');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-button').click()]);
  const exportedPairs = JSON.parse(readFileSync(await dl.path(), 'utf8')).pairs;
  assert.equal(exportedPairs.length, 1);
  assert.equal(exportedPairs[0].provenance, 'human');
  await page.keyboard.press('Escape');
  // a second run reuses the started model worker
  const t1 = Date.now();
  await page.getByTestId('classify-button').click();
  await page.waitForFunction((old) => document.querySelector('[data-testid=classify-summary]')?.textContent !== old, summary, { timeout: 60000 }).catch(() => {});
  metrics.classify_demo_again_ms = Date.now() - t1;
  await p.shot('07d-classified');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('classify without WebGPU falls back to the CPU and says so', async () => {
  const plain = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const { ctx, page, errors, backend, summary } = await classifyDemo(plain, '');
    assert.equal(backend, 'cpu', summary);
    assert.ok((await page.locator('[data-testid=record][data-provenance=classifier]').count()) > 0);
    // "No available adapters." is Chromium's own console note when WebGPU is off
    assert.deepEqual(errors.filter((e) => !/No available adapters/.test(e)), []);
    await ctx.close();
  } finally {
    await plain.close();
  }
});

test('train on my labels: fine-tunes the classifier in the model worker with live loss, keeps and exports the weights, cancels', async () => {
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  // a person has labelled every CoT of half the demo's questions
  const records = JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8'));
  const questions = [...new Set(records.map((r) => r.question_id))];
  const half = new Set(questions.filter((_, i) => i % 2 === 0));
  const labels = records
    .filter((r) => half.has(r.question_id) && typeof r.is_correct === 'boolean')
    .map((r) => ({ id: r.id, label: r.is_correct ? 'good' : 'bad', provenance: 'human', confidence: 1 }));
  const file = JSON.stringify({ format: 'cotlabel.labels', version: 1, labels });
  await p.importFiles([{ name: 'half.json', mimeType: 'application/json', buffer: Buffer.from(file) }]);
  await page.getByTestId('notice').filter({ hasText: `half.json: ${labels.length} labels applied` }).waitFor();
  const status = () => p.text('train-status').catch(() => '');
  // cancel stops a run before it ends: no new weights
  await page.getByTestId('train-button').click();
  await page.getByTestId('cancel-button').click();
  await page.waitForTimeout(1500);
  assert.equal(await page.getByTestId('train-status').count(), 0, 'a cancelled run leaves nothing behind');
  // a whole run: live epochs, then the result
  const t0 = Date.now();
  await page.getByTestId('train-button').click();
  await page.waitForFunction(() => /^trained \d+ epochs/.test(document.querySelector('[data-testid=train-status]')?.textContent ?? ''), null, { timeout: 180000 });
  metrics.train_demo_ms = Date.now() - t0;
  const done = await status();
  metrics.train_status = done;
  console.log(`training on half the demo's questions: ${done}; click to result ${metrics.train_demo_ms} ms`);
  const m = done.match(/on (\d+) of your pairs \+ (\d+) replayed; validation \((\d+) pairs\) loss ([\d.]+) → ([\d.]+)/);
  assert.ok(m, done);
  assert.ok(Number(m[1]) >= 20 && Number(m[3]) >= 5, done);
  assert.ok(Number(m[5]) <= Number(m[4]), `the weights kept never lose validation loss: ${done}`);
  await page.getByTestId('train-plot').waitFor();
  assert.match(await p.text('weights-source'), /^fine-tuned here on \d+ of your pairs/);
  await p.shot('07f-trained');
  // the weights in use download as the two files of weights/
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights-button').click()]);
  assert.match(dl.suggestedFilename(), /^choice-signature-fine-tuned\.bpk$/);
  const bpk = readFileSync(await dl.path());
  assert.ok(bpk.length > 100000, `${bpk.length} bytes`);
  // they survive a reload (IndexedDB) and classify
  await page.reload();
  await p.waitForCount(300);
  await page.getByTestId('classify-button').click();
  await page.waitForFunction(() => /^fine-tuned here/.test(document.querySelector('[data-testid=weights-source]')?.textContent ?? ''), null, { timeout: 180000 });
  await page.waitForFunction(() => /sibling pairs scored/.test(document.querySelector('[data-testid=classify-summary]')?.textContent ?? ''), null, { timeout: 180000 });
  // and the shipped weights come back on request
  await page.getByTestId('reset-weights-button').click();
  await page.waitForFunction(() => /^shipped/.test(document.querySelector('[data-testid=weights-source]')?.textContent ?? ''), null, { timeout: 30000 });
  assert.deepEqual(errors, []);
  await ctx.close();
});

/** Imports `records` (no vectors) into `page`, embeds them on the device, and returns the
 * status line, the time and the exported vectors. */
async function embedRecords(page, p, records) {
  const jsonl = records.map((r) => JSON.stringify(r)).join('\n');
  await p.importFiles([{ name: 'plain.jsonl', mimeType: 'application/json', buffer: Buffer.from(jsonl) }]);
  const n = records.length;
  // the import has replaced what the page showed (the demo has as many records, with vectors)
  await page.waitForFunction((n) => document.querySelector('[data-testid=record-count]')?.textContent === `${n} records`, n, { timeout: 30000 });
  const t0 = Date.now();
  await page.getByTestId('embed-button').click();
  await page.waitForFunction((n) => new RegExp(`^${n} CoTs embedded on (webgpu|cpu)`).test(document.querySelector('[data-testid=embed-status]')?.textContent ?? ''), n, { timeout: 400000 });
  const ms = Date.now() - t0;
  assert.equal(await p.text('record-count'), `${n} records · 384-d embeddings`);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-embeddings-button').click()]);
  const vectors = readNpy(readFileSync(await dl.path()));
  assert.equal(vectors.length, n);
  return { ms, status: await p.text('embed-status'), vectors };
}

/** The smallest cosine between rows of a and b. */
function minCosine(a, b) {
  let worst = 1;
  a.forEach((v, i) => {
    const dot = v.reduce((s, x, k) => s + x * b[i][k], 0);
    worst = Math.min(worst, dot / (Math.hypot(...v) * Math.hypot(...b[i]) || 1));
  });
  return worst;
}

/** Sizes of the k-means clusters of the map on the embeddings. */
async function embeddingClusterSizes(page) {
  await page.getByTestId('map-space').selectOption('embedding');
  await page.waitForFunction(() => document.querySelector('[data-testid=map-space]')?.value === 'embedding'
    && document.querySelectorAll('[data-testid=cluster-summary]').length === 8, null, { timeout: 60000 });
  await page.waitForTimeout(500);
  return page.$$eval('[data-testid=cluster-summary]', (els) => els.map((e) => Number(e.textContent.match(/· (\d+) CoTs/)[1])));
}

test('records without embeddings: the page embeds them with MiniLM on the device (CPU and WebGPU), equal to sentence-transformers, same clusters, cached over a reload', async () => {
  if (!existsSync('dist/weights/minilm.bpk')) {
    if (process.env.CI === 'true') throw new Error('dist/weights/minilm.bpk is missing under CI=true (./scripts/fetch-minilm makes it before the build)');
    console.log('SKIP: dist/weights/minilm.bpk is absent (./scripts/fetch-minilm makes it before the build)');
    return;
  }
  const demo = JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8'));
  const shipped = readNpy(readFileSync('static/demo/demo_emb.npy'));
  const plain = (r) => ({ id: `e-${r.id}`, question_id: r.question_id, question: r.question, cot: r.cot, answer: r.answer });
  const cpu = await freshPage(browser, app.url + '?cpu', OUT);
  // the parity texts of reference_embeddings.json (accents, CJK, emoji, > 256 tokens)
  const refPath = '../shared/data/reference_embeddings.json';
  if (existsSync(refPath)) {
    const refs = JSON.parse(readFileSync(refPath, 'utf8')).texts.filter((t) => t.text.trim() !== '');
    const got = await embedRecords(cpu.page, cpu.app, refs.map((t, i) => ({ id: `ref-${i}`, question: 'q', cot: t.text })));
    const worst = minCosine(got.vectors, refs.map((t) => t.embedding));
    metrics.embed_reference_min_cosine = worst;
    assert.ok(worst >= 0.999, `reference texts: min cosine ${worst}`);
  } else {
    if (process.env.CI === 'true') throw new Error(`${refPath} is missing under CI=true`);
    console.log(`SKIP: ${refPath} is absent; the reference texts were not embedded`);
  }
  // the whole demo on the CPU (burn-flex in the worker)
  const all = await embedRecords(cpu.page, cpu.app, demo.map(plain));
  const worst = minCosine(all.vectors, shipped);
  Object.assign(metrics, { embed_cpu_demo_ms: all.ms, embed_cpu_status: all.status, embed_cpu_min_cosine: worst });
  console.log(`on-device embedding, CPU: ${all.status}; min cosine to the shipped vectors ${worst}`);
  assert.match(all.status, /^300 CoTs embedded on cpu/);
  assert.ok(worst >= 0.999, `min cosine ${worst}`);
  await cpu.app.shot('08-embedded');
  // a pool of two workers (this machine has two cores, so the page's own choice is one)
  const pool = await freshPage(browser, app.url + '?cpu&workers=2', OUT);
  // in capitals: the same tokens for the uncased model (so the same vectors), other cache
  // keys (so no vector comes from this browser's cache of the run above)
  const spaced = demo.map((r) => ({ ...plain(r), id: `p-${r.id}`, cot: r.cot.replace(/[a-z]/g, (c) => c.toUpperCase()) }));
  const two = await embedRecords(pool.page, pool.app, spaced);
  const twoWorst = minCosine(two.vectors, shipped);
  Object.assign(metrics, { embed_pool2_demo_ms: two.ms, embed_pool2_status: two.status, embed_pool2_min_cosine: twoWorst });
  console.log(`on-device embedding, CPU, 2 workers: ${two.status}; min cosine ${twoWorst}`);
  assert.match(two.status, /^300 CoTs embedded on cpu × 2 workers in /);
  assert.ok(twoWorst >= 0.999, `pool: min cosine ${twoWorst}`);
  assert.deepEqual(pool.errors, []);
  await pool.context.close();
  // k-means on them: the same clusters as on the shipped vectors
  const mine = await embeddingClusterSizes(cpu.page);
  const ref = await freshPage(browser, app.url, OUT);
  const theirs = await embeddingClusterSizes(ref.page);
  await ref.context.close();
  assert.deepEqual(mine, theirs);
  // a reload attaches the cached vectors without the model
  await cpu.page.reload();
  await cpu.page.waitForFunction(() => /^300 records · 384-d embeddings$/.test(document.querySelector('[data-testid=record-count]')?.textContent ?? ''), null, { timeout: 30000 });
  assert.equal(await cpu.app.text('embed-status'), '');
  assert.deepEqual(cpu.errors, []);
  await cpu.context.close();
  // with no flag the page passes SwiftShader's software adapter over: the CPU is faster
  const auto = await freshPage(browser, app.url, OUT);
  const autoFour = await embedRecords(auto.page, auto.app, demo.slice(0, 4).map(plain));
  metrics.embed_auto_status = autoFour.status;
  console.log(`on-device embedding, no flag: ${autoFour.status}`);
  assert.match(autoFour.status, /^4 CoTs embedded on cpu .*the WebGPU adapter \(.*\) is software, slower than the CPU/);
  await auto.context.close();
  // on WebGPU when asked (SwiftShader here: a CPU pretending to be a GPU, so only 4 CoTs)
  const gpu = await freshPage(browser, app.url + '?webgpu', OUT);
  const four = await embedRecords(gpu.page, gpu.app, demo.slice(0, 4).map(plain));
  const gpuWorst = minCosine(four.vectors, shipped.slice(0, 4));
  Object.assign(metrics, { embed_gpu_4_ms: four.ms, embed_gpu_status: four.status, embed_gpu_min_cosine: gpuWorst });
  console.log(`on-device embedding, WebGPU: ${four.status}; min cosine ${gpuWorst}`);
  assert.ok(gpuWorst >= 0.999, `min cosine ${gpuWorst}`);
  assert.deepEqual(gpu.errors, []);
  await gpu.context.close();
});

test('5k records: the first propagation builds the graph in the worker, a label re-propagates at once', async () => {
  const N = 5000, D = 384;
  const lines = [];
  for (let i = 0; i < N; i++) {
    const a = i % 50, b = (i >> 2) % 9 + 1, wrong = i % 4 === 3;
    lines.push(JSON.stringify({ id: `p${i}`, question_id: `q${i >> 2}`, question: `Question ${i >> 2}: Tom has ${a} apples and buys ${b} bags of 3. How many apples?`,
      cot: `Bags hold ${b} * 3 = ${b * 3} apples.\nSo ${a} + ${b * 3} = ${a + b * 3 + (wrong ? 1 : 0)}.`, answer: String(a + b * 3 + (wrong ? 1 : 0)) }));
  }
  let seed = 777;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const rows = Array.from({ length: N }, () => { const v = Array.from({ length: D }, rnd); const n = Math.hypot(...v); return v.map((x) => x / n); });
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  await p.importFiles([
    { name: 'five.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(lines.join('\n')) },
    { name: 'five.npy', mimeType: 'application/octet-stream', buffer: npy(rows) },
  ]);
  await p.waitForCount(N, 60000);
  const statusIs = (re) => page.waitForFunction((re) => new RegExp(re).test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? ''), re, { timeout: 120000 });
  await page.getByTestId('propagate-button').click();
  await statusIs('^Propagated from 0 human labels in \\d+ ms \\(graph built\\)');
  metrics.propagate_5k_first_ms = Number((await p.text('propagation-status')).match(/in (\d+) ms/)[1]);
  // one human label: the kept graph is reused
  await page.keyboard.press('2');
  await statusIs('^Propagated from 1 human label in \\d+ ms ·');
  metrics.propagate_5k_again_ms = Number((await p.text('propagation-status')).match(/in (\d+) ms/)[1]);
  await page.keyboard.press('j');
  await page.keyboard.press('1');
  await statusIs('^Propagated from 2 human labels in \\d+ ms ·');
  metrics.propagate_5k_again2_ms = Number((await p.text('propagation-status')).match(/in (\d+) ms/)[1]);
  console.log(`5k × 384 propagation in the browser: first (graph built) ${metrics.propagate_5k_first_ms} ms, after a label ${metrics.propagate_5k_again_ms} / ${metrics.propagate_5k_again2_ms} ms`);
  await p.shot('07c-propagated-5k');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('20k records with 384-d embeddings: the map job shows progress, cancel stops it, the worker carries on', async () => {
  const N = 20000, D = 384;
  const lines = [];
  for (let i = 0; i < N; i++) lines.push(JSON.stringify({ id: `r${i}`, question_id: `q${i >> 2}`, question: `Question ${i >> 2}: what is ${i % 50} + ${i % 7}?`, cot: `${i % 50} + ${i % 7} = ${(i % 50) + (i % 7)}`, answer: String((i % 50) + (i % 7)) }));
  // deterministic pseudo-random unit vectors
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const rows = Array.from({ length: N }, () => { const v = Array.from({ length: D }, rnd); const n = Math.hypot(...v); return v.map((x) => x / n); });
  const { context: ctx, page, app: big, errors } = await freshPage(browser, app.url, OUT);
  await big.importFiles([
    { name: 'twenty.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(lines.join('\n')) },
    { name: 'twenty.npy', mimeType: 'application/octet-stream', buffer: npy(rows) },
  ]);
  await big.waitForCount(N, 60000);
  // the signature map of the new records replaces the demo's
  await page.waitForFunction(() => /^20000 points/.test(document.querySelector('.map-info')?.textContent ?? ''), null, { timeout: 60000 });
  await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
  });
  // The embedding map of 20k × 384 takes seconds: progress shows, cancel stops it.
  await page.getByTestId('map-space').selectOption('embedding');
  const progress = page.getByTestId('progress');
  await progress.waitFor({ timeout: 10000 });
  await page.waitForFunction(() => /(projecting|clustering) — \d+%/.test(document.querySelector('[data-testid=progress]')?.textContent ?? ''), null, { timeout: 20000 });
  await big.shot('08-progress-20k');
  await page.getByTestId('cancel-button').click();
  await progress.waitFor({ state: 'detached', timeout: 5000 });
  assert.match(await big.text('notice'), /Cancelled/);
  // A fresh worker takes the next job to the end: k = 6 on the embeddings.
  const t0 = Date.now();
  await page.getByTestId('map-k').fill('6');
  await page.getByTestId('map-k').dispatchEvent('change');
  await progress.waitFor({ timeout: 10000 });
  await progress.waitFor({ state: 'detached', timeout: 120000 });
  metrics.map_20k_384_embedding_ms = Date.now() - t0;
  assert.equal(await page.getByTestId('cluster-summary').count(), 6);
  metrics.map_20k_longest_main_task_ms = await page.evaluate(() => Math.max(0, ...window.__long));
  metrics.map_20k_info = await page.locator('.map-info').textContent();
  console.log(`20k × 384 map in the worker: ${metrics.map_20k_384_embedding_ms} ms (${metrics.map_20k_info}); longest main-thread task meanwhile ${metrics.map_20k_longest_main_task_ms.toFixed(0)} ms`);
  await big.shot('09-map-20k');
  // HDBSCAN of the same 20k × 384 vectors in the worker.
  await page.evaluate(() => { window.__long = []; });
  const t1 = Date.now();
  await page.getByTestId('map-method').selectOption('hdbscan');
  await progress.waitFor({ timeout: 10000 });
  await progress.waitFor({ state: 'detached', timeout: 180000 });
  metrics.hdbscan_20k_384_wall_ms = Date.now() - t1;
  metrics.hdbscan_20k_info = await page.locator('.map-info').textContent();
  metrics.hdbscan_20k_longest_main_task_ms = await page.evaluate(() => Math.max(0, ...window.__long));
  console.log(`HDBSCAN of 20k × 384 in the worker: ${metrics.hdbscan_20k_384_wall_ms} ms from the click (${metrics.hdbscan_20k_info}); longest main-thread task meanwhile ${metrics.hdbscan_20k_longest_main_task_ms.toFixed(0)} ms`);
  assert.match(metrics.hdbscan_20k_info, /^20000 points.*nearest-neighbour graph/);
  // thousands of small clusters: the legend lists the 40 largest and counts the rest
  metrics.hdbscan_20k_legend = await page.getByTestId('cluster-summary').count();
  assert.ok(metrics.hdbscan_20k_legend <= 40, `${metrics.hdbscan_20k_legend} summaries`);
  if (metrics.hdbscan_20k_legend === 40) assert.match(await big.text('cluster-more'), /^\+ \d+ smaller clusters$/);
  await big.shot('09b-hdbscan-20k');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the timing page runs the map jobs in WebAssembly on the native benchmark\'s numbers', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  // the link in the app's header opens it
  await page.goto(app.url);
  const link = page.locator('a[href="?timing"]');
  await link.waitFor({ timeout: 30000 });
  await page.goto(new URL(await link.getAttribute('href'), app.url).href);
  await page.waitForFunction(() => /^Ready/.test(document.querySelector('[data-testid=timing-status]')?.textContent ?? ''), null, { timeout: 30000 });
  const t0 = Date.now();
  await page.getByTestId('timing-run').click();
  await page.getByTestId('timing-progress').waitFor({ timeout: 10000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=timing-table]')?.dataset.done === 'true', null, { timeout: 900000 });
  const rows = await page.$$eval('[data-testid=timing-row]', (rs) => rs.map((r) => ({
    job: r.dataset.job, rows: Number(r.dataset.rows), ms: r.dataset.ms ? Number(r.dataset.ms) : null, text: r.textContent,
  })));
  metrics.timing_suite_wall_ms = Date.now() - t0;
  metrics.timing_wasm = rows.map(({ job, rows: n, ms }) => ({ job, rows: n, ms }));
  writeFileSync(`${OUT}/timing-wasm.json`, JSON.stringify(metrics.timing_wasm, null, 2));
  console.log('WebAssembly timings (compare with `cargo bench --bench cluster`, group page/):');
  for (const r of rows) console.log(`  ${r.job.padEnd(28)} ${String(r.rows).padStart(6)} ${r.ms == null ? r.text : (r.ms / 1000).toFixed(3) + ' s'}`);
  assert.equal(rows.length, 14, 'k-means k=8 and k=32, HDBSCAN and PCA at 1k, 5k and 20k; exact HDBSCAN at 1k and 5k');
  for (const r of rows) assert.ok(r.ms != null && r.ms >= 0, `${r.job} at ${r.rows}: ${r.text}`);
  assert.match(await page.getByTestId('timing-status').textContent(), /^Done/);
  await page.screenshot({ path: `${OUT}/16-timing.png` });
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the timing page measures embedding on this device: CoTs/s with 1 and 2 CPU workers beside the native figure', async () => {
  if (!existsSync('dist/weights/minilm.bpk')) {
    if (process.env.CI === 'true') throw new Error('dist/weights/minilm.bpk is missing under CI=true (./scripts/fetch-minilm makes it before the build)');
    console.log('SKIP: dist/weights/minilm.bpk is absent (./scripts/fetch-minilm makes it before the build)');
    return;
  }
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(app.url + '?timing');
  await page.getByTestId('embed-bench-run').waitFor({ timeout: 30000 });
  await page.getByTestId('embed-bench-run').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=embed-bench-table]')?.dataset.done === 'true', null, { timeout: 300000 });
  const rows = await page.$$eval('[data-testid=embed-bench-row]', (rs) => rs.map((r) => ({
    backend: r.dataset.backend, workers: Number(r.dataset.workers), rate: Number(r.dataset.rate), text: r.textContent,
  })));
  console.log(`embedding benchmark in the page: ${rows.map((r) => `${r.backend} × ${r.workers}: ${r.rate.toFixed(1)} CoTs/s`).join('; ')}`);
  // this machine reports 2 cores: 1 and 2 workers
  assert.deepEqual(rows.map((r) => [r.backend, r.workers]), [['cpu', 1], ['cpu', 2]]);
  for (const r of rows) assert.ok(r.rate > 1, r.text);
  const [one, two] = rows;
  Object.assign(metrics, { embed_bench_cpu1_cots_per_s: one.rate, embed_bench_cpu2_cots_per_s: two.rate, embed_bench_pool2_of_linear: two.rate / (2 * one.rate) });
  assert.match(await page.getByTestId('embed-bench-status').textContent(), /^Done\.$/);
  await page.screenshot({ path: `${OUT}/10b-embed-bench.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('50k records: import, scroll and label stay responsive', async () => {
  const N = 50000;
  const lines = [];
  for (let i = 0; i < N; i++) {
    lines.push(JSON.stringify({
      id: `big-${i}`, question_id: `q${Math.floor(i / 4)}`,
      question: `Question ${Math.floor(i / 4)}: a shop sells ${i % 97} apples at $${i % 13} each. How much money does it make?`,
      cot: `The shop sells ${i % 97} apples.\nEach costs $${i % 13}.\nSo it makes ${i % 97} * ${i % 13} = ${(i % 97) * (i % 13)} dollars.`,
      answer: String((i % 97) * (i % 13)),
    }));
  }
  const dim = 8;
  const rows = Array.from({ length: N }, (_, i) => Array.from({ length: dim }, (_, d) => Math.sin(i + d)));
  const { context: ctx, page, app: big, errors } = await freshPage(browser, app.url, OUT);
  // Long tasks on the main thread from here on (the import runs in the worker).
  await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration)))
      .observe({ type: 'longtask', buffered: false });
  });
  // files on disk, as a person picks them (a buffer would be decoded by the test's own
  // script on the page's main thread)
  writeFileSync(`${OUT}/big.jsonl`, lines.join('\n'));
  writeFileSync(`${OUT}/big.npy`, npy(rows));
  const t0 = Date.now();
  await big.importFiles([`${OUT}/big.jsonl`, `${OUT}/big.npy`]);
  await big.waitForCount(N, 60000);
  metrics.import_50k_ms = Date.now() - t0;
  const importLong = await page.evaluate(() => { const l = window.__long; window.__long = []; return Math.max(0, ...l); });
  metrics.import_50k_longest_task_ms = importLong;

  // Scroll to the middle and the end: only the rows in view exist, and they are the right ones.
  const timeScroll = (frac) => page.evaluate(async (frac) => {
    const list = document.querySelector('.list');
    const t = performance.now();
    list.scrollTop = list.scrollHeight * frac;
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t;
  }, frac);
  const scrolls = [];
  for (const frac of [0.25, 0.5, 0.75, 1, 0.1, 0.6]) scrolls.push(await timeScroll(frac));
  metrics.scroll_50k_ms_max = Math.max(...scrolls);
  const ids = await page.$$eval('[data-testid=record]', (r) => r.map((x) => x.dataset.id));
  assert.ok(ids.length < 60, `rendered rows: ${ids.length}`);
  assert.ok(ids.includes('big-35999') || ids.some((id) => Number(id.slice(4)) > 29000), `rows near 60%: ${ids.slice(0, 3)}`);

  // Label with the keyboard: each key press updates the list, counts and storage.
  await page.getByTestId('record').first().click();
  const tk = Date.now();
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('1');
    await page.keyboard.press('j');
  }
  await page.waitForFunction(() => document.querySelector('[data-testid=count-good]')?.textContent === '20 good');
  metrics.label_and_move_50k_ms_per_key = (Date.now() - tk) / 40;
  metrics.label_50k_longest_task_ms = await page.evaluate(() => Math.max(0, ...window.__long));
  // The map of 50k points: zoom with the wheel, time each redraw.
  await page.waitForFunction(() => /^50000 points/.test(document.querySelector('.map-info')?.textContent ?? ''), null, { timeout: 60000 });
  const canvas = page.getByTestId('cluster-map');
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const zooms = [];
  for (let i = 0; i < 5; i++) {
    const t = await page.evaluate(() => performance.now());
    await page.mouse.wheel(0, -100);
    const done = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
    zooms.push(done - t);
  }
  metrics.map_50k_zoom_ms_max = Math.max(...zooms);
  await big.shot('07-50k-records');
  console.log(`50k: import ${metrics.import_50k_ms} ms (longest main-thread task ${importLong.toFixed(0)} ms), ` +
              `scroll ≤ ${metrics.scroll_50k_ms_max.toFixed(1)} ms, ${metrics.label_and_move_50k_ms_per_key.toFixed(1)} ms per key, ` +
              `longest task while labelling ${metrics.label_50k_longest_task_ms.toFixed(0)} ms, ` +
              `map zoom redraw ≤ ${metrics.map_50k_zoom_ms_max.toFixed(0)} ms`);
  assert.deepEqual(errors, []);
  await ctx.close();
});

/** Renderer memory (RSS, MB) of a browser: every renderer process it lists, from /proc. */
async function rendererMegabytes(b) {
  const cdp = await b.newBrowserCDPSession();
  const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
  await cdp.detach();
  let kb = 0;
  for (const p of processInfo.filter((p) => p.type === 'renderer')) {
    try {
      kb += Number(readFileSync(`/proc/${p.id}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
    } catch { /* gone */ }
  }
  return Math.round(kb / 1024);
}

/** The whole pipeline on n CoTs × 384: the demo's vectors with seeded noise, varied texts,
 * 4 CoTs per question. Import, signatures, map, first propagation (graph built with the
 * embeddings), then a label key to re-propagated labels; the longest main-thread task and
 * the tab's memory throughout. */
async function pipelineAtScale(n) {
  const D = 384;
  const demo = readNpy(readFileSync('static/demo/demo_emb.npy'));
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${D}), }`;
  header += ' '.repeat((64 - ((11 + header.length) % 64)) % 64) + '\n';
  const npyBuf = Buffer.alloc(10 + header.length + n * D * 4);
  npyBuf.write('\x93NUMPY', 0, 'latin1'); npyBuf[6] = 1; npyBuf[7] = 0;
  npyBuf.writeUInt16LE(header.length, 8); npyBuf.write(header, 10, 'latin1');
  const lines = [];
  for (let i = 0; i < n; i++) {
    const base = demo[i % demo.length];
    for (let d = 0; d < D; d++) npyBuf.writeFloatLE(base[d] + 0.05 * rnd(), 10 + header.length + 4 * (i * D + d));
    const q = i >> 2, a = q % 50, b = q % 9 + 1, wrong = i % 4 === 3;
    lines.push(JSON.stringify({ id: `s${i}`, question_id: `q${q}`,
      question: `Question ${q}: Tom has ${a} apples and buys ${b} bags of ${3 + (q % 5)}. How many apples does he have?`,
      cot: `Each bag holds ${3 + (q % 5)} apples, so ${b} bags hold ${b} * ${3 + (q % 5)} = ${b * (3 + (q % 5))}.\nHe has ${a} + ${b * (3 + (q % 5))} = ${a + b * (3 + (q % 5)) + (wrong ? 1 : 0)} apples.`,
      answer: String(a + b * (3 + (q % 5)) + (wrong ? 1 : 0)) }));
  }
  writeFileSync(`${OUT}/scale-${n}.jsonl`, lines.join('\n'));
  writeFileSync(`${OUT}/scale-${n}.npy`, npyBuf);
  // a browser of its own, so that its renderer memory is this tab's
  const b = await chromium.launch(LAUNCH);
  const page = await (await b.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const p = new CotlabelPage(page, app.url, OUT);
  await p.open();
  await p.waitForCount(300);
  const m = {};
  m.observed_from = await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration)))
      .observe({ type: 'longtask', buffered: false });
    return performance.now();
  });
  const t0 = Date.now();
  await p.importFiles([`${OUT}/scale-${n}.jsonl`, `${OUT}/scale-${n}.npy`]);
  await p.waitForCount(n, 300000);
  m.import_ms = Date.now() - t0;
  // signatures: the rows show their prior
  await page.waitForFunction(() => /prior \d+%/.test(document.querySelector('.row-prior')?.textContent ?? ''), null, { timeout: 300000, polling: 100 });
  m.signatures_ms = Date.now() - t0;
  await page.waitForFunction((n) => new RegExp(`^${n} points`).test(document.querySelector('.map-info')?.textContent ?? ''), n, { timeout: 600000, polling: 200 });
  m.map_ms = Date.now() - t0;
  const status = () => page.evaluate(() => document.querySelector('[data-testid=propagation-status]')?.textContent ?? '');
  await page.getByTestId('propagate-button').click();
  await page.waitForFunction(() => /^Propagated from 0 human labels in \d+ ms \(graph built\)/.test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? ''), null, { timeout: 600000, polling: 200 });
  m.first_propagation_ms = Date.now() - t0;
  m.first_propagation_reported_ms = Number((await status()).match(/in (\d+) ms/)[1]);
  // a label key to re-propagated labels, timed in the page
  await p.row(0).click();
  const keyToLabels = async (key, humans) => {
    const wait = page.evaluate((humans) => new Promise((resolve) => {
      const t = performance.now();
      const re = new RegExp(`^Propagated from ${humans} human label`);
      const obs = new MutationObserver(() => {
        if (re.test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? '')) { obs.disconnect(); resolve(performance.now() - t); }
      });
      obs.observe(document.body, { subtree: true, childList: true, characterData: true });
    }), humans);
    await page.keyboard.press(key);
    return wait;
  };
  m.label_to_propagated_ms = [await keyToLabels('2', 1)];
  await page.keyboard.press('j');
  m.label_to_propagated_ms.push(await keyToLabels('1', 2));
  m.longest_main_thread_task_ms = await page.evaluate(() => Math.max(0, ...window.__long));
  m.tasks_over_50ms = await page.evaluate(() => window.__long.filter((d) => d > 50).length);
  // which page steps the long tasks were (the page measures its steps of 16 ms or more)
  m.slow_steps = await page.evaluate((since) => performance.getEntriesByType('measure')
    .filter((e) => e.name.startsWith('cotlabel:') && e.startTime >= since && e.duration > 40)
    .map((e) => `${e.name.slice(9)} ${e.duration.toFixed(0)}`), m.observed_from);
  m.renderer_mb = await rendererMegabytes(b);
  await p.shot(`18-pipeline-${n}`);
  await b.close();
  assert.deepEqual(errors, []);
  return m;
}

test('the pipeline at 50k and 100k CoTs × 384: import, signatures, map, first propagation with the embeddings in the graph, a label to re-propagated labels; longest main-thread task and memory', { timeout: 1800000 }, async () => {
  for (const n of [50000, 100000]) {
    const m = await pipelineAtScale(n);
    metrics[`pipeline_${n / 1000}k`] = m;
    console.log(`${n / 1000}k × 384: import ${m.import_ms} ms, signatures by ${m.signatures_ms} ms, map by ${m.map_ms} ms, ` +
      `first propagation by ${m.first_propagation_ms} ms (its job ${m.first_propagation_reported_ms} ms), ` +
      `label → re-propagated ${m.label_to_propagated_ms.map((x) => x.toFixed(0)).join(' / ')} ms, ` +
      `longest main-thread task ${m.longest_main_thread_task_ms.toFixed(0)} ms (${m.tasks_over_50ms} over 50 ms; steps over 40 ms: ${m.slow_steps.join(', ') || 'none'}), renderer ${m.renderer_mb} MB`);
  }
});

// Fine-tuning files written by pyarrow / datasets (tests/py/make_fixtures.py, run by
// scripts/test before these tests) and read back by pyarrow.
const FIX = 'target/pyfixtures';
const PY = '.cache/pyenv/bin/python';
function pyfixtures() {
  if (existsSync(`${FIX}/manifest.json`) && existsSync(PY)) return true;
  if (process.env.CI === 'true') throw new Error(`${FIX} or ${PY} is missing under CI=true: run scripts/test`);
  console.log('SKIP: no pyarrow fixtures (scripts/test writes them)');
  return false;
}
const fixture = (name) => ({ name, mimeType: 'application/octet-stream', buffer: readFileSync(`${FIX}/${name}`) });
/** Rows of a Parquet file, as pyarrow reads them. */
function parquetRows(path) {
  const code = 'import sys, json, pyarrow.parquet as pq; print(json.dumps(pq.read_table(sys.argv[1]).to_pylist()))';
  return JSON.parse(execFileSync(PY, ['-c', code, path], { maxBuffer: 1 << 30 }).toString());
}

async function downloadTraining(page, { format, filetype, include, min, name }) {
  await page.getByTestId('training-format').selectOption(format);
  await page.getByTestId('training-filetype').selectOption(filetype);
  await page.getByTestId('training-include').selectOption(include);
  if (min !== undefined) await page.getByTestId('training-min-confidence').fill(String(min));
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 120000 }),
    page.getByTestId('training-download').click(),
  ]);
  const path = `${OUT}/${name}-${download.suggestedFilename()}`;
  await download.saveAs(path);
  if (filetype === 'parquet') return parquetRows(path);
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('fine-tuning files: chat JSONL and Parquet through the mapping step, labels, propagation, SFT and DPO exports', async () => {
  if (!pyfixtures()) return;
  const { context: ctx, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  // 1. A chat `messages` JSONL written by datasets loads as it is.
  await p.importFiles([fixture('datasets-chat.jsonl')]);
  await p.waitForCount(48);
  // 2. Label question q0 (three sound CoTs, one with a slip) and q1 by hand, then propagate.
  await p.row(0).click();
  for (const key of ['1', 'j', '1', 'j', '1', 'j', '2', 'j', '1', 'j', '1', 'j', '1', 'j', '2']) await page.keyboard.press(key);
  await page.waitForFunction(() => document.querySelector('[data-testid=count-bad]')?.textContent === '2 bad');
  await page.getByTestId('propagate-button').click();
  await page.waitForFunction(() => /^Propagated from 8 human labels/.test(document.querySelector('[data-testid=propagation-status]')?.textContent ?? ''), null, { timeout: 30000 });
  // The label file says what the training sets must hold.
  const [lf] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-button').click()]);
  await lf.saveAs(`${OUT}/chat-labels.json`);
  const labels = JSON.parse(readFileSync(`${OUT}/chat-labels.json`, 'utf8')).labels;
  const counts = (l, min) => l.provenance === 'human' || l.confidence >= min;
  // 3. SFT, human labels only, JSONL: the six sound CoTs, as chat messages with the system turn.
  await page.getByTestId('training-export-button').click();
  await page.getByTestId('training-export').waitFor();
  const sft = await downloadTraining(page, { format: 'sft-messages', filetype: 'jsonl', include: 'human', name: 'e2e' });
  assert.equal(sft.length, labels.filter((l) => l.provenance === 'human' && l.label === 'good').length);
  assert.equal(sft.length, 6);
  assert.deepEqual(sft[0].messages.map((m) => m.role), ['system', 'user', 'assistant']);
  assert.equal(sft[0].provenance, 'human');
  // 4. SFT with machine labels at ≥ 60 %, Parquet, read by pyarrow.
  const sftAll = await downloadTraining(page, { format: 'sft-messages', filetype: 'parquet', include: 'all', min: 60, name: 'e2e' });
  assert.equal(sftAll.length, labels.filter((l) => counts(l, 0.6) && l.label === 'good').length);
  assert.ok(sftAll.length > 6, `machine labels add rows: ${sftAll.length}`);
  // 5. DPO pairs, Parquet: per question min(4, sound × flawed) among the labels that count.
  const records = readFileSync(`${FIX}/datasets-chat.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const dpo = await downloadTraining(page, { format: 'dpo', filetype: 'parquet', include: 'all', min: 60, name: 'e2e' });
  const byId = Object.fromEntries(labels.map((l) => [l.id, l]));
  const perQ = {};
  records.forEach((r, i) => {
    const l = byId[`row-${i + 1}`];
    if (!l || !counts(l, 0.6)) return;
    const q = (perQ[r.question_id] ??= { good: 0, bad: 0 });
    q[l.label] += 1;
  });
  const expectedPairs = Object.values(perQ).reduce((n, q) => n + Math.min(4, q.good * q.bad), 0);
  assert.equal(dpo.length, expectedPairs);
  for (const row of dpo) {
    assert.equal(byId[row.chosen_id].label, 'good');
    assert.equal(byId[row.rejected_id].label, 'bad');
    assert.equal(typeof row.prompt, 'string');
  }
  assert.match(await p.text('training-summary'), new RegExp(`^${expectedPairs} pairs over`));
  await p.shot('08-training-export');
  // 6. A Parquet file with its own column names: the mapping step proposes, the person accepts.
  await p.importFiles([fixture('mapped.parquet')]);
  await page.getByTestId('mapping').waitFor();
  assert.equal(await page.getByTestId('training-export').count(), 0, 'the mapping step replaces the open export dialog');
  assert.equal(await page.getByTestId('mapping-question').inputValue(), 'problem');
  assert.equal(await page.getByTestId('mapping-cot').inputValue(), 'generated_solution');
  assert.equal(await page.getByTestId('mapping-reference_answer').inputValue(), 'expected_answer');
  await p.shot('09-mapping-step');
  await page.getByTestId('mapping-apply').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=dataset-name]')?.textContent === 'mapped.parquet');
  await p.waitForCount(48);
  assert.equal(await page.getByTestId('mapping').count(), 0);
  // Same ids and texts as the chat file: the labels carry over, and the signatures now
  // read the reference answers the mapping brought.
  await p.row(0).click();
  assert.match(await p.text('reference-answer'), /^19 — the final answer matches it/);
  // …kept with the file: a reload reads it through the same mapping, and the next file with
  // these fields gets the remembered mapping.
  await page.reload();
  await p.waitForCount(48);
  assert.equal(await p.text('dataset-name'), 'mapped.parquet');
  await p.importFiles([fixture('mapped.parquet')]);
  await page.getByTestId('mapping').waitFor();
  assert.match(await page.getByTestId('mapping').textContent(), /mapping you used last time/);
  // 7. Malformed files are refused with the file and the row named, and nothing changes.
  // (Esc closes the mapping step: the import is cancelled, and the page says so.)
  await page.keyboard.press('Escape');
  await page.getByTestId('mapping').waitFor({ state: 'detached' });
  assert.match(await page.getByTestId('notice').textContent(), /Import cancelled/);
  await p.importFiles([fixture('bad-no-assistant.parquet')]);
  assert.match(await p.firstError(), /^bad-no-assistant\.parquet row 2: field `messages` has no assistant turn/);
  await p.waitForCount(48);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('50k-row Parquet: import, 50k labels from a script, and a 50k-row training set in slices', async () => {
  if (!pyfixtures()) return;
  const N = 50000;
  const { context: ctx, page, app: big, errors } = await freshPage(browser, app.url, OUT);
  await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration)))
      .observe({ type: 'longtask', buffered: false });
  });
  const longest = () => page.evaluate(() => { const l = window.__long; window.__long = []; return Math.max(0, ...l); });
  const t0 = Date.now();
  await big.importFiles([`${FIX}/big-50k.parquet`]); // a file on disk, as a person picks it
  await big.waitForCount(N, 120000);
  metrics.import_parquet_50k_ms = Date.now() - t0;
  metrics.import_parquet_50k_longest_task_ms = await longest();
  await big.importFiles([{ name: 'big-50k-labels.json', mimeType: 'application/json', buffer: readFileSync(`${FIX}/big-50k-labels.json`) }]);
  await page.waitForFunction((n) => document.querySelector('[data-testid=count-good]')?.textContent === `${n} good`, N, { timeout: 60000 });
  await longest();
  await page.getByTestId('training-export-button').click();
  for (const filetype of ['jsonl', 'parquet']) {
    const t = Date.now();
    const rows = await downloadTraining(page, { format: 'sft-prompt-completion', filetype, include: 'human', name: 'big' });
    metrics[`training_export_50k_${filetype}_ms`] = Date.now() - t;
    metrics[`training_export_50k_${filetype}_longest_task_ms`] = await longest();
    assert.equal(rows.length, N);
    assert.equal(rows[N - 1].id, `big-${N - 1}`);
  }
  console.log(`50k Parquet: import ${metrics.import_parquet_50k_ms} ms (longest task ${metrics.import_parquet_50k_longest_task_ms.toFixed(0)} ms); ` +
              `training set JSONL ${metrics.training_export_50k_jsonl_ms} ms (longest task ${metrics.training_export_50k_jsonl_longest_task_ms.toFixed(0)} ms), ` +
              `Parquet ${metrics.training_export_50k_parquet_ms} ms (longest task ${metrics.training_export_50k_parquet_longest_task_ms.toFixed(0)} ms)`);
  assert.deepEqual(errors, []);
  await ctx.close();
});

// ---- generating sibling CoTs from a real model (llama-cpp-python's server + Gemma 3 270M) ----

/** A real OpenAI-compatible server: llama-cpp-python (PyPI) serving Gemma 3 270M, set up by
 *  scripts/llama; scripts/test passes its python and model in COTLABEL_LLAMA_PYTHON/_MODEL. */
async function startLlama(port) {
  const { spawn } = await import('node:child_process');
  const proc = spawn(process.env.COTLABEL_LLAMA_PYTHON, [
    '-m', 'llama_cpp.server', '--model', process.env.COTLABEL_LLAMA_MODEL, '--model_alias', 'gemma',
    '--host', '127.0.0.1', '--port', String(port), '--n_ctx', '2048', '--seed', '7',
    // queue concurrent requests (by default a new request interrupts the one running)
    '--interrupt_requests', 'False'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log = (log + d).slice(-4000); });
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`llama_cpp.server exited: ${log}`);
    const ok = await fetch(`http://127.0.0.1:${port}/v1/models`).then((r) => r.ok).catch(() => false);
    if (ok) {
      const stop = () => new Promise((done) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once('exit', done);
        proc.kill('SIGTERM');
      });
      return { proc, stop };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  proc.kill('SIGKILL');
  throw new Error(`llama_cpp.server did not answer within 120 s: ${log}`);
}

/** Whether scripts/test set up the model server; without it the test fails under CI=true
 *  and is skipped elsewhere. */
function hasModelServer(t) {
  if (process.env.COTLABEL_LLAMA_PYTHON && process.env.COTLABEL_LLAMA_MODEL) return true;
  if (process.env.CI === 'true') throw new Error('COTLABEL_LLAMA_PYTHON / COTLABEL_LLAMA_MODEL are not set: scripts/test sets them from ./scripts/llama');
  t.skip('no model server (./scripts/llama sets one up)');
  return false;
}

async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
  });
}

/** Fills the generation panel's fields (each fires its change event). */
async function setGenerate(a, fields) {
  for (const [id, value] of Object.entries(fields)) {
    if (id === 'generate-scope') await a.testId(id).selectOption(value);
    else {
      await a.testId(id).fill(String(value));
      await a.testId(id).dispatchEvent('change'); // as leaving the field does
    }
  }
}

async function generateStatus(a, pattern, timeout = 180000) {
  await a.page.waitForFunction((p) => {
    const s = document.querySelector('[data-testid=generate-status]')?.textContent ?? '';
    const bad = document.querySelector('[data-testid=generate-problem]')?.textContent;
    if (bad) throw new Error(bad);
    return new RegExp(p).test(s);
  }, pattern.source, { timeout, polling: 100 });
  return a.text('generate-status');
}

test('generate siblings from a real model: nothing sent before a click, a confirmation for a host off this machine, streamed CoTs stored and grouped, cancel and resume after a reload, the error paths, throughput', { timeout: 900000 }, async (t) => {
  if (!hasModelServer(t)) return;
  const port = await freePort();
  const llama = await startLlama(port);
  const local = `http://127.0.0.1:${port}/v1`;
  const g = await freshPage(browser, app.url + '?cpu', OUT);
  const a = g.app;
  const sent = [];
  g.page.on('request', (r) => { if (!r.url().startsWith(app.url)) sent.push(r.url()); });
  try {
    // -- nothing is sent before a click: the panel opened, every field filled
    await a.row(0).click();
    await a.testId('generate-open').click();
    await setGenerate(a, { 'endpoint-url': local, 'endpoint-model': 'gemma', 'generate-samples': 5,
                           'generate-max-tokens': 48, 'generate-concurrency': 1, 'generate-scope': 'selected' });
    await a.shot('generate-panel');
    await a.page.waitForTimeout(500);
    assert.deepEqual(sent, [], 'no request leaves the page before "Generate" is clicked');

    // -- one CoT for the selected question (4 CoTs → 5): streamed, stored, grouped
    await a.testId('generate-button').click();
    const first = await generateStatus(a, /^Kept 1 of 1 CoTs from gemma/);
    assert.ok(sent.every((u) => u.startsWith(`http://127.0.0.1:${port}/`)), `only the loopback server: ${sent}`);
    await a.waitForCount(301, 60000); // joined once embedded with MiniLM on the device (the demo has vectors)
    await a.testId('generate-open').click(); // the panel closed: the list is in view
    await a.testId('filter').selectOption('generated');
    await a.page.waitForFunction(() => document.querySelectorAll('[data-testid=record]').length === 1);
    await a.row(0).click();
    await a.page.waitForFunction(() => /of 4 other CoTs/.test(document.querySelector('[data-testid=agreement]')?.textContent ?? ''));
    metrics.generate_first = first;
    await a.shot('generate-one');
    await a.testId('generate-open').click();

    // -- wrong model: the server lists what it serves, nothing is generated
    await setGenerate(a, { 'endpoint-model': 'nope' });
    await a.testId('generate-button').click();
    await a.testId('generate-problem').waitFor();
    const wrong = await a.text('generate-problem');
    assert.match(wrong, /has no model `nope`.*It serves: gemma/s);
    await setGenerate(a, { 'endpoint-model': 'gemma' });

    // -- a prompt longer than the model's context: llama-cpp-python answers 200 with an empty
    // stream; the CoT is given up with the reason, the run ends, nothing else is lost
    const template = await a.testId('generate-template').inputValue();
    await setGenerate(a, { 'generate-samples': 6, 'generate-template': '{question}\n' + 'Consider every word. '.repeat(600) });
    await a.testId('generate-button').click();
    metrics.generate_context_length = await generateStatus(a, /^Kept 0 of 1 CoTs.*given up: the stream was cut before its end \(twice\)/);
    await a.waitForCount(301);
    await setGenerate(a, { 'generate-template': template });

    // -- cancel stops at once; a reload keeps what was kept and offers to resume
    await setGenerate(a, { 'generate-samples': 8, 'generate-max-tokens': 160 });
    await a.testId('generate-button').click();
    // the reply streams: its text grows while the request runs
    const grow = await a.page.waitForFunction(() => {
      const t = document.querySelector('[data-testid=generate-live] pre')?.textContent ?? '';
      window.__lens = (window.__lens ?? []).concat(t.length);
      return new Set(window.__lens.filter((n) => n > 0)).size >= 3;
    }, null, { timeout: 120000, polling: 50 });
    assert.ok(grow);
    await a.page.waitForFunction(() => /[1-9] of 3 CoTs kept/.test(document.querySelector('[data-testid=generate-progress]')?.textContent ?? ''), null, { timeout: 180000 });
    const t0 = Date.now();
    await a.testId('generate-cancel').click();
    const cancelled = await generateStatus(a, /^Cancelled: kept [12] of 3/, 5000);
    metrics.generate_cancel_ms = Date.now() - t0;
    const kept = Number(cancelled.match(/kept (\d)/)[1]);
    await a.waitForCount(301 + kept, 60000);
    await g.page.reload();
    await a.waitForCount(301 + kept, 60000);
    await a.testId('filter').selectOption('generated');
    await a.row(0).click();
    await a.testId('generate-open').click();
    await a.testId('generate-resume').click();
    await generateStatus(a, new RegExp(`^Kept ${3 - kept} of ${3 - kept} CoTs`));
    await a.waitForCount(304, 60000);
    await a.shot('generate-resumed');

    // -- a host off this machine (a name the browser maps to 127.0.0.1): asked first, nothing
    // sent on "no", sent on "yes", asked once
    const remote = `http://${REMOTE_HOST}:${port}`;
    await setGenerate(a, { 'endpoint-url': `${remote}/v1`, 'generate-samples': 9, 'generate-max-tokens': 32 });
    const before = sent.length;
    await a.testId('generate-button').click();
    await a.testId('generate-confirm').waitFor();
    metrics.generate_confirm_text = await a.text('generate-confirm');
    assert.match(metrics.generate_confirm_text, new RegExp(`sent to ${REMOTE_HOST.replaceAll('.', '\\.')}`));
    await a.shot('generate-confirm-remote');
    await a.page.waitForTimeout(300);
    assert.equal(sent.length, before, 'nothing sent while the confirmation is shown');
    await a.testId('generate-confirm-no').click();
    await generateStatus(a, /^Nothing was sent/);
    assert.equal(sent.length, before, 'nothing sent after "Do not send"');
    await a.testId('generate-button').click();
    await a.testId('generate-confirm-yes').click();
    await generateStatus(a, /^Kept 1 of 1 CoTs/);
    assert.ok(sent.length > before && sent.slice(before).every((u) => u.startsWith(`${remote}/`)),
              `after "Send" the requests go to ${remote} (the loopback server): ${sent.slice(before)}`);
    await setGenerate(a, { 'generate-samples': 10 });
    await a.testId('generate-button').click();
    await generateStatus(a, /^Kept 1 of 1 CoTs/);
    assert.equal(await a.testId('generate-confirm').count(), 0, 'a confirmed host is not asked about again');

    // -- the person's model as a judge: the selected CoT, through the same confirmed endpoint;
    // P(yes) from log-probabilities, or from sampled answers where the server gives none
    const beforeJudge = sent.length;
    await a.testId('judge-button').click();
    await a.page.waitForFunction(() => /^Judged . of 1 CoTs with gemma/.test(document.querySelector('[data-testid=judge-status]')?.textContent ?? ''), null, { timeout: 180000, polling: 100 });
    metrics.judge_status = await a.text('judge-status');
    // Gemma 3 270M's chat replies open with other tokens; its plain completion after
    // "Answer:" carries yes/no among its top tokens (legacy logprob shape)
    assert.match(metrics.judge_status, /^Judged 1 of 1 CoTs with gemma \(P\(yes\): 1 from (the chat reply's|a plain completion's) log-probabilities\)/);
    assert.ok(sent.length > beforeJudge && sent.slice(beforeJudge).every((u) => [`${remote}/v1/chat/completions`, `${remote}/v1/completions`].includes(u)),
              `the judge asks the confirmed endpoint only: ${sent.slice(beforeJudge)}`);
    await a.shot('judge');
    // the score is kept in this browser: after a reload the page has it, nothing is asked again
    const shown = Number((await a.text('record-count')).match(/^(\d+)/)[1]);
    const beforeReload = sent.length;
    await g.page.reload();
    await a.waitForCount(shown, 60000);
    await a.row(0).click();
    await a.testId('generate-open').click();
    await a.page.waitForFunction(() => /^1 CoT judged by your model, kept in this browser/.test(document.querySelector('[data-testid=judge-status]')?.textContent ?? ''), null, { timeout: 30000 });
    metrics.judge_kept = await a.text('judge-status');
    assert.equal(sent.length, beforeReload, 'a reload sends nothing to the model');

    // -- CORS refused: a real server that does not allow this page's origin
    const { spawn } = await import('node:child_process');
    const plainPort = await freePort();
    const plain = spawn('python3', ['-m', 'http.server', String(plainPort), '--bind', '127.0.0.1', '--directory', tmpdir()], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 40 && !(await fetch(`http://127.0.0.1:${plainPort}/`).then(() => true).catch(() => false)); i++) {
        await new Promise((r) => setTimeout(r, 250));
      }
      await setGenerate(a, { 'endpoint-url': `http://127.0.0.1:${plainPort}/v1` });
      await a.testId('endpoint-test').click();
      await a.page.waitForFunction(() => /does not allow this page/.test(document.querySelector('[data-testid=endpoint-models]')?.textContent ?? ''));
      metrics.generate_cors_message = await a.text('endpoint-models');
    } finally {
      plain.kill();
    }

    // -- the server stopped: said, nothing lost
    await setGenerate(a, { 'endpoint-url': local, 'generate-samples': 11 });
    await llama.stop();
    await a.testId('generate-button').click();
    await a.testId('generate-problem').waitFor();
    assert.match(await a.text('generate-problem'), /No reply from .*is the server running/);
    await a.testId('filter').selectOption('all');
    await a.waitForCount(306);

    // -- hide, then delete generated CoTs
    await a.testId('filter').selectOption('generated');
    await a.page.waitForFunction(() => {
      const ids = [...document.querySelectorAll('[data-testid=record]')].map((r) => r.dataset.id);
      return ids.length === 6 && ids.every((id) => id.includes('-gen'));
    });
    await a.testId('filter').selectOption('own');
    await a.page.waitForFunction(() => {
      const ids = [...document.querySelectorAll('[data-testid=record]')].map((r) => r.dataset.id);
      return ids.length > 0 && ids.every((id) => !id.includes('-gen'));
    });
    await a.testId('generate-delete').click();
    await a.testId('generate-delete').click();
    await a.waitForCount(300, 30000);
    assert.deepEqual(g.errors.filter((e) => !/Failed to load resource|net::ERR|CORS|Access-Control/.test(e)), []);
  } finally {
    await llama.stop().catch(() => {});
    await g.context.close();
  }
});

test('generation throughput against the real server: one request at a time and four at a time', { timeout: 600000 }, async (t) => {
  if (!hasModelServer(t)) return;
  const port = await freePort();
  const llama = await startLlama(port);
  const g = await freshPage(browser, app.url, OUT);
  const a = g.app;
  try {
    const demo = JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8'));
    const one = demo.filter((r, i) => i % 4 === 0).slice(0, 8)
      .map((r) => JSON.stringify({ id: r.id, question_id: r.question_id, question: r.question, cot: r.cot }));
    const dir = mkdtempSync(join(tmpdir(), 'cotlabel-gen-'));
    writeFileSync(join(dir, 'eight.jsonl'), one.join('\n') + '\n');
    await a.importFiles([join(dir, 'eight.jsonl')]);
    await a.waitForCount(8);
    await a.testId('generate-open').click();
    await setGenerate(a, { 'endpoint-url': `http://127.0.0.1:${port}/v1`, 'endpoint-model': 'gemma',
                           'generate-samples': 2, 'generate-max-tokens': 64, 'generate-scope': 'all', 'generate-temperature': 0.8 });
    const rates = {};
    for (const c of [1, 4]) {
      await setGenerate(a, { 'generate-concurrency': c });
      await a.testId('generate-button').click();
      const s = await generateStatus(a, /^Kept \d+ of 8 CoTs/);
      const [, kept, secs, tps] = s.match(/^Kept (\d+) .* in (\d+) s \(([\d.]+) tokens\/s\)/);
      rates[c] = { status: s, seconds: Number(secs), tokens_per_s: Number(tps) };
      await a.waitForCount(8 + Number(kept), 30000);
      await a.testId('generate-delete').click();
      await a.testId('generate-delete').click();
      await a.waitForCount(8, 30000);
    }
    metrics.generate_throughput = rates;
    console.log('generation throughput:', JSON.stringify(rates));
    assert.ok(rates[1].tokens_per_s > 0 && rates[4].tokens_per_s > 0);
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await llama.stop();
    await g.context.close();
  }
});
