// End-to-end: fine-tuning files in, training sets out, read by pyarrow.
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
  const sft = await downloadTraining(page, { format: 'sft-messages', filetype: 'jsonl', include: 'human', name: 'e2e', keep: true });
  assert.equal(sft.length, labels.filter((l) => l.provenance === 'human' && l.label === 'good').length);
  assert.equal(sft.length, 6);
  assert.deepEqual(sft[0].messages.map((m) => m.role), ['system', 'user', 'assistant']);
  assert.equal(sft[0].provenance, 'human');
  // 4. SFT with machine labels at ≥ 60 %, Parquet, read by pyarrow.
  const sftAll = await downloadTraining(page, { format: 'sft-messages', filetype: 'parquet', include: 'all', min: 60, name: 'e2e', keep: true });
  assert.equal(sftAll.length, labels.filter((l) => counts(l, 0.6) && l.label === 'good').length);
  assert.ok(sftAll.length > 6, `machine labels add rows: ${sftAll.length}`);
  // 5. DPO pairs, Parquet: per question min(4, sound × flawed) among the labels that count.
  const records = readFileSync(`${FIX}/datasets-chat.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const dpo = await downloadTraining(page, { format: 'dpo', filetype: 'parquet', include: 'all', min: 60, name: 'e2e', keep: true });
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
    const rows = await downloadTraining(page, { format: 'sft-prompt-completion', filetype, include: 'human', name: 'big', keep: true });
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
