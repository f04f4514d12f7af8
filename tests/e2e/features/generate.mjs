// End-to-end: siblings and judging from a real model server (llama-cpp-python).
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

async function startLlama(port) {
  const { spawn } = await import('node:child_process');
  const proc = spawn(process.env.COTLABEL_LLAMA_PYTHON, [
    '-m', 'llama_cpp.server', '--model', process.env.COTLABEL_LLAMA_MODEL, '--model_alias', 'gemma',
    '--host', '127.0.0.1', '--port', String(port), '--n_ctx', '2048', '--seed', '7',
    // queue concurrent requests (by default a new request interrupts the one running)
    '--interrupt_requests', 'False'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log = (log + d).slice(-4000); });
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`llama_cpp.server exited: ${log}`);
    const ok = await fetch(`http://127.0.0.1:${port}/v1/models`).then((r) => r.ok).catch(() => false);
    if (ok) {
      const stop = () => new Promise((done) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once('exit', done);
        proc.kill('SIGTERM');
      });
      return { proc, stop };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  proc.kill('SIGKILL');
  throw new Error(`llama_cpp.server did not answer within 120 s: ${log}`);
}

/** Whether scripts/test set up the model server; without it the test fails under CI=true
 *  and is skipped elsewhere. */
function hasModelServer(t) {
  if (process.env.COTLABEL_LLAMA_PYTHON && process.env.COTLABEL_LLAMA_MODEL) return true;
  if (process.env.CI === 'true') throw new Error('COTLABEL_LLAMA_PYTHON / COTLABEL_LLAMA_MODEL are not set: scripts/test sets them from ./scripts/llama');
  t.skip('no model server (./scripts/llama sets one up)');
  return false;
}

async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
  });
}

/** Fills the generation panel's fields (each fires its change event). */
async function setGenerate(a, fields) {
  for (const [id, value] of Object.entries(fields)) {
    if (id === 'generate-scope') await a.testId(id).selectOption(value);
    else {
      await a.testId(id).fill(String(value));
      await a.testId(id).dispatchEvent('change'); // as leaving the field does
    }
  }
}

async function generateStatus(a, pattern, timeout = 180000) {
  await a.page.waitForFunction((p) => {
    const s = document.querySelector('[data-testid=generate-status]')?.textContent ?? '';
    const bad = document.querySelector('[data-testid=generate-problem]')?.textContent;
    if (bad) throw new Error(bad);
    return new RegExp(p).test(s);
  }, pattern.source, { timeout, polling: 100 });
  return a.text('generate-status');
}

test('generate siblings from a real model: nothing sent before a click, a confirmation for a host off this machine, streamed CoTs stored and grouped, cancel and resume after a reload, the error paths, throughput', { timeout: 900000 }, async (t) => {
  if (!hasModelServer(t)) return;
  const port = await freePort();
  const llama = await startLlama(port);
  const local = `http://127.0.0.1:${port}/v1`;
  const g = await freshPage(browser, app.url + '?cpu', OUT);
  const a = g.app;
  const sent = [];
  g.page.on('request', (r) => { if (!r.url().startsWith(app.url)) sent.push(r.url()); });
  try {
    // -- nothing is sent before a click: the panel opened, every field filled
    await a.row(0).click();
    await a.testId('generate-open').click();
    await setGenerate(a, { 'endpoint-url': local, 'endpoint-model': 'gemma', 'generate-samples': 5,
                           'generate-max-tokens': 48, 'generate-concurrency': 1, 'generate-scope': 'selected' });
    await a.shot('generate-panel');
    await a.page.waitForTimeout(500);
    assert.deepEqual(sent, [], 'no request leaves the page before "Generate" is clicked');

    // -- one CoT for the selected question (4 CoTs → 5): streamed, stored, grouped
    await a.testId('generate-button').click();
    const first = await generateStatus(a, /^Kept 1 of 1 CoTs from gemma/);
    assert.ok(sent.every((u) => u.startsWith(`http://127.0.0.1:${port}/`)), `only the loopback server: ${sent}`);
    await a.waitForCount(301, 60000); // joined once embedded with MiniLM on the device (the demo has vectors)
    await a.testId('generate-open').click(); // the panel closed: the list is in view
    await a.testId('filter').selectOption('generated');
    await a.page.waitForFunction(() => document.querySelectorAll('[data-testid=record]').length === 1);
    await a.row(0).click();
    await a.page.waitForFunction(() => /of 4 other CoTs/.test(document.querySelector('[data-testid=answer-agreement]')?.textContent ?? ''));
    metrics.generate_first = first;
    await a.shot('generate-one');
    await a.testId('generate-open').click();

    // -- wrong model: the server lists what it serves, nothing is generated
    await setGenerate(a, { 'endpoint-model': 'nope' });
    await a.testId('generate-button').click();
    await a.testId('generate-problem').waitFor();
    const wrong = await a.text('generate-problem');
    assert.match(wrong, /has no model `nope`.*It serves: gemma/s);
    await setGenerate(a, { 'endpoint-model': 'gemma' });

    // -- a prompt longer than the model's context: llama-cpp-python answers 200 with an empty
    // stream; the CoT is given up with the reason, the run ends, nothing else is lost
    const template = await a.testId('generate-template').inputValue();
    await setGenerate(a, { 'generate-samples': 6, 'generate-template': '{question}\n' + 'Consider every word. '.repeat(600) });
    await a.testId('generate-button').click();
    metrics.generate_context_length = await generateStatus(a, /^Kept 0 of 1 CoTs.*given up: the stream was cut before its end \(twice\)/);
    await a.waitForCount(301);
    await setGenerate(a, { 'generate-template': template });

    // -- cancel stops at once; a reload keeps what was kept and offers to resume
    await setGenerate(a, { 'generate-samples': 8, 'generate-max-tokens': 160 });
    await a.testId('generate-button').click();
    // the reply streams: its text grows while the request runs
    const grow = await a.page.waitForFunction(() => {
      const t = document.querySelector('[data-testid=generate-live] pre')?.textContent ?? '';
      window.__lens = (window.__lens ?? []).concat(t.length);
      return new Set(window.__lens.filter((n) => n > 0)).size >= 3;
    }, null, { timeout: 120000, polling: 50 });
    assert.ok(grow);
    await a.page.waitForFunction(() => /[1-9] of 3 CoTs kept/.test(document.querySelector('[data-testid=generate-progress]')?.textContent ?? ''), null, { timeout: 180000 });
    const t0 = Date.now();
    await a.testId('generate-cancel').click();
    const cancelled = await generateStatus(a, /^Cancelled: kept [12] of 3/, 5000);
    metrics.generate_cancel_ms = Date.now() - t0;
    const kept = Number(cancelled.match(/kept (\d)/)[1]);
    await a.waitForCount(301 + kept, 60000);
    await g.page.reload();
    await a.waitForCount(301 + kept, 60000);
    await a.testId('filter').selectOption('generated');
    await a.row(0).click();
    await a.testId('generate-open').click();
    await a.testId('generate-resume').click();
    await generateStatus(a, new RegExp(`^Kept ${3 - kept} of ${3 - kept} CoTs`));
    await a.waitForCount(304, 60000);
    await a.shot('generate-resumed');

    // -- a host off this machine (a name the browser maps to 127.0.0.1): asked first, nothing
    // sent on "no", sent on "yes", asked once
    const remote = `http://${REMOTE_HOST}:${port}`;
    await setGenerate(a, { 'endpoint-url': `${remote}/v1`, 'generate-samples': 9, 'generate-max-tokens': 32 });
    const before = sent.length;
    await a.testId('generate-button').click();
    await a.testId('generate-confirm').waitFor();
    metrics.generate_confirm_text = await a.text('generate-confirm');
    assert.match(metrics.generate_confirm_text, new RegExp(`sent to ${REMOTE_HOST.replaceAll('.', '\\.')}`));
    await a.shot('generate-confirm-remote');
    await a.page.waitForTimeout(300);
    assert.equal(sent.length, before, 'nothing sent while the confirmation is shown');
    await a.testId('generate-confirm-no').click();
    await generateStatus(a, /^Nothing was sent/);
    assert.equal(sent.length, before, 'nothing sent after "Do not send"');
    await a.testId('generate-button').click();
    await a.testId('generate-confirm-yes').click();
    await generateStatus(a, /^Kept 1 of 1 CoTs/);
    assert.ok(sent.length > before && sent.slice(before).every((u) => u.startsWith(`${remote}/`)),
              `after "Send" the requests go to ${remote} (the loopback server): ${sent.slice(before)}`);
    await setGenerate(a, { 'generate-samples': 10 });
    await a.testId('generate-button').click();
    await generateStatus(a, /^Kept 1 of 1 CoTs/);
    assert.equal(await a.testId('generate-confirm').count(), 0, 'a confirmed host is not asked about again');

    // -- the person's model as a judge: the selected CoT, through the same confirmed endpoint;
    // P(yes) from log-probabilities, or from sampled answers where the server gives none
    const beforeJudge = sent.length;
    await a.testId('judge-button').click();
    await a.page.waitForFunction(() => /^Judged . of 1 CoTs with gemma/.test(document.querySelector('[data-testid=judge-status]')?.textContent ?? ''), null, { timeout: 180000, polling: 100 });
    metrics.judge_status = await a.text('judge-status');
    // Gemma 3 270M's chat replies open with other tokens; its plain completion after
    // "Answer:" carries yes/no among its top tokens (legacy logprob shape)
    assert.match(metrics.judge_status, /^Judged 1 of 1 CoTs with gemma \(P\(yes\): 1 from (the chat reply's|a plain completion's) log-probabilities\)/);
    assert.ok(sent.length > beforeJudge && sent.slice(beforeJudge).every((u) => [`${remote}/v1/chat/completions`, `${remote}/v1/completions`].includes(u)),
              `the judge asks the confirmed endpoint only: ${sent.slice(beforeJudge)}`);
    await a.shot('judge');
    // the score is kept in this browser: after a reload the page has it, nothing is asked again
    const shown = Number((await a.text('record-count')).match(/^(\d+)/)[1]);
    const beforeReload = sent.length;
    await g.page.reload();
    await a.waitForCount(shown, 60000);
    await a.row(0).click();
    await a.testId('generate-open').click();
    await a.page.waitForFunction(() => /^1 CoT judged by your model, kept in this browser/.test(document.querySelector('[data-testid=judge-status]')?.textContent ?? ''), null, { timeout: 30000 });
    metrics.judge_kept = await a.text('judge-status');
    assert.equal(sent.length, beforeReload, 'a reload sends nothing to the model');

    // -- CORS refused: a real server that does not allow this page's origin
    const { spawn } = await import('node:child_process');
    const plainPort = await freePort();
    const plain = spawn('python3', ['-m', 'http.server', String(plainPort), '--bind', '127.0.0.1', '--directory', tmpdir()], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 40 && !(await fetch(`http://127.0.0.1:${plainPort}/`).then(() => true).catch(() => false)); i++) {
        await new Promise((r) => setTimeout(r, 250));
      }
      await setGenerate(a, { 'endpoint-url': `http://127.0.0.1:${plainPort}/v1` });
      await a.testId('endpoint-test').click();
      await a.page.waitForFunction(() => /does not allow this page/.test(document.querySelector('[data-testid=endpoint-models]')?.textContent ?? ''));
      metrics.generate_cors_message = await a.text('endpoint-models');
    } finally {
      plain.kill();
    }

    // -- the server stopped: said, nothing lost
    await setGenerate(a, { 'endpoint-url': local, 'generate-samples': 11 });
    await llama.stop();
    await a.testId('generate-button').click();
    await a.testId('generate-problem').waitFor();
    assert.match(await a.text('generate-problem'), /No reply from .*is the server running/);
    await a.testId('filter').selectOption('all');
    await a.waitForCount(306);

    // -- hide, then delete generated CoTs
    await a.testId('filter').selectOption('generated');
    await a.page.waitForFunction(() => {
      const ids = [...document.querySelectorAll('[data-testid=record]')].map((r) => r.dataset.id);
      return ids.length === 6 && ids.every((id) => id.includes('-gen'));
    });
    await a.testId('filter').selectOption('own');
    await a.page.waitForFunction(() => {
      const ids = [...document.querySelectorAll('[data-testid=record]')].map((r) => r.dataset.id);
      return ids.length > 0 && ids.every((id) => !id.includes('-gen'));
    });
    await a.testId('generate-delete').click();
    await a.testId('generate-delete').click();
    await a.waitForCount(300, 30000);
    assert.deepEqual(g.errors.filter((e) => !/Failed to load resource|net::ERR|CORS|Access-Control/.test(e)), []);
  } finally {
    await llama.stop().catch(() => {});
    await g.context.close();
  }
});

test('generation throughput against the real server: one request at a time and four at a time', { timeout: 600000 }, async (t) => {
  if (!hasModelServer(t)) return;
  const port = await freePort();
  const llama = await startLlama(port);
  const g = await freshPage(browser, app.url, OUT);
  const a = g.app;
  try {
    const demo = JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8'));
    const one = demo.filter((r, i) => i % 4 === 0).slice(0, 8)
      .map((r) => JSON.stringify({ id: r.id, question_id: r.question_id, question: r.question, cot: r.cot }));
    const dir = mkdtempSync(join(tmpdir(), 'cotlabel-gen-'));
    writeFileSync(join(dir, 'eight.jsonl'), one.join('\n') + '\n');
    await a.importFiles([join(dir, 'eight.jsonl')]);
    await a.waitForCount(8);
    await a.testId('generate-open').click();
    await setGenerate(a, { 'endpoint-url': `http://127.0.0.1:${port}/v1`, 'endpoint-model': 'gemma',
                           'generate-samples': 2, 'generate-max-tokens': 64, 'generate-scope': 'all', 'generate-temperature': 0.8 });
    const rates = {};
    for (const c of [1, 4]) {
      await setGenerate(a, { 'generate-concurrency': c });
      await a.testId('generate-button').click();
      const s = await generateStatus(a, /^Kept \d+ of 8 CoTs/);
      const [, kept, secs, tps] = s.match(/^Kept (\d+) .* in (\d+) s \(([\d.]+) tokens\/s\)/);
      rates[c] = { status: s, seconds: Number(secs), tokens_per_s: Number(tps) };
      await a.waitForCount(8 + Number(kept), 30000);
      await a.testId('generate-delete').click();
      await a.testId('generate-delete').click();
      await a.waitForCount(8, 30000);
    }
    metrics.generate_throughput = rates;
    console.log('generation throughput:', JSON.stringify(rates));
    assert.ok(rates[1].tokens_per_s > 0 && rates[4].tokens_per_s > 0);
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await llama.stop();
    await g.context.close();
  }
});
