// End-to-end: clean the training data. A data set with planted duplicates, a cut-off trace
// and questions of an evaluation file: the worker finds them (the same as `cotlabel clean`),
// the filters show them, a duplicate cluster is laid side by side, and the SFT export leaves
// them out and says so (or keeps them with a flags column, when asked).
// Registered in order by ../app.test.mjs; it uses a browser context of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { freshPage } from '../page.mjs';
import { OUT, CLI, browser, app, downloadTraining } from '../session.mjs';

const DIR = `${OUT}/clean`;

/** The records: 40 demo CoTs (10 questions), two planted duplicates (one a copy with other
 * case and spacing, one with a word changed), a trace cut mid-sentence; the evaluation file:
 * two of the demo's questions, reworded in case only. */
function files() {
  mkdirSync(DIR, { recursive: true });
  const demo = JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8')).slice(0, 40);
  const rows = demo.map(({ id, question_id, question, cot, answer }) => ({ id, question_id, question, cot, answer }));
  const a = rows[0];
  const b = rows[5];
  rows.push({ ...a, id: 'planted-copy', cot: `  ${a.cot.toUpperCase()}` });
  rows.push({ ...b, id: 'planted-edit', cot: b.cot.replace(/\bthe\b/, 'that') });
  rows.push({
    id: 'cut-off', question_id: 'walk', question: 'How long does a 12 mile walk take at 3 miles per hour?',
    cot: 'The walk is 12 miles and we cover 3 miles every hour, so the time it takes is 12 /',
  });
  const train = `${DIR}/train.jsonl`;
  writeFileSync(train, rows.map((r) => JSON.stringify(r)).join('\n'));
  const qs = [...new Set(rows.slice(0, 40).map((r) => r.question_id))];
  const evalRows = [qs[3], qs[7]].map((q, k) => ({
    id: `bench-${k}`, question: rows.find((r) => r.question_id === q).question.toUpperCase(), cot: '', answer: '0',
  }));
  const evalFile = `${DIR}/benchmark-test.jsonl`;
  writeFileSync(evalFile, evalRows.map((r) => JSON.stringify(r)).join('\n'));
  return { rows, train, evalFile, evalQuestions: [qs[3], qs[7]] };
}

/** The ids the list shows under `filter`. */
async function listed(page, filter) {
  await page.getByTestId('filter').selectOption(filter);
  await page.waitForTimeout(200);
  return page.$$eval('[data-testid=record]', (rows) => rows.map((r) => r.dataset.id));
}

const count = (page, kind) => page.getByTestId('clean-count').and(page.locator(`[data-kind=${kind}]`)).getAttribute('data-n').then(Number);

test('cleaning: planted duplicates, a cut-off trace and an evaluation file are found, filtered, shown and left out of the SFT export', async () => {
  const { context, page, app: p, errors } = await freshPage(browser, app.url, OUT);
  const { rows, train, evalFile, evalQuestions } = files();
  // the CLI on the same files says what the page must find
  const cli = JSON.parse(execFileSync(CLI, ['clean', train, '--eval', evalFile, '--json', '-q'], { encoding: 'utf8' }));
  const cliDup = cli.duplicates.flat();
  assert.ok(cli.duplicates.some((c) => c.includes('planted-copy')) && cli.duplicates.some((c) => c.includes('planted-edit')));

  // 1. Loading cleans by itself (no evaluation set yet): duplicates and the broken trace.
  await p.importFiles([{ name: 'train.jsonl', mimeType: 'application/jsonl', buffer: readFileSync(train) }]);
  await p.waitForCount(rows.length);
  await page.getByTestId('clean-counts').waitFor({ timeout: 30000 });
  assert.equal(await count(page, 'duplicates'), cliDup.length);
  assert.equal(await count(page, 'broken'), cli.broken.length);
  assert.equal(await count(page, 'contaminated'), 0);
  assert.ok(cli.broken.some((b) => b.id === 'cut-off' && b.reasons.includes('mid_sentence')));

  // 2. The evaluation file, given in the dialog (kept in this tab only), and a run.
  await page.getByTestId('clean-button').click();
  await page.getByTestId('clean-panel').waitFor();
  await page.getByTestId('clean-eval').setInputFiles(evalFile);
  assert.match(await p.text('clean-eval-files'), /benchmark-test\.jsonl/);
  await page.getByTestId('clean-run').click();
  const flagged = rows.filter((r) => evalQuestions.includes(r.question_id)).length;
  await page.waitForFunction((n) => document.querySelector('[data-testid=clean-count][data-kind=contaminated]')?.dataset.n === String(n), flagged, { timeout: 30000 });
  assert.equal(flagged, cli.contaminated.length);
  assert.match(await p.text('clean-summary'), new RegExp(`${flagged} CoTs whose question is in benchmark-test.jsonl \\(2 questions\\)`));
  await p.shot('30-clean-dialog');
  await page.keyboard.press('Escape');

  // 3. The filters show exactly what was found.
  assert.deepEqual((await listed(page, 'duplicates')).sort(), [...cliDup].sort());
  assert.deepEqual((await listed(page, 'broken')).sort(), cli.broken.map((b) => b.id).sort());
  assert.deepEqual((await listed(page, 'contaminated')).sort(), cli.contaminated.map((c) => c.id).sort());

  // 4. A duplicate shown: why, and its cluster side by side, the kept one marked.
  await listed(page, 'duplicates');
  await page.locator('[data-testid=record][data-id=planted-copy]').click();
  await page.getByTestId('duplicate-cluster').waitFor();
  const members = await page.$$eval('[data-testid=duplicate-member]', (m) => m.map((x) => [x.dataset.id, x.dataset.kept]));
  assert.deepEqual(members, [[rows[0].id, 'true'], ['planted-copy', 'false']]);
  assert.match(await p.text('clean-flags'), new RegExp(`duplicate of ${rows[0].id}`));
  await p.shot('31-clean-duplicates');
  await page.getByTestId('filter').selectOption('all');

  // 5. Every CoT labelled sound by the person: the SFT export leaves the flagged out.
  const labels = { format: 'cotlabel.labels', version: 1, labels: rows.map((r) => ({ id: r.id, label: 'good', provenance: 'human' })) };
  await p.importFiles([{ name: 'all-sound.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(labels)) }]);
  await page.waitForFunction((n) => document.querySelector('[data-testid=count-good]')?.textContent === `${n} good`, rows.length, { timeout: 15000 });
  await page.getByTestId('training-export-button').click();
  await page.getByTestId('training-export').waitFor();
  const out = new Set([...cli.duplicates.flatMap((c) => c.slice(1)), ...cli.contaminated.map((c) => c.id), ...cli.broken.map((b) => b.id)]);
  const sft = await downloadTraining(page, { format: 'sft-prompt-completion', filetype: 'jsonl', include: 'human', name: 'clean' });
  assert.equal(sft.length, rows.length - out.size);
  assert.ok(sft.every((r) => !out.has(r.id)));
  assert.match(await p.text('training-summary'), new RegExp(`Left out: ${out.size} labelled CoTs flagged by cleaning \\(2 duplicates, ${flagged} in the evaluation set, ${cli.broken.length} broken\\)`));
  // kept when asked, each saying why
  await page.getByTestId('training-keep-flagged').check();
  const kept = await downloadTraining(page, { format: 'sft-prompt-completion', filetype: 'jsonl', include: 'human', name: 'clean-kept' });
  assert.equal(kept.length, rows.length);
  assert.equal(kept.find((r) => r.id === 'cut-off').flags, 'broken: mid_sentence');
  assert.match(kept.find((r) => r.id === 'planted-copy').flags, new RegExp(`^duplicate of ${rows[0].id}`));
  await p.shot('32-clean-export');
  assert.deepEqual(errors, []);
  await context.close();
});
