// End-to-end: 5k to 100k CoTs: the worker under load, cancel, the timing page.
// Registered in order by ../app.test.mjs over the one shared page (../session.mjs).
/* eslint-disable no-unused-vars */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startServer } from '../../../scripts/serve-dist.mjs';
import { CotlabelPage, freshPage, npy, readNpy } from '../page.mjs';
import {
  OUT, CLI, REMOTE_HOST, LAUNCH, consoleErrors, metrics, server, browser, context, app,
  cliLabel, untimed, FIX, PY, pyfixtures, fixture, parquetRows, downloadTraining,
} from '../session.mjs';

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
  // cleaning ran by itself once the worker held the records, and again over the graph's
  // neighbours once propagation built it (embedding duplicates): its time in the worker
  await page.locator('[data-testid=clean-counts][data-neighbours=true]').waitFor({ timeout: 600000 });
  m.clean_worker_ms = Number(await page.getByTestId('clean-counts').getAttribute('data-ms'));
  m.clean_duplicates = Number(await page.locator('[data-testid=clean-count][data-kind=duplicates]').getAttribute('data-n'));
  m.clean_broken = Number(await page.locator('[data-testid=clean-count][data-kind=broken]').getAttribute('data-n'));
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
      `cleaning ${m.clean_worker_ms} ms in the worker (${m.clean_duplicates} duplicates, ${m.clean_broken} broken), ` +
      `longest main-thread task ${m.longest_main_thread_task_ms.toFixed(0)} ms (${m.tasks_over_50ms} over 50 ms; steps over 40 ms: ${m.slow_steps.join(', ') || 'none'}), renderer ${m.renderer_mb} MB`);
  }
});

// Fine-tuning files written by pyarrow / datasets (tests/py/make_fixtures.py, run by
// scripts/test before these tests) and read back by pyarrow.
