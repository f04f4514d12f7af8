// Page object of cotlabel for the end-to-end tests: every hook is a contract data-testid.

/** A page in a fresh browser context (its own IndexedDB), collecting console errors. */
export async function freshPage(browser, url, outDir) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const app = new CotlabelPage(page, url, outDir);
  await app.open();
  await app.waitForCount(300);
  return { context, page, app, errors };
}

export class CotlabelPage {
  constructor(page, url, outDir) {
    this.page = page;
    this.url = url;
    this.outDir = outDir;
  }

  async open() {
    await this.page.goto(this.url);
  }

  testId(id) {
    return this.page.getByTestId(id);
  }

  async text(id) {
    return (await this.testId(id).first().textContent()).trim();
  }

  /** Waits until the record count reads `n records`. */
  async waitForCount(n, timeout = 30000) {
    await this.page.waitForFunction(
      (n) => new RegExp(`^${n} records`).test(document.querySelector('[data-testid=record-count]')?.textContent ?? ''),
      n, { timeout });
  }

  /** The rendered record at list position i (rows are absolutely positioned, in order). */
  row(i) {
    return this.page.getByTestId('record').nth(i);
  }

  /** Waits until the first rows carry these [label, provenance] attributes. */
  async expectLabels(expected, timeout = 5000) {
    await this.page.waitForFunction((expected) => {
      const rows = [...document.querySelectorAll('[data-testid=record]')];
      return expected.every(([label, prov], i) =>
        rows[i]?.dataset.label === label && rows[i]?.dataset.provenance === prov);
    }, expected, { timeout }).catch(async (e) => {
      const got = await this.page.$$eval('[data-testid=record]', (rows) =>
        rows.slice(0, 5).map((r) => [r.dataset.label, r.dataset.provenance]));
      throw new Error(`labels: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)} (${e.message})`);
    });
  }

  async waitSaved() {
    await this.page.waitForFunction(
      () => document.querySelector('[data-testid=save-status]')?.textContent === 'Saved in this browser',
      null, { timeout: 10000 });
  }

  async importFiles(files) {
    await this.testId('import-input').setInputFiles(files);
  }

  async firstError() {
    const err = this.testId('error').first();
    await err.waitFor({ timeout: 10000 });
    return (await err.textContent()).trim();
  }

  async shot(name) {
    await this.page.screenshot({ path: `${this.outDir}/${name}.png` });
  }
}

/** A float32 C-order .npy file of a 2-D array, written as numpy does. */
export function npy(rows) {
  const dim = rows[0].length;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${dim}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const buf = Buffer.alloc(10 + header.length + rows.length * dim * 4);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1; buf[7] = 0;
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, 10, 'latin1');
  rows.flat().forEach((v, k) => buf.writeFloatLE(v, 10 + header.length + 4 * k));
  return buf;
}

/** Rows of a float32 C-order version-1 `.npy` file. */
export function readNpy(buf) {
  const len = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + len);
  const [rows, dim] = header.match(/'shape':\s*\((\d+),\s*(\d+),?\s*\)/).slice(1).map(Number);
  const out = [];
  for (let r = 0; r < rows; r++) {
    const row = [];
    for (let c = 0; c < dim; c++) row.push(buf.readFloatLE(10 + len + 4 * (r * dim + c)));
    out.push(row);
  }
  return out;
}
