// End-to-end: a team without a server. Three people label overlapping parts of the demo in
// their own browser profiles and export their label files; a fourth drops the three files,
// sees their agreement (equal to `cotlabel agreement`), settles the conflicts by keyboard,
// keeps everything over a reload and exports a DPO set from the team's labels only.
// Registered in order by ../app.test.mjs; it uses browser contexts of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { CotlabelPage, freshPage } from '../page.mjs';
import { OUT, CLI, REMOTE_HOST, browser, app, downloadTraining } from '../session.mjs';

/** Types `name` in the annotator field. */
async function nameAs(p, name) {
  await p.testId('annotator').fill(name);
  await p.testId('annotator').press('Enter');
  await p.testId('annotator').blur();
}

/** The first record the list shows, the list scrolled to its top. */
function top(p) {
  return {
    click: async () => {
      await p.page.evaluate(() => { document.querySelector('.list').scrollTop = 0; });
      await p.page.waitForTimeout(100);
      const first = p.page.locator('[data-testid=record][style*="top: 0px"]');
      await (await first.count() ? first : p.row(0)).click();
    },
    id: async () => {
      await p.page.evaluate(() => { document.querySelector('.list').scrollTop = 0; });
      await p.page.waitForTimeout(100);
      const first = p.page.locator('[data-testid=record][style*="top: 0px"]');
      return (await first.count() ? first : p.row(0)).getAttribute('data-id');
    },
  };
}

/** Labels every row the list shows (`n` of them) by keyboard, from the first down with `j`,
 * as `verdict(id)` says. */
async function labelAll(p, n, verdict) {
  await top(p).click();
  for (let i = 0; i < n; i++) {
    const id = await p.page.locator('[data-testid=record][aria-selected=true]').getAttribute('data-id');
    await p.page.keyboard.press(verdict(id) === 'good' ? '1' : '2');
    await p.page.keyboard.press('j');
  }
}

/** A fixed verdict per CoT id (a hash of it), and one annotator's own mistakes. */
const hash = (id) => [...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
const truth = (id) => (hash(id) % 3 === 0 ? 'bad' : 'good');
const slips = { ana: (id) => hash(id) % 5 === 1, bo: (id) => hash(id) % 7 === 2, chen: () => false };
const says = (who) => (id) => (slips[who](id) ? (truth(id) === 'good' ? 'bad' : 'good') : truth(id));

async function exportLabels(p, who, { saved = true } = {}) {
  if (saved) await p.waitSaved();
  const [download] = await Promise.all([
    p.page.waitForEvent('download'),
    p.testId('export-button').click(),
  ]);
  const path = `${OUT}/team-${who}.json`;
  await download.saveAs(path);
  return path;
}

test('a lead splits the demo into 3 shares with 20 % overlap; three annotators label their shares in their own browsers; the lead merges their files, sees their agreement as the CLI computes it, settles the conflicts by keyboard, keeps them over a reload and exports DPO pairs from the team\'s labels only', async () => {
  // the lead splits the work
  const lead = await freshPage(browser, app.url, OUT);
  const { page } = lead;
  await lead.app.testId('split-work').click();
  await lead.app.testId('split-shares').fill('3');
  await lead.app.testId('split-shares').press('Tab');
  await lead.app.testId('split-overlap').fill('20');
  await lead.app.testId('split-overlap').press('Tab');
  await lead.app.testId('split-seed').fill('42');
  await lead.app.testId('split-seed').press('Tab');
  const shareFiles = [];
  for (const n of [1, 2, 3]) {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`[data-testid=share-download][data-share="${n}"]`).click(),
    ]);
    const path = `${OUT}/team-${download.suggestedFilename()}`;
    await download.saveAs(path);
    shareFiles.push(path);
  }
  await lead.app.testId('split-work').click(); // closes the form
  await lead.app.shot('team-split');
  const shares = shareFiles.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  assert.match(shareFiles[1], /share-2-of-3\.json$/);
  // whole questions (the demo's ids are <question>-<model>), 15 of 75 in two shares
  const question = (id) => id.split('-').slice(0, 2).join('-');
  const places = {};
  for (const s of shares) for (const q of new Set(s.ids.map(question))) places[q] = (places[q] ?? 0) + 1;
  assert.equal(Object.keys(places).length, 75);
  assert.equal(Object.values(places).filter((c) => c === 2).length, 15);
  for (const s of shares) assert.equal(s.ids.length % 4, 0, 'whole questions of 4 CoTs');

  // three annotators, each in a browser profile of their own, label their share
  const who = ['ana', 'bo', 'chen'];
  const files = [];
  for (const [k, name] of who.entries()) {
    const { context, page: own, app: p, errors } = await freshPage(browser, app.url, OUT);
    await p.importFiles([shareFiles[k]]);
    const progress = p.testId('share-progress');
    await progress.waitFor({ timeout: 20000 });
    assert.equal(Number(await progress.getAttribute('data-total')), shares[k].ids.length);
    assert.equal(await own.getByTestId('record').first().getAttribute('data-id'), shares[k].ids[0]);
    await nameAs(p, name);
    await labelAll(p, shares[k].ids.length, says(name));
    await own.waitForFunction((n) => document.querySelector('[data-testid=share-progress]')?.dataset.done === String(n),
      shares[k].ids.length, { timeout: 10000 });
    if (k === 0) await p.shot('team-share');
    files.push(await exportLabels(p, name));
    const file = JSON.parse(readFileSync(files.at(-1), 'utf8'));
    const mine = file.labels.filter((l) => l.provenance === 'human');
    assert.deepEqual(mine.map((l) => l.id).sort(), [...shares[k].ids].sort(), `${name} labelled their share`);
    assert.ok(mine.every((l) => l.annotator === name && l.label === says(name)(l.id)), `${name}'s labels`);
    assert.deepEqual(errors, []);
    await context.close();
  }

  // the lead merges the three files
  await lead.app.importFiles(files);
  await page.waitForFunction(() => /Merged 3 label files from 3 annotators/.test(
    document.querySelector('[data-testid=notice]')?.textContent ?? ''), null, { timeout: 20000 });
  const panel = lead.app.testId('agreement');
  await panel.waitFor();
  const cli = JSON.parse(execFileSync(CLI, ['agreement', ...files, '--json', '-q']).toString());
  assert.deepEqual(cli.annotators, who);
  assert.equal(Number(await panel.getAttribute('data-alpha')), cli.krippendorff_alpha);
  const pairs = await page.$$eval('[data-testid=agreement-pair]', (rows) => rows.map((r) => ({
    a: r.dataset.a, b: r.dataset.b, n: Number(r.dataset.n), kappa: r.dataset.kappa === '' ? null : Number(r.dataset.kappa),
  })));
  assert.deepEqual(pairs, cli.pairs.map((p) => ({ a: p.a, b: p.b, n: p.n, kappa: p.cohen_kappa })));
  for (const p of pairs) {
    const [a, b] = [shares[who.indexOf(p.a)].ids, new Set(shares[who.indexOf(p.b)].ids)];
    assert.equal(p.n, a.filter((id) => b.has(id)).length, `${p.a}–${p.b} share their overlap`);
  }
  await lead.app.shot('team-agreement');

  // the conflicts: CoTs in two shares whose annotators disagree
  const conflicts = [];
  for (const id of new Set(shares.flatMap((s) => s.ids))) {
    const by = who.filter((_, k) => shares[k].ids.includes(id)).map((w) => says(w)(id));
    if (by.length === 2 && by[0] !== by[1]) conflicts.push(id);
  }
  assert.ok(conflicts.length >= 2, `planted conflicts: ${conflicts.length}`);
  assert.match(await lead.app.text('show-conflicts'), new RegExp(`^${conflicts.length} conflicts`));
  await lead.app.testId('show-conflicts').click();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=record]').length === n,
    conflicts.length, { timeout: 5000 });
  // a decision needs a name: without one the page asks for it and labels nothing
  await top(lead.app).click();
  await page.keyboard.press('1');
  await page.waitForFunction(() => /Annotator field/.test(document.querySelector('[data-testid=notice]')?.textContent ?? ''));
  assert.equal(await page.getByTestId('record').count(), conflicts.length);
  await nameAs(lead.app, 'dana');
  // settle each by keyboard as the truth says; the settled row leaves the filter
  for (let left = conflicts.length; left > 0; left--) {
    const id = await top(lead.app).id();
    await top(lead.app).click();
    await lead.page.locator('[data-testid=votes]').waitFor();
    await page.keyboard.press(truth(id) === 'good' ? '1' : '2');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=record]').length === n,
      left - 1, { timeout: 5000 });
  }
  await lead.app.waitSaved();
  assert.match(await lead.app.text('show-conflicts'), /^0 conflicts/);

  // a reload keeps the annotators, their votes and the decisions
  await page.reload();
  await lead.app.waitForCount(300);
  await panel.waitFor();
  assert.equal(Number(await panel.getAttribute('data-alpha')), cli.krippendorff_alpha);
  assert.equal(await lead.app.testId('annotator').inputValue(), 'dana');
  await page.getByTestId('filter').selectOption('all');
  const merged = JSON.parse(readFileSync(await exportLabels(lead.app, 'dana-merged', { saved: false }), 'utf8'));
  const byId = Object.fromEntries(merged.labels.map((l) => [l.id, l]));
  for (const id of conflicts) {
    assert.equal(byId[id].provenance, 'adjudicated');
    assert.equal(byId[id].annotator, 'dana');
    assert.equal(byId[id].label, truth(id));
    assert.equal(byId[id].votes.length, 2);
  }
  assert.equal(merged.conflicts, undefined, 'every conflict settled');
  const team = merged.labels.filter((l) => l.provenance === 'human' || l.provenance === 'adjudicated');
  assert.equal(team.length, 300);
  assert.ok(team.every((l) => l.votes?.length >= 1), 'every team label keeps its votes');

  // DPO from the team's labels only: every pair's chosen CoT good, rejected bad by them
  await page.getByTestId('training-export-button').click();
  await page.getByTestId('training-export').waitFor();
  const dpo = await downloadTraining(page, { format: 'dpo', filetype: 'jsonl', include: 'human', name: 'team', keep: true });
  await page.keyboard.press('Escape');
  assert.ok(dpo.length > 0);
  for (const row of dpo) {
    assert.equal(byId[row.chosen_id]?.label, 'good', row.chosen_id);
    assert.equal(byId[row.rejected_id]?.label, 'bad', row.rejected_id);
  }
  console.log(`team: 3 shares (${shares.map((s) => s.ids.length).join(', ')} CoTs), κ ${pairs.map((p) => `${p.a}–${p.b} ${p.kappa} (n ${p.n})`).join(', ')}, α ${cli.krippendorff_alpha}; ${conflicts.length} conflicts settled; ${dpo.length} DPO pairs`);
  await lead.app.shot('team-settled');
  assert.deepEqual(lead.errors, []);
  await lead.context.close();
});

test('?data= opens a data set published next to the page (with &share= its share), and one on another site only after the person confirms the host', async () => {
  // the team's files, published beside the page on the same static site
  const dir = 'dist/e2e-linked';
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const lines = [];
  for (let q = 0; q < 6; q++) {
    for (let c = 0; c < 2; c++) {
      lines.push(JSON.stringify({ id: `t${q}-${c}`, question_id: `t${q}`, question: `What is ${q} + ${c + 2}?`,
        cot: `${q} + ${c + 2} = ${q + c + 2}. The answer is ${q + c + 2}.` }));
    }
  }
  writeFileSync(`${dir}/team cots.jsonl`, lines.join('\n') + '\n');
  const remote = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const body = path === '/team cots.jsonl' ? readFileSync(`${dir}/team cots.jsonl`) : null;
    res.writeHead(body ? 200 : 404, { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream' });
    res.end(body ?? 'not found');
  });
  await new Promise((ok) => remote.listen(0, '127.0.0.1', ok));
  try {
    const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const p = new CotlabelPage(page, `${app.url}?data=e2e-linked/team%20cots.jsonl`, OUT);
    await p.open();
    await p.waitForCount(12);
    assert.equal(await p.testId('data-confirm').count(), 0, 'the page\'s own site: no question');
    assert.match(await p.text('record-count'), /^12 records/);
    // its share, made here and published beside it, opens with &share=
    await p.testId('split-work').click();
    await p.testId('split-shares').fill('2');
    await p.testId('split-shares').press('Tab');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid=share-download][data-share="2"]').click(),
    ]);
    await download.saveAs(`${dir}/${download.suggestedFilename()}`);
    const share = JSON.parse(readFileSync(`${dir}/${download.suggestedFilename()}`, 'utf8'));
    await page.goto(`${app.url}?data=e2e-linked/team%20cots.jsonl&share=e2e-linked/${download.suggestedFilename()}`);
    await p.testId('share-progress').waitFor({ timeout: 20000 });
    assert.equal(Number(await p.testId('share-progress').getAttribute('data-total')), share.ids.length);
    assert.equal(await page.getByTestId('record').count(), share.ids.length);
    await p.shot('linked-share');

    // on another site: asked first; "no" loads nothing, "yes" loads it
    const url = `http://${REMOTE_HOST}:${remote.address().port}/team%20cots.jsonl`;
    const fresh = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const other = await fresh.newPage();
    other.on('pageerror', (e) => errors.push(e.message));
    const o = new CotlabelPage(other, `${app.url}?data=${encodeURIComponent(url)}`, OUT);
    await o.open();
    const ask = o.testId('data-confirm');
    await ask.waitFor({ timeout: 20000 });
    assert.match(await ask.textContent(), new RegExp(`team cots\\.jsonl from ${REMOTE_HOST}:${remote.address().port}`));
    await o.waitForCount(300); // meanwhile the demo, as on any first visit
    await o.shot('linked-confirm');
    await o.testId('data-confirm-no').click();
    assert.match(await o.text('notice'), /Nothing was loaded from/);
    await other.reload();
    await ask.waitFor({ timeout: 20000 });
    await o.testId('data-confirm-yes').click();
    await o.waitForCount(12);
    assert.deepEqual(errors, []);
    await fresh.close();
    await ctx.close();
  } finally {
    remote.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
