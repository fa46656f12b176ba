// Drives the collector's dashboard in a real headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core) and checks what an on-call
// admin sees: the live alert, node power flagged as estimated, workloads.
//
//   node dashboard_check.mjs URL SCREENSHOT.png ALERT_TEXTS HOST
//
// ALERT_TEXTS: '|'-separated texts that one alert row must all contain.
// Exits 0 when every check passes, 1 with the reasons otherwise.
// playwright-core is resolved from dashboards/node_modules.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../dashboards/package.json'));
const { chromium } = require('playwright-core');

const [url, screenshot, alertText, host] = process.argv.slice(2);
if (!url || !screenshot || !alertText || !host) {
  console.error('usage: dashboard_check.mjs URL SCREENSHOT ALERT_TEXT HOST');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const failures = [];
const pageErrors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`); });
  await page.goto(url, { waitUntil: 'load' });

  const check = async (what, fn) => {
    try { await fn(); } catch (e) { failures.push(`${what}: ${e.message.split('\n')[0]}`); }
  };
  let alertRow = page.locator('#alerts tbody tr');
  for (const text of alertText.split('|')) alertRow = alertRow.filter({ hasText: text });
  await check(`alert row with ${alertText}`, () => alertRow.first().waitFor({ timeout: 15000 }));
  await check('node power row', () =>
    page.locator('#nodes tbody tr', { hasText: host }).first().waitFor({ timeout: 15000 }));
  await check('workload rows', () =>
    page.locator('#workloads tbody tr').first().waitFor({ timeout: 15000 }));
  await check('power chart', () => page.locator('#chart canvas').first().waitFor({ timeout: 15000 }));
  const nodeRow = (await page.locator('#nodes tbody tr', { hasText: host }).first()
    .innerText().catch(() => '')).toLowerCase();
  if (process.env.EXPECT_ESTIMATED === '1' && !nodeRow.includes('estimated')) {
    failures.push(`node row does not say its power is estimated: "${nodeRow}"`);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
if (pageErrors.length) failures.push(`errors in the page: ${pageErrors.join(' | ')}`);
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`dashboard OK, screenshot in ${screenshot}`);
