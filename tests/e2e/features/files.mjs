// End-to-end: the label file out and in, refused inputs, own records and embeddings.
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
  assert.match(await app.text('answer-agreement'), /^2 of 2 other CoTs agree; most common answer 56 \(3 of 3\)/);
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
