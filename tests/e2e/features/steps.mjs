// End-to-end: step labels: suggested, marked, spread, kept, exported.
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
  const rows = await downloadTraining(page, { format: 'stepwise', filetype: 'jsonl', include: 'all', min: 80, name: 'steps', keep: true });
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
  const human = await downloadTraining(page, { format: 'stepwise', filetype: 'parquet', include: 'human', name: 'steps', keep: true });
  assert.deepEqual(human.map((r) => r.id).sort(), ['gsm8k-0032-6b_finetuning', 'gsm8k-0091-175b_verification']);
  const pb = await downloadTraining(page, { format: 'processbench', filetype: 'parquet', include: 'all', min: 80, name: 'steps', keep: true });
  const pbl = Object.fromEntries(pb.map((r) => [r.id, r.label]));
  assert.deepEqual([pbl['gsm8k-0032-6b_finetuning'], pbl['gsm8k-0032-175b_finetuning'], pbl['gsm8k-0091-175b_verification']], [0, 0, -1]);
  assert.equal(pb.length, rows.length);
  console.log(`step labels: 2 marks by keyboard → 1 spread (90 %), kept over a reload; stepwise ${rows.length} rows (all), ${human.length} (human); ProcessBench ${pb.length}`);
  assert.deepEqual(errors, []);
  await ctx.close();
});
