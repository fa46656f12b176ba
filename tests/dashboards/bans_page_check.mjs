// Drives the collector's ban list page (bans.html) in a real headless
// Chromium (Debian's /usr/bin/chromium, through playwright-core) and checks
// what a CSIRT coordinator at a federation sees and does:
//
//   node bans_page_check.mjs BASE_URL EXPECT.json SCREENSHOT_PREFIX
//
// EXPECT.json:
//   { "token": "…",                    API token, or "" when the collector needs none
//     "expect": {
//       "serial": 4,                   the list's serial the page shows first
//       "sites": [                     rows of the sites table, each by its site name:
//         {"site": "lapp", "state": "applied", "lag": 0},
//         {"site": "cc", "state": "failed", "lag": 0, "failures": ["sacctmgr: …"]},
//         {"site": "lal", "state": "reached", "min_lag": 1}],
//                                      "lag" exact, "min_lag" a lower bound, "failures"
//                                      texts the failures cell contains
//       "bans": [                      active entries of the bans table, each found by its value:
//         {"value": "/DC=org/…/CN=Mallory", "actions": ["deny-login", "detect"],
//          "tlp": "TLP:AMBER", "reason": "…", "origin": "GRIF"}],
//                                      every key but "value" optional
//       "red": "eve",                  the value of a TLP:RED entry: shown, badge TLP:RED,
//                                      at the collector that made it ("origin", when given)
//       "origin": "GRIF",              this collector's list name (the own list)
//       "markup": "<b>x</b>",          a text seeded in a reason: shown as text, no element made of it
//       "new": {"type": "ip", "value": "198.51.100.0/24", "actions": ["deny-network"],
//               "reason": "…", "tlp": "amber"},
//                                      an identity to suspend through the form (exactly
//                                      these actions; value as the collector normalises it)
//       "lift": "…",                   the value of an active own entry to lift with its Lift button:
//                                      gone under "active", shown lifted with its reason under "all"
//       "lift_reason": "…"             the reason typed in the prompt (default: a generated one)
//   } }
// Every expect key is optional. After the new ban, sites expected "applied"
// must show "stale" with a lag (the serial went up). Any request outside
// BASE_URL fails the check (no external resources), and so does a script
// error, an HTTP error, a POST whose body is not what the form or the prompt
// said, or a script injected through the API's texts.
// Screenshot: SCREENSHOT_PREFIX-bans.png (full page, after the lift, "all" filter).
// Exits 0 when every check passes, 1 with the reasons otherwise.
// playwright-core is resolved from dashboards/node_modules.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../dashboards/package.json'));
const { chromium } = require('playwright-core');

const [baseUrl, expectFile, screenshotPrefix] = process.argv.slice(2);
if (!baseUrl || !expectFile || !screenshotPrefix) {
  console.error('usage: bans_page_check.mjs BASE_URL EXPECT.json SCREENSHOT_PREFIX');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(expectFile, 'utf8'));
const expect = spec.expect || {};
const token = spec.token || '';
const origin = new URL(baseUrl).origin;
const bansApi = '/api/v1/csirt/bans';
const WAIT_MS = 15000;
const stamp = Date.now();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const failures = [];
let stage = 'start';
const fail = (what) => failures.push(`${stage}: ${what}`);
// Runs one check; false (and a failure recorded) when it throws.
const check = async (what, fn) => {
  try {
    await fn();
    return true;
  } catch (e) {
    fail(`${what}: ${e.message.split('\n')[0]}`);
    return false;
  }
};
const squash = (s) => (s || '').replace(/\s+/g, ' ').trim();
const sameList = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

try {
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  if (token) {
    await context.addInitScript((t) => {
      try { localStorage.setItem('vigie.apiToken', t); } catch (e) { /* storage refused */ }
    }, token);
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => fail(`script error: ${e}`));

  // The POSTs the page makes: new bans and lifts, with their bodies.
  const posts = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (r.method() === 'POST' && url.origin === origin && url.pathname.startsWith(bansApi)) {
      let body = null;
      try { body = r.postDataJSON(); } catch (e) { body = r.postData(); }
      posts.push({ path: url.pathname, body });
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400) fail(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    fail(`request outside the collector: ${url}`);
    return route.abort();
  });
  const noInjection = async () => {
    if (await page.evaluate(() => window.__vigie_injected !== undefined)) fail('a script from the API ran');
  };

  // Rows of the sites table by site name, of the bans table by subject value.
  const siteRow = (site) => page.locator(`#sites tbody tr[data-site=${JSON.stringify(site)}]`);
  // The subject is the value, after the issuer for OIDC; matched whole and
  // case-sensitively ("mallory" is not "CN=Mallory").
  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const banRows = (value) => page.locator('#bans tbody tr.ban-row')
    .filter({ has: page.locator('.ban-subject', { hasText: new RegExp(`(^|\\s)${escapeRe(value)}$`) }) });
  const banRow = (value) => banRows(value).first();
  const cell = async (row, i) => squash(await row.locator('td').nth(i).innerText({ timeout: 5000 }));
  // Bans table columns (bans.html): subject, actions, sites, TLP, reason, origin, since, state, lift.
  const COL = { subject: 0, actions: 1, sites: 2, tlp: 3, reason: 4, origin: 5, since: 6, state: 7, lift: 8 };
  // Sites table columns: site, state, holds serial, applied serial, lag, applied at, failures.
  const SITE = { state: 1, reached: 2, applied: 3, lag: 4, failures: 6 };
  const actionsOf = async (row) => (await cell(row, COL.actions)).split(',').map((s) => s.trim()).filter(Boolean);
  const serialShown = async () => {
    const m = /serial ([\d,]+)/.exec(squash(await page.locator('#serial').innerText()));
    return m ? Number(m[1].replace(/,/g, '')) : NaN;
  };
  const waitForSerial = async (serial) => {
    const until = Date.now() + WAIT_MS;
    let shown = NaN;
    while (Date.now() < until) {
      shown = await serialShown();
      if (shown === serial) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`the page shows serial ${shown}, expected ${serial}`);
  };
  const checkSite = async (want) => {
    const row = siteRow(want.site);
    await check(`site ${want.site}`, async () => {
      await row.waitFor({ state: 'visible', timeout: WAIT_MS });
      const state = await cell(row, SITE.state);
      if (want.state && state !== want.state) throw new Error(`state "${state}", expected "${want.state}"`);
      if (want.state && (await row.locator(`.ban-state.ban-${want.state}`).count()) !== 1)
        throw new Error(`no ${want.state} badge`);
      const lag = Number((await cell(row, SITE.lag)).replace(/,/g, ''));
      if (want.lag !== undefined && lag !== want.lag) throw new Error(`lag ${lag}, expected ${want.lag}`);
      if (want.min_lag !== undefined && !(lag >= want.min_lag)) throw new Error(`lag ${lag}, expected ≥ ${want.min_lag}`);
      const lagging = await row.locator('td').nth(SITE.lag).evaluate((c) => c.classList.contains('lagging'));
      if (lagging !== lag > 0) throw new Error(`lag ${lag} marked lagging: ${lagging}`);
      const failuresText = await cell(row, SITE.failures);
      for (const f of want.failures || []) {
        if (!failuresText.includes(f)) throw new Error(`failures "${failuresText}" lack "${f}"`);
      }
      if (!(want.failures || []).length && want.state === 'applied' && failuresText !== '—')
        throw new Error(`failures "${failuresText}" for an applied site`);
    });
  };
  const checkBan = async (want) => {
    const row = banRow(want.value);
    await check(`ban ${want.value}`, async () => {
      await row.waitFor({ state: 'visible', timeout: WAIT_MS });
      if (want.actions) {
        const actions = await actionsOf(row);
        if (!sameList(actions, want.actions)) throw new Error(`actions ${JSON.stringify(actions)}, expected ${JSON.stringify(want.actions)}`);
      }
      if ((await row.locator('.tlp').count()) !== 1) throw new Error('no TLP badge');
      const tlp = squash(await row.locator('.tlp').innerText());
      if (want.tlp && tlp !== want.tlp) throw new Error(`TLP badge "${tlp}", expected "${want.tlp}"`);
      const reason = await cell(row, COL.reason);
      if (want.reason && !reason.includes(squash(want.reason))) throw new Error(`reason "${reason}" lacks "${want.reason}"`);
      const from = await cell(row, COL.origin);
      if (want.origin && !from.startsWith(want.origin)) throw new Error(`origin "${from}", expected "${want.origin}"`);
      const state = await cell(row, COL.state);
      if (!state.startsWith('active')) throw new Error(`state "${state}"`);
    });
  };

  // ---- bans.html: the sites, the bans, TLP:RED at home, markup as text ----
  try {
    stage = 'bans.html';
    await page.goto(`${baseUrl}/bans.html`, { waitUntil: 'load' });
    const shown = await check('bans table', () => page.locator('#bans tbody tr').first().waitFor({ state: 'visible', timeout: WAIT_MS }));
    if (shown) {
      await check('message hidden', async () => {
        if (await page.locator('#message').isVisible()) throw new Error(squash(await page.locator('#message').innerText()));
      });
      if (expect.serial !== undefined) await check('serial', () => waitForSerial(expect.serial));
      const serial = await serialShown();
      for (const want of expect.sites || []) await checkSite(want);
      for (const want of expect.bans || []) await checkBan(want);
      await check('only active bans', async () => {
        const states = await page.locator('#bans tbody tr.ban-row').evaluateAll(
          (rows) => rows.map((r) => r.className));
        const other = states.filter((c) => !c.split(' ').includes('ban-active'));
        if (other.length) throw new Error(`rows of class ${JSON.stringify(other)} under "active"`);
        if (await page.locator('#filter-active').isChecked() !== true) throw new Error('"active" not checked');
      });
      if (expect.red) {
        await check('TLP:RED entry', async () => {
          const row = banRow(expect.red);
          await row.waitFor({ state: 'visible', timeout: WAIT_MS });
          const tlp = squash(await row.locator('.tlp').innerText());
          if (tlp !== 'TLP:RED') throw new Error(`TLP badge "${tlp}"`);
          if (await row.locator('.tlp.tlp-red').count() !== 1) throw new Error('badge not of class tlp-red');
          const from = await cell(row, COL.origin);
          if (expect.origin && !from.startsWith(expect.origin)) throw new Error(`origin "${from}", expected "${expect.origin}"`);
          if (await row.locator('button.lift').count() !== 1) throw new Error('no Lift button on an own entry');
        });
      }
      if (expect.markup) {
        await check('markup shown as text', async () => {
          const row = page.locator('#bans tbody tr.ban-row').filter({ hasText: expect.markup }).first();
          await row.waitFor({ state: 'visible', timeout: WAIT_MS });
          const found = await page.locator('#bans tbody').evaluate(
            (body, markup) => body.textContent.includes(markup), expect.markup);
          if (!found) throw new Error(`"${expect.markup}" not in the table's text`);
          const made = await page.locator('#bans tbody b, #sites tbody b, #bans tbody img, #bans tbody script').count();
          if (made) throw new Error(`${made} element(s) made of the API's texts`);
        });
      }
      await noInjection();

      // ---- the form: suspend a new identity ----
      if (expect.new) {
        stage = 'bans.html suspend';
        const want = expect.new;
        const reason = want.reason || `bans_page_check ${stamp}: suspended by the check`;
        const before = posts.length;
        const added = await check(`suspend ${want.value}`, async () => {
          await page.selectOption('#ban-type', want.type);
          await page.fill('#ban-value', want.value);
          for (const box of await page.locator('input[name=action]').all()) {
            const value = await box.getAttribute('value');
            if ((want.actions || []).includes(value)) await box.check();
            else await box.uncheck();
          }
          if (want.tlp) await page.selectOption('#ban-tlp', want.tlp);
          await page.fill('#ban-reason', reason);
          await page.click('#new-ban button[type=submit]');
          await page.locator('#new-message', { hasText: 'Suspended' }).waitFor({ state: 'visible', timeout: WAIT_MS });
          await banRow(want.value).waitFor({ state: 'visible', timeout: WAIT_MS });
        });
        const sent = posts.slice(before).filter((p) => p.path === bansApi);
        if (sent.length !== 1) fail(`${sent.length} POST ${bansApi}, expected 1`);
        else {
          const b = sent[0].body || {};
          if (b.type !== want.type || b.value !== want.value || b.reason !== reason ||
              !sameList(b.actions || [], want.actions || []) || (want.tlp && b.tlp !== want.tlp))
            fail(`POST ${bansApi} sent ${JSON.stringify(b)}`);
          if ('issuer' in b || 'sites' in b || 'incident' in b) fail(`POST ${bansApi} sent empty fields: ${JSON.stringify(b)}`);
        }
        if (added) {
          if (Number.isFinite(serial)) await check('serial after the new ban', () => waitForSerial(serial + 1));
          // What the collector stored, once the page is loaded again.
          await page.reload({ waitUntil: 'load' });
          await checkBan({ value: want.value, actions: want.actions, reason,
                           tlp: want.tlp ? `TLP:${want.tlp.toUpperCase()}` : undefined, origin: expect.origin });
          await check('new ban liftable', async () => {
            if (await banRow(want.value).locator('button.lift').count() !== 1) throw new Error('no Lift button');
          });
          if (await banRows(want.value).count() !== 1) fail(`${await banRows(want.value).count()} rows of ${want.value}`);
          // The serial went up: sites that had applied the last one now lag.
          for (const site of (expect.sites || []).filter((s) => s.state === 'applied')) {
            await checkSite({ site: site.site, state: 'stale', min_lag: 1 });
          }
          await check('form reset', async () => {
            if (await page.inputValue('#ban-value') !== '') throw new Error('the value is still there');
          });
        }
      }

      // ---- lift an entry: its button, the prompt, the filters ----
      if (expect.lift) {
        stage = 'bans.html lift';
        const reason = expect.lift_reason || `bans_page_check ${stamp}: lifted by the check`;
        const row = banRow(expect.lift);
        const before = posts.length;
        const serialBefore = await serialShown();
        let dialogs = 0;
        const onDialog = async (dialog) => {
          dialogs += 1;
          if (dialog.type() !== 'prompt') {
            fail(`a ${dialog.type()} dialog: ${dialog.message()}`);
            await dialog.dismiss();
          } else {
            await dialog.accept(reason);
          }
        };
        page.on('dialog', onDialog);
        const lifted = await check(`lift ${expect.lift}`, async () => {
          await row.locator('button.lift').click({ timeout: 5000 });
          await banRows(expect.lift).first().waitFor({ state: 'detached', timeout: WAIT_MS });
        });
        page.off('dialog', onDialog);
        if (dialogs !== 1) fail(`${dialogs} dialogs, expected one prompt`);
        const sent = posts.slice(before);
        if (sent.length !== 1 || !/\/bans\/[^/]+\/lift$/.test(sent[0].path) ||
            JSON.stringify(sent[0].body) !== JSON.stringify({ reason }))
          fail(`lift POSTs: ${JSON.stringify(sent)}`);
        if (lifted) {
          if (Number.isFinite(serialBefore)) await check('serial after the lift', () => waitForSerial(serialBefore + 1));
          await check('"all" filter shows it lifted', async () => {
            await page.check('#filter-all');
            await page.waitForURL(/[?&]all=1/, { timeout: WAIT_MS });
            const all = banRow(expect.lift);
            await all.waitFor({ state: 'visible', timeout: WAIT_MS });
            if (!(await all.evaluate((r) => r.classList.contains('ban-lifted')))) throw new Error('row not of class ban-lifted');
            const state = await cell(all, COL.state);
            if (!state.startsWith('lifted')) throw new Error(`state "${state}"`);
            if (!state.includes(reason)) throw new Error(`state "${state}" lacks the lift reason`);
            if (await all.locator('button.lift').count() !== 0) throw new Error('a Lift button on a lifted entry');
          });
          await check('"all" survives a reload', async () => {
            await page.reload({ waitUntil: 'load' });
            if (!(await page.locator('#filter-all').isChecked())) throw new Error('"all" not checked');
            await banRow(expect.lift).waitFor({ state: 'visible', timeout: WAIT_MS });
          });
          await check('"active" filter hides it again', async () => {
            await page.check('#filter-active');
            await page.waitForURL((u) => !u.searchParams.has('all'), { timeout: WAIT_MS });
            await banRows(expect.lift).first().waitFor({ state: 'detached', timeout: WAIT_MS });
            if (expect.red) await banRow(expect.red).waitFor({ state: 'visible', timeout: WAIT_MS });
          });
          await check('back to "all" for the screenshot', async () => {
            await page.check('#filter-all');
            await banRow(expect.lift).waitFor({ state: 'visible', timeout: WAIT_MS });
          });
        }
      }
    }
  } catch (e) {
    fail(`aborted: ${e.message.split('\n')[0]}`);
  }
  await noInjection().catch((e) => fail(`aborted: ${e.message.split('\n')[0]}`));
  await page.screenshot({ path: `${screenshotPrefix}-bans.png`, fullPage: true }).catch(() => {});
  await context.close();
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`ban list page OK, screenshot in ${screenshotPrefix}-bans.png`);
