// Drives the collector's job page (/job.html?id=<job id>) in a real headless
// Chromium (Debian's /usr/bin/chromium, through playwright-core) and checks
// what a researcher sees for each case of CASES.json:
//
//   node job_page_check.mjs BASE_URL CASES.json SCREENSHOT_PREFIX
//
// CASES.json: an array of
//   { "id": "42",                      job id to show
//     "via_form": false,               true: open /job.html, type the id, submit
//     "status": "ok" | "notfound" | "error",
//     "equal": { "#selector": "text" },    trimmed textContent must equal
//     "contains": { "#selector": "text" }, textContent must contain
//     "estimated": true,               "ok": whether the estimated flag shows
//     "hosts": [["node1", "400 J"]],   "ok": #hosts rows, each containing its texts
//     "absent": ["#footprint img"] }   selectors that must match nothing
// Any request outside BASE_URL fails the check (no external resources), and
// so does a script error, or an HTTP error other than the footprint API's
// in a "notfound" or "error" case.
// Exits 0 when every check passes, 1 with the reasons otherwise.
// playwright-core is resolved from dashboards/node_modules.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../dashboards/package.json'));
const { chromium } = require('playwright-core');

const [baseUrl, casesFile, screenshotPrefix] = process.argv.slice(2);
if (!baseUrl || !casesFile || !screenshotPrefix) {
  console.error('usage: job_page_check.mjs BASE_URL CASES.json SCREENSHOT_PREFIX');
  process.exit(2);
}
const cases = JSON.parse(readFileSync(casesFile, 'utf8'));
const origin = new URL(baseUrl).origin;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const failures = [];
try {
  for (const [index, c] of cases.entries()) {
    const label = `case ${index} (job ${c.id}, ${c.status})`;
    const fail = (what) => failures.push(`${label}: ${what}`);
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.on('pageerror', (e) => fail(`script error: ${e}`));
    page.on('response', (r) => {
      const apiError = c.status !== 'ok' && new URL(r.url()).pathname.startsWith('/api/v1/jobs/');
      if (r.status() >= 400 && !apiError) fail(`HTTP ${r.status()} ${r.url()}`);
    });
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
      fail(`request outside the collector: ${url}`);
      return route.abort();
    });
    const check = async (what, fn) => {
      try { await fn(); } catch (e) { fail(`${what}: ${e.message.split('\n')[0]}`); }
    };
    const text = async (selector) =>
      ((await page.locator(selector).first().innerText({ timeout: 5000 })) || '').replace(/\s+/g, ' ').trim();

    if (c.via_form) {
      await page.goto(`${baseUrl}/job.html`, { waitUntil: 'load' });
      await check('message before any id', async () => {
        if (!(await text('#message')).toLowerCase().includes('enter')) throw new Error('no prompt');
      });
      await page.fill('#job-id-input', c.id);
      await Promise.all([page.waitForURL(/job\.html\?id=/), page.click('#job-form button[type=submit]')]);
    } else {
      await page.goto(`${baseUrl}/job.html?id=${encodeURIComponent(c.id)}`, { waitUntil: 'load' });
    }

    if (c.status === 'ok') {
      await check('footprint shown', () => page.locator('#footprint').waitFor({ state: 'visible', timeout: 15000 }));
      const estimatedShown = await page.locator('#estimated').isVisible();
      const noteShown = await page.locator('#estimated-note').isVisible();
      if (estimatedShown !== Boolean(c.estimated) || noteShown !== Boolean(c.estimated))
        fail(`estimated flag shown: ${estimatedShown}, note shown: ${noteShown}, expected ${Boolean(c.estimated)}`);
      if (c.estimated && (await text('#estimated')).toLowerCase() !== 'estimated')
        fail(`estimated flag reads "${await text('#estimated')}"`);
      const rows = page.locator('#hosts tbody tr');
      const hosts = c.hosts || [];
      if ((await rows.count()) !== hosts.length) fail(`${await rows.count()} host rows, expected ${hosts.length}`);
      for (const [i, cells] of hosts.entries()) {
        const row = ((await rows.nth(i).textContent().catch(() => '')) || '').replace(/\s+/g, ' ');
        for (const cell of cells) if (!row.includes(cell)) fail(`host row ${i} "${row}" lacks "${cell}"`);
      }
    } else {
      const kind = c.status === 'notfound' ? 'message-notfound' : 'message-error';
      await check(`${c.status} message`, () => page.locator(`#message.${kind}`).waitFor({ state: 'visible', timeout: 15000 }));
      if (await page.locator('#footprint').isVisible()) fail('footprint shown for a job without one');
    }
    for (const [selector, expected] of Object.entries(c.equal || {})) {
      await check(selector, async () => {
        const got = await text(selector);
        if (got !== expected) throw new Error(`"${got}", expected "${expected}"`);
      });
    }
    for (const [selector, expected] of Object.entries(c.contains || {})) {
      await check(selector, async () => {
        const got = await text(selector);
        if (!got.includes(expected)) throw new Error(`"${got}" lacks "${expected}"`);
      });
    }
    for (const selector of c.absent || []) {
      const n = await page.locator(selector).count();
      if (n !== 0) fail(`${n} elements match ${selector}`);
    }
    if (await page.evaluate(() => window.__vigie_injected !== undefined)) fail('injected script ran');
    await page.screenshot({ path: `${screenshotPrefix}-${index}.png`, fullPage: true });
    await page.close();
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`job page OK (${cases.length} cases), screenshots in ${screenshotPrefix}-*.png`);
