// The shared session of the end-to-end tests: the built page (dist/) served on loopback,
// one headless Chromium, one page every test shares in order, the metrics written at the
// end, and helpers several features use. Imported by ../app.test.mjs before the features.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve-dist.mjs';
import { CotlabelPage, freshPage, npy, readNpy } from './page.mjs';

export const OUT = 'target/e2e';
/** The native CLI, built by `cargo test` (scripts/test runs it before these tests). */
export const CLI = process.env.COTLABEL_CLI ?? 'target/debug/cotlabel';

/** `cotlabel label FILES --labels LABELS --name NAME -o OUT`: the label file it writes. */
export function cliLabel(files, labels, name, out) {
  execFileSync(CLI, ['label', ...files, '--labels', labels, '--name', name, '-o', out, '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(readFileSync(out, 'utf8'));
}

/** A label file without the times in it (when it was written, when each label was set). */
export function untimed(file) {
  const f = structuredClone(file);
  delete f.exported_at;
  for (const l of f.labels ?? []) delete l.updated_at;
  for (const p of f.pairs ?? []) delete p.updated_at;
  return f;
}
mkdirSync(OUT, { recursive: true });
if (!existsSync('dist/index.html')) throw new Error('dist/ is missing: run `trunk build --release` first');

/** The one page every test shares (set before the first test), its browser and server. */
export let server, browser, context, app;
export const consoleErrors = [];
export const metrics = {};

/** A name the page takes for another machine; Chromium resolves it to 127.0.0.1 (LAUNCH). */
export const REMOTE_HOST = 'cotlabel-remote.test';

export const LAUNCH = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu',
         // a host that is not loopback to the page but reaches this machine's loopback only:
         // the "off this machine" case of generation without any traffic leaving 127.0.0.1
         `--host-resolver-rules=MAP ${REMOTE_HOST} 127.0.0.1`],
};

before(async () => {
  server = await startServer('dist', 0);
  browser = await chromium.launch(LAUNCH);
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  app = new CotlabelPage(page, `http://127.0.0.1:${server.address().port}/`, OUT);
});

after(async () => {
  writeFileSync(`${OUT}/metrics.json`, JSON.stringify(metrics, null, 2));
  console.log('metrics:', JSON.stringify(metrics));
  await browser?.close();
  server?.close();
});

export const FIX = 'target/pyfixtures';
export const PY = '.cache/pyenv/bin/python';
export function pyfixtures() {
  if (existsSync(`${FIX}/manifest.json`) && existsSync(PY)) return true;
  if (process.env.CI === 'true') throw new Error(`${FIX} or ${PY} is missing under CI=true: run scripts/test`);
  console.log('SKIP: no pyarrow fixtures (scripts/test writes them)');
  return false;
}
export const fixture = (name) => ({ name, mimeType: 'application/octet-stream', buffer: readFileSync(`${FIX}/${name}`) });
/** Rows of a Parquet file, as pyarrow reads them. */
export function parquetRows(path) {
  const code = 'import sys, json, pyarrow.parquet as pq; print(json.dumps(pq.read_table(sys.argv[1]).to_pylist()))';
  return JSON.parse(execFileSync(PY, ['-c', code, path], { maxBuffer: 1 << 30 }).toString());
}

export async function downloadTraining(page, { format, filetype, include, min, name, keep }) {
  await page.getByTestId('training-format').selectOption(format);
  // keep: the rows cleaning flags stay (the tests of formats count every labelled row)
  if (keep !== undefined) await page.getByTestId('training-keep-flagged').setChecked(keep);
  await page.getByTestId('training-filetype').selectOption(filetype);
  await page.getByTestId('training-include').selectOption(include);
  if (min !== undefined) await page.getByTestId('training-min-confidence').fill(String(min));
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 120000 }),
    page.getByTestId('training-download').click(),
  ]);
  const path = `${OUT}/${name}-${download.suggestedFilename()}`;
  await download.saveAs(path);
  if (filetype === 'parquet') return parquetRows(path);
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
