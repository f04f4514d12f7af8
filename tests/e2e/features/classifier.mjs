// End-to-end: lone CoTs, the binary-choice classifier (WebGPU, CPU), fine-tuning.
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
