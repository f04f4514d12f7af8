// End-to-end: the first open, the map, labelling by keyboard, overlays, accessibility, a reload.
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
  assert.match(await app.text('answer-agreement'), /^\d of 3 other CoTs agree/);
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
