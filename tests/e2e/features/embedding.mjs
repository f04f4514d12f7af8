// End-to-end: MiniLM on the device (CPU and WebGPU), equal to sentence-transformers.
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

async function embedRecords(page, p, records) {
  const jsonl = records.map((r) => JSON.stringify(r)).join('\n');
  await p.importFiles([{ name: 'plain.jsonl', mimeType: 'application/json', buffer: Buffer.from(jsonl) }]);
  const n = records.length;
  // the import has replaced what the page showed (the demo has as many records, with vectors)
  await page.waitForFunction((n) => document.querySelector('[data-testid=record-count]')?.textContent === `${n} records`, n, { timeout: 30000 });
  const t0 = Date.now();
  await page.getByTestId('embed-button').click();
  await page.waitForFunction((n) => new RegExp(`^${n} CoTs embedded on (webgpu|cpu)`).test(document.querySelector('[data-testid=embed-status]')?.textContent ?? ''), n, { timeout: 400000 });
  const ms = Date.now() - t0;
  assert.equal(await p.text('record-count'), `${n} records · 384-d embeddings`);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-embeddings-button').click()]);
  const vectors = readNpy(readFileSync(await dl.path()));
  assert.equal(vectors.length, n);
  return { ms, status: await p.text('embed-status'), vectors };
}

/** The smallest cosine between rows of a and b. */
function minCosine(a, b) {
  let worst = 1;
  a.forEach((v, i) => {
    const dot = v.reduce((s, x, k) => s + x * b[i][k], 0);
    worst = Math.min(worst, dot / (Math.hypot(...v) * Math.hypot(...b[i]) || 1));
  });
  return worst;
}

/** Sizes of the k-means clusters of the map on the embeddings. */
async function embeddingClusterSizes(page) {
  await page.getByTestId('map-space').selectOption('embedding');
  await page.waitForFunction(() => document.querySelector('[data-testid=map-space]')?.value === 'embedding'
    && document.querySelectorAll('[data-testid=cluster-summary]').length === 8, null, { timeout: 60000 });
  await page.waitForTimeout(500);
  return page.$$eval('[data-testid=cluster-summary]', (els) => els.map((e) => Number(e.textContent.match(/· (\d+) CoTs/)[1])));
}

test('records without embeddings: the page embeds them with MiniLM on the device (CPU and WebGPU), equal to sentence-transformers, same clusters, cached over a reload', async () => {
  if (!existsSync('dist/weights/minilm.bpk')) {
    if (process.env.CI === 'true') throw new Error('dist/weights/minilm.bpk is missing under CI=true (./scripts/fetch-minilm makes it before the build)');
    console.log('SKIP: dist/weights/minilm.bpk is absent (./scripts/fetch-minilm makes it before the build)');
    return;
  }
  const demo = JSON.parse(readFileSync('static/demo/demo_cots.json', 'utf8'));
  const shipped = readNpy(readFileSync('static/demo/demo_emb.npy'));
  const plain = (r) => ({ id: `e-${r.id}`, question_id: r.question_id, question: r.question, cot: r.cot, answer: r.answer });
  const cpu = await freshPage(browser, app.url + '?cpu', OUT);
  // the parity texts of reference_embeddings.json (accents, CJK, emoji, > 256 tokens)
  const refPath = '../shared/data/reference_embeddings.json';
  if (existsSync(refPath)) {
    const refs = JSON.parse(readFileSync(refPath, 'utf8')).texts.filter((t) => t.text.trim() !== '');
    const got = await embedRecords(cpu.page, cpu.app, refs.map((t, i) => ({ id: `ref-${i}`, question: 'q', cot: t.text })));
    const worst = minCosine(got.vectors, refs.map((t) => t.embedding));
    metrics.embed_reference_min_cosine = worst;
    assert.ok(worst >= 0.999, `reference texts: min cosine ${worst}`);
  } else {
    if (process.env.CI === 'true') throw new Error(`${refPath} is missing under CI=true`);
    console.log(`SKIP: ${refPath} is absent; the reference texts were not embedded`);
  }
  // the whole demo on the CPU (burn-flex in the worker)
  const all = await embedRecords(cpu.page, cpu.app, demo.map(plain));
  const worst = minCosine(all.vectors, shipped);
  Object.assign(metrics, { embed_cpu_demo_ms: all.ms, embed_cpu_status: all.status, embed_cpu_min_cosine: worst });
  console.log(`on-device embedding, CPU: ${all.status}; min cosine to the shipped vectors ${worst}`);
  assert.match(all.status, /^300 CoTs embedded on cpu/);
  assert.ok(worst >= 0.999, `min cosine ${worst}`);
  await cpu.app.shot('08-embedded');
  // a pool of two workers (this machine has two cores, so the page's own choice is one)
  const pool = await freshPage(browser, app.url + '?cpu&workers=2', OUT);
  // in capitals: the same tokens for the uncased model (so the same vectors), other cache
  // keys (so no vector comes from this browser's cache of the run above)
  const spaced = demo.map((r) => ({ ...plain(r), id: `p-${r.id}`, cot: r.cot.replace(/[a-z]/g, (c) => c.toUpperCase()) }));
  const two = await embedRecords(pool.page, pool.app, spaced);
  const twoWorst = minCosine(two.vectors, shipped);
  Object.assign(metrics, { embed_pool2_demo_ms: two.ms, embed_pool2_status: two.status, embed_pool2_min_cosine: twoWorst });
  console.log(`on-device embedding, CPU, 2 workers: ${two.status}; min cosine ${twoWorst}`);
  assert.match(two.status, /^300 CoTs embedded on cpu × 2 workers in /);
  assert.ok(twoWorst >= 0.999, `pool: min cosine ${twoWorst}`);
  assert.deepEqual(pool.errors, []);
  await pool.context.close();
  // k-means on them: the same clusters as on the shipped vectors
  const mine = await embeddingClusterSizes(cpu.page);
  const ref = await freshPage(browser, app.url, OUT);
  const theirs = await embeddingClusterSizes(ref.page);
  await ref.context.close();
  assert.deepEqual(mine, theirs);
  // a reload attaches the cached vectors without the model
  await cpu.page.reload();
  await cpu.page.waitForFunction(() => /^300 records · 384-d embeddings$/.test(document.querySelector('[data-testid=record-count]')?.textContent ?? ''), null, { timeout: 30000 });
  assert.equal(await cpu.app.text('embed-status'), '');
  assert.deepEqual(cpu.errors, []);
  await cpu.context.close();
  // with no flag the page passes SwiftShader's software adapter over: the CPU is faster
  const auto = await freshPage(browser, app.url, OUT);
  const autoFour = await embedRecords(auto.page, auto.app, demo.slice(0, 4).map(plain));
  metrics.embed_auto_status = autoFour.status;
  console.log(`on-device embedding, no flag: ${autoFour.status}`);
  assert.match(autoFour.status, /^4 CoTs embedded on cpu .*the WebGPU adapter \(.*\) is software, slower than the CPU/);
  await auto.context.close();
  // on WebGPU when asked (SwiftShader here: a CPU pretending to be a GPU, so only 4 CoTs)
  const gpu = await freshPage(browser, app.url + '?webgpu', OUT);
  const four = await embedRecords(gpu.page, gpu.app, demo.slice(0, 4).map(plain));
  const gpuWorst = minCosine(four.vectors, shipped.slice(0, 4));
  Object.assign(metrics, { embed_gpu_4_ms: four.ms, embed_gpu_status: four.status, embed_gpu_min_cosine: gpuWorst });
  console.log(`on-device embedding, WebGPU: ${four.status}; min cosine ${gpuWorst}`);
  assert.ok(gpuWorst >= 0.999, `min cosine ${gpuWorst}`);
  assert.deepEqual(gpu.errors, []);
  await gpu.context.close();
});
