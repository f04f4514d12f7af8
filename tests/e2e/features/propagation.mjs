// End-to-end: label next, propagation, the CLI equal to the page, the MMLU-Pro demo.
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
