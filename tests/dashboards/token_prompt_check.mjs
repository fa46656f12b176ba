// Drives the dashboard against a collector that needs an API token, in a
// real headless Chromium (Debian's /usr/bin/chromium, through playwright-core):
//
//   node token_prompt_check.mjs BASE_URL JOB_ID TOKEN SCREENSHOT_PREFIX
//
// Checks: /job.html?id=JOB_ID without a token shows the token form (the API
// answered 401) and no footprint; a wrong token is refused and the form comes
// back; TOKEN typed into the form shows the footprint, sent as
// "Authorization: Bearer TOKEN"; after a reload the stored token is used with
// no form; "Forget stored token" removes it. The live page (/) asks too.
// Exits 0 when every check passes, 1 with the reasons otherwise.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../dashboards/package.json'));
const { chromium } = require('playwright-core');

const [baseUrl, jobId, token, screenshotPrefix] = process.argv.slice(2);
if (!baseUrl || !jobId || !token || !screenshotPrefix) {
  console.error('usage: token_prompt_check.mjs BASE_URL JOB_ID TOKEN SCREENSHOT_PREFIX');
  process.exit(2);
}
const origin = new URL(baseUrl).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const failures = [];
const fail = (what) => failures.push(what);
const check = async (what, fn) => {
  try { await fn(); } catch (e) { fail(`${what}: ${e.message.split('\n')[0]}`); }
};
try {
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => fail(`script error: ${e}`));
  const authorizations = [];
  await page.route('**/*', (route) => {
    const request = route.request();
    const url = request.url();
    if (!url.startsWith('data:') && new URL(url).origin !== origin) {
      fail(`request outside the collector: ${url}`);
      return route.abort();
    }
    if (new URL(url).pathname.startsWith('/api/')) authorizations.push(request.headers()['authorization'] || '');
    return route.continue();
  });
  const jobUrl = `${baseUrl}/job.html?id=${encodeURIComponent(jobId)}`;

  await page.goto(jobUrl, { waitUntil: 'load' });
  await check('token form without a token', () => page.locator('#token-prompt').waitFor({ state: 'visible', timeout: 15000 }));
  if (await page.locator('#footprint').isVisible()) fail('footprint shown without a token');
  if (await page.locator('#token-forget').count() !== 0) fail('"forget" offered with no stored token');
  await page.screenshot({ path: `${screenshotPrefix}-prompt.png`, fullPage: true });

  await page.fill('#token-input', 'not-the-token');
  await page.click('#token-prompt button[type=submit]');
  await check('form again after a wrong token', () => page.locator('#token-prompt').waitFor({ state: 'visible', timeout: 15000 }));
  await check('"forget" offered for the refused token', () => page.locator('#token-forget').waitFor({ state: 'visible', timeout: 5000 }));
  if (await page.locator('#footprint').isVisible()) fail('footprint shown with a wrong token');

  await page.fill('#token-input', token);
  await page.click('#token-prompt button[type=submit]');
  await check('footprint with the token', () => page.locator('#footprint').waitFor({ state: 'visible', timeout: 15000 }));
  await check('job id shown', async () => {
    const got = (await page.locator('#job-id').innerText({ timeout: 5000 })).trim();
    if (got !== jobId) throw new Error(`"${got}"`);
  });
  if (!authorizations.includes(`Bearer ${token}`)) fail(`token never sent; Authorization headers: ${JSON.stringify(authorizations)}`);

  await page.reload({ waitUntil: 'load' });
  await check('footprint after a reload (stored token)', () => page.locator('#footprint').waitFor({ state: 'visible', timeout: 15000 }));
  if (await page.locator('#token-prompt').count() !== 0) fail('form shown although a good token is stored');
  await page.screenshot({ path: `${screenshotPrefix}-job.png`, fullPage: true });

  // The live page with a token whose role may not read alerts: a 403 is an
  // error message, not a token form.
  await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
  await check('live page reports the refusal', async () => {
    await page.waitForFunction(() => document.getElementById('status')?.textContent.includes('may not read'), null, { timeout: 15000 });
  });
  if (await page.locator('#token-prompt').count() !== 0) fail('form shown for a 403');
  await page.screenshot({ path: `${screenshotPrefix}-live.png`, fullPage: true });

  // Forget: clear storage through the form that a wrong token brings back.
  await page.evaluate(() => localStorage.setItem('vigie.apiToken', 'stale'));
  await page.goto(jobUrl, { waitUntil: 'load' });
  await check('form for a stale token', () => page.locator('#token-forget').waitFor({ state: 'visible', timeout: 15000 }));
  await page.click('#token-forget');
  if (await page.evaluate(() => localStorage.getItem('vigie.apiToken')) !== null) fail('token not forgotten');
  await context.close();
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`token prompt OK, screenshots in ${screenshotPrefix}-*.png`);
