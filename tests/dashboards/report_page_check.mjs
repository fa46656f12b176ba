// Opens the collector's printable sustainability report
// (/api/v1/reports/datacentre?...&format=html) in a real headless Chromium
// (Debian's /usr/bin/chromium, through playwright-core), as a sustainability
// officer would, and prints it to PDF as the browser's "Print to PDF" does:
//
//   node report_page_check.mjs BASE_URL SPEC.json OUTPUT_PREFIX
//
// SPEC.json: { "url": path and query, "token": API token, "title": the
//   page title, "texts": [texts the page must show], "badges": [quality
//   flags that must show as badges (.q-<quality>)] }
// Writes OUTPUT_PREFIX.png (the whole page) and OUTPUT_PREFIX.pdf. Any
// request outside BASE_URL, any HTTP error, any script, or a missing text
// fails the check. Exits 0 when every check passes, 1 with the reasons.
import { createRequire } from 'node:module';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../dashboards/package.json'));
const { chromium } = require('playwright-core');

const [baseUrl, specFile, prefix] = process.argv.slice(2);
if (!baseUrl || !specFile || !prefix) {
  console.error('usage: report_page_check.mjs BASE_URL SPEC.json OUTPUT_PREFIX');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specFile, 'utf8'));
const origin = new URL(baseUrl).origin;
const failures = [];
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1300, height: 900 },
    extraHTTPHeaders: { Authorization: `Bearer ${spec.token}` },
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => fail(`script error: ${e}`));
  page.on('response', (r) => { if (r.status() >= 400) fail(`HTTP ${r.status()} ${r.url()}`); });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    fail(`request outside the collector: ${url}`);
    return route.abort();
  });
  const response = await page.goto(baseUrl + spec.url, { waitUntil: 'load' });
  if (!response || response.status() !== 200) fail(`page answered ${response && response.status()}`);
  if (!(response.headers()['content-type'] || '').startsWith('text/html')) {
    fail(`content type ${response.headers()['content-type']}`);
  }
  const title = await page.title();
  if (title !== spec.title) fail(`title "${title}", expected "${spec.title}"`);
  const text = await page.evaluate(() => document.body.innerText);
  for (const t of spec.texts || []) if (!text.includes(t)) fail(`the page does not show "${t}"`);
  for (const b of spec.badges || []) {
    if ((await page.locator(`.q-${b}`).count()) === 0) fail(`no "${b}" quality badge`);
  }
  if ((await page.locator('script').count()) !== 0) fail('the report page carries a script');
  // Markup in a facility's name stays text.
  if ((await page.locator('h1 sud, h1 Sud').count()) !== 0) fail('markup from data was rendered');
  await page.screenshot({ path: `${prefix}.png`, fullPage: true });
  await page.emulateMedia({ media: 'print' });
  await page.pdf({ path: `${prefix}.pdf`, format: 'A4', printBackground: true });
  const pdf = readFileSync(`${prefix}.pdf`);
  if (pdf.subarray(0, 5).toString() !== '%PDF-' || statSync(`${prefix}.pdf`).size < 10000) {
    fail('the printed PDF is not a PDF of the report');
  }
  // The dashboard's reports page (reports.html), token from the browser's
  // storage as the other pages keep it: the same report in its frame, the
  // CSV and JSON offered.
  if (spec.page) {
    const dashboard = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    dashboard.on('pageerror', (e) => fail(`reports.html script error: ${e}`));
    dashboard.on('response', (r) => { if (r.status() >= 400) fail(`reports.html: HTTP ${r.status()} ${r.url()}`); });
    await dashboard.addInitScript((token) => localStorage.setItem('vigie.apiToken', token), spec.token);
    await dashboard.goto(baseUrl + spec.page, { waitUntil: 'load' });
    await dashboard.waitForSelector('#report-section:not([hidden])', { timeout: 10000 });
    await dashboard.waitForFunction(() => document.getElementById('json').href.startsWith('blob:'),
                                    null, { timeout: 10000 });
    const frame = dashboard.frameLocator('#report');
    const framed = await frame.locator('body').innerText();
    for (const t of spec.texts || []) if (!framed.includes(t)) fail(`reports.html: the frame does not show "${t}"`);
    const csv = await dashboard.evaluate(async () => (await fetch(document.getElementById('csv').href)).text());
    if (!csv.startsWith('ref,symbol,name,unit,value,quality,notes')) fail(`reports.html: the CSV link gives "${csv.slice(0, 60)}"`);
    if ((await dashboard.locator('#facilities option').count()) === 0) fail('reports.html: no facility listed');
    await dashboard.screenshot({ path: `${prefix}-dashboard.png`, fullPage: false });
  }
} catch (e) {
  fail(`exception: ${e.stack || e}`);
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`report page ok: ${prefix}.png, ${prefix}.pdf`);
