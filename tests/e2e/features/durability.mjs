// End-to-end: labels kept across tabs, a closed browser and a refused write.
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
