// Drives the collector's CSIRT pages (incidents.html, incident.html,
// indicator.html) in a real headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core) and checks what a CSIRT coordinator sees and does:
//
//   node csirt_pages_check.mjs BASE_URL EXPECT.json SCREENSHOT_PREFIX
//
// EXPECT.json:
//   { "incident": "grif-2026-0001",    an open incident
//     "indicator": "<uuid>",           an indicator with sightings
//     "token": "…",                    API token, or "" when the collector needs none
//     "expect": {
//       "deadline": "Report to EGI CSIRT",  the incident row's next deadline contains it,
//                                      after the time left ("in 3 h 12 min") or late ("overdue by 2 h")
//       "overdue": true,               true: the row and its deadline have class overdue;
//                                      false: neither; absent: not checked
//       "clocks": ["Report to EGI CSIRT"],  texts of the SEC01 clocks table
//       "timeline": ["node12", "123456"],   texts of the timeline
//       "alert": ["node12", "alice", "123456", "/tmp/.x/xmrig"], texts one alert of an
//                                      alert entry must all contain (host, user, job, command line)
//       "sighting": ["192.0.2.7", "node12"], texts one sighting row of the timeline must all contain
//       "scope": ["123456", "node12"], texts of the scope section (jobs, hosts)
//       "indicators": ["192.0.2.7"],   texts of the incident's indicators table
//       "transition": "reported",      the state button to click (default: the first shown)
//       "reason": "…",                 its reason (default: a generated one)
//       "stale_coordinator": "…",      if given: before the state change, the check PATCHes the
//                                      coordinator behind the page's back; the page's change must
//                                      then say "changed by someone else: reloaded", show this
//                                      coordinator, and succeed when submitted again
//       "note": "…",                   a note to add (default: a generated one)
//       "indicator_facts": ["sha256", "e3b0…"], texts of the indicator's facts
//       "revoked": false,              whether the indicator shows as revoked (absent: not checked)
//       "sightings": [["grif", "node12", "123456", "alert"]] the indicator page's sighting rows,
//                                      as many as listed, each matching a row holding all its texts
//   } }
// Every expect key is optional. Any request outside BASE_URL fails the check
// (no external resources), and so does a script error, an HTTP error other
// than the 412 the stale check provokes, a PATCH without the If-Match of the
// last GET of the incident, or a script injected through the API's texts.
// Screenshots: SCREENSHOT_PREFIX-incidents.png, -incident.png, -indicator.png.
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
  console.error('usage: csirt_pages_check.mjs BASE_URL EXPECT.json SCREENSHOT_PREFIX');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(expectFile, 'utf8'));
const expect = spec.expect || {};
const incidentId = String(spec.incident || '');
const indicatorUuid = String(spec.indicator || '');
const token = spec.token || '';
if (!incidentId || !indicatorUuid) {
  console.error('EXPECT.json needs "incident" and "indicator"');
  process.exit(2);
}
const origin = new URL(baseUrl).origin;
const incidentApi = `/api/v1/csirt/incidents/${encodeURIComponent(incidentId)}`;
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

try {
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  if (token) {
    await context.addInitScript((t) => {
      try { localStorage.setItem('vigie.apiToken', t); } catch (e) { /* storage refused */ }
    }, token);
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => fail(`script error: ${e}`));

  // The ETag of the latest GET of the incident, and the If-Match of each PATCH.
  let lastEtag = '';
  let allowed412 = 0;
  const patches = [];
  page.on('request', (r) => {
    if (r.method() === 'PATCH' && new URL(r.url()).pathname === incidentApi) {
      patches.push({ ifMatch: r.headers()['if-match'] || '', etagBefore: lastEtag });
    }
  });
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (r.request().method() === 'GET' && url.pathname === incidentApi && r.ok()) {
      lastEtag = r.headers()['etag'] || '';
    }
    if (r.status() === 412 && allowed412 > 0 && url.pathname === incidentApi) {
      allowed412 -= 1;
      return;
    }
    if (r.status() >= 400) fail(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    fail(`request outside the collector: ${url}`);
    return route.abort();
  });
  const text = async (selector) => squash(await page.locator(selector).first().innerText({ timeout: 5000 }));
  // Waits until `selector` holds every text of `texts`.
  const waitForTexts = async (what, selector, texts) => {
    for (const t of texts || []) {
      await check(`${what} shows "${t}"`, () =>
        page.locator(selector).filter({ hasText: t }).first().waitFor({ state: 'visible', timeout: WAIT_MS }));
    }
  };
  // Waits for one element of `selector` that holds all of `texts`.
  const rowWith = (selector, texts) => {
    let rows = page.locator(selector);
    for (const t of texts) rows = rows.filter({ hasText: t });
    return rows.first();
  };
  const noInjection = async () => {
    if (await page.evaluate(() => window.__vigie_injected !== undefined)) fail('a script from the API ran');
  };

  // ---- incidents.html: the row, its deadline, the filter ----
  const row = page.locator(`#incidents tbody tr[data-id=${JSON.stringify(incidentId)}]`);
  const incidentsPage = async () => {
    stage = 'incidents.html';
    await page.goto(`${baseUrl}/incidents.html`, { waitUntil: 'load' });
    if (!(await check('incident row', () => row.waitFor({ state: 'visible', timeout: WAIT_MS })))) return false;
    const rowText = squash(await row.innerText());
    if (!rowText.includes(incidentId)) fail(`row "${rowText}" lacks the id`);
    if ((await row.locator('.tlp').count()) !== 1) fail('row has no TLP badge');
    const deadline = squash(await row.locator('td.deadline').innerText());
    if (expect.deadline) {
      if (!deadline.includes(expect.deadline)) fail(`deadline "${deadline}" lacks "${expect.deadline}"`);
      if (!/^(in |overdue by )/.test(deadline)) fail(`deadline "${deadline}" says no time left or lateness`);
    }
    if (expect.overdue !== undefined) {
      const rowOverdue = await row.evaluate((r) => r.classList.contains('overdue'));
      const cellOverdue = await row.locator('td.deadline').evaluate((c) => c.classList.contains('overdue'));
      if (rowOverdue !== Boolean(expect.overdue) || cellOverdue !== Boolean(expect.overdue))
        fail(`overdue class on row: ${rowOverdue}, on deadline: ${cellOverdue}, expected ${Boolean(expect.overdue)}`);
      if (expect.overdue && !deadline.includes('overdue by')) fail(`deadline "${deadline}" does not say overdue`);
    }
    await check('"all" filter', async () => {
      await page.check('#filter-all');
      await page.waitForURL(/[?&]all=1/, { timeout: WAIT_MS });
      await row.waitFor({ state: 'visible', timeout: WAIT_MS });
      await page.check('#filter-open');
      await row.waitFor({ state: 'visible', timeout: WAIT_MS });
    });
    return true;
  };

  // ---- incident.html: header, clocks, timeline, scope, a state change, a note ----
  const incidentPage = async (fromList) => {
    stage = 'incident.html';
    if (fromList) {
      await check('link to the incident', () => Promise.all([
        page.waitForURL(/\/incident\.html\?id=/, { timeout: WAIT_MS }),
        row.locator('td.incident-id a').click({ timeout: 5000 }),
      ]));
    }
    if (!page.url().includes('/incident.html?id=')) {
      await page.goto(`${baseUrl}/incident.html?id=${encodeURIComponent(incidentId)}`, { waitUntil: 'load' });
    }
    if (!(await check('incident shown', () => page.locator('#incident-head').waitFor({ state: 'visible', timeout: WAIT_MS })))) return;
    await check('id', async () => {
      const got = await text('#incident-id');
      if (got !== incidentId) throw new Error(`"${got}", expected "${incidentId}"`);
    });
    await check('TLP badge', () => page.locator('#incident-tlp .tlp').waitFor({ timeout: 5000 }));
    if (expect.clocks) {
      await check('clocks', () => page.locator('#clocks tbody tr').first().waitFor({ state: 'visible', timeout: WAIT_MS }));
      await waitForTexts('clocks', '#clocks', expect.clocks);
    }
    await check('timeline', () => page.locator('#timeline-section').waitFor({ state: 'visible', timeout: WAIT_MS }));
    await waitForTexts('timeline', '#timeline', expect.timeline);
    if (expect.alert) {
      await check(`an alert with ${JSON.stringify(expect.alert)}`, () =>
        rowWith('#timeline tr[data-kind="alert"] .alert-item', expect.alert).waitFor({ state: 'visible', timeout: WAIT_MS }));
    }
    if (expect.sighting) {
      await check(`a sighting with ${JSON.stringify(expect.sighting)}`, () =>
        rowWith('#timeline tr[data-kind="sighting"]', expect.sighting).waitFor({ state: 'visible', timeout: WAIT_MS }));
    }
    await waitForTexts('scope', '#scope-section', expect.scope);
    await waitForTexts('indicators', '#indicators', expect.indicators);

    // A state change: a button, a reason, PATCH with the If-Match of the last GET.
    const reason = expect.reason || `csirt_pages_check ${stamp}: moved by the check`;
    const buttons = page.locator('#state-buttons button');
    const target = expect.transition ||
      ((await buttons.count()) ? await buttons.first().getAttribute('data-state') : '');
    const changeState = async () => {
      await page.click(`#state-buttons button[data-state=${JSON.stringify(target)}]`, { timeout: 5000 });
      await page.locator('#state-form').waitFor({ state: 'visible', timeout: 5000 });
      await page.fill('#state-reason', reason);
      if (target === 'merged') await page.fill('#state-merged-into', expect.merged_into || '');
      await page.click('#state-submit');
    };
    if (!target) {
      fail('no state button');
    } else {
      if (expect.stale_coordinator) {
        const changed = await check('a change behind the page', async () => {
          const headers = { 'If-Match': lastEtag, 'Content-Type': 'application/json' };
          if (token) headers.Authorization = `Bearer ${token}`;
          const r = await page.request.fetch(`${baseUrl}${incidentApi}`, {
            method: 'PATCH', headers, data: JSON.stringify({ coordinator: expect.stale_coordinator }) });
          if (r.status() !== 200) throw new Error(`HTTP ${r.status()} ${await r.text()}`);
        });
        if (changed) {
          allowed412 = 1;
          await check('stale change refused', async () => {
            await changeState();
            await page.locator('#state-message', { hasText: 'changed by someone else: reloaded' })
              .waitFor({ state: 'visible', timeout: WAIT_MS });
            const coordinator = await text('#incident-coordinator');
            if (coordinator !== expect.stale_coordinator) throw new Error(`coordinator "${coordinator}" after the reload`);
          });
          if (allowed412 !== 0) fail('no 412 for a stale If-Match');
          allowed412 = 0;
        }
      }
      await check(`state → ${target}`, async () => {
        await changeState();
        await page.locator(`#incident-state[data-state=${JSON.stringify(target)}]`).waitFor({ timeout: WAIT_MS });
        const shown = await text('#incident-state');
        if (shown !== target.replace('_', ' ')) throw new Error(`state reads "${shown}"`);
      });
      await waitForTexts('timeline after the state change', '#timeline', [reason]);
      if (patches.length === 0) fail('no PATCH sent');
      for (const p of patches) {
        if (!p.ifMatch) fail('a PATCH without If-Match');
        else if (p.ifMatch !== p.etagBefore) fail(`If-Match ${p.ifMatch}, the last GET gave ETag ${p.etagBefore}`);
      }
    }

    const note = expect.note || `csirt_pages_check ${stamp}: a note from the check`;
    await check('note added', async () => {
      await page.selectOption('#note-kind', 'note');
      await page.fill('#note-text', note);
      await page.click('#note-submit');
      await rowWith('#timeline tr[data-kind="note"]', [note]).waitFor({ state: 'visible', timeout: WAIT_MS });
    });
  };

  // ---- indicator.html: facts and sightings ----
  const indicatorPage = async () => {
    stage = 'indicator.html';
    await page.goto(`${baseUrl}/indicator.html?uuid=${encodeURIComponent(indicatorUuid)}`, { waitUntil: 'load' });
    if (!(await check('indicator shown', () => page.locator('#indicator-section').waitFor({ state: 'visible', timeout: WAIT_MS })))) return;
    await check('value', async () => { if (!(await text('#indicator-value'))) throw new Error('empty'); });
    await check('TLP badge', () => page.locator('#indicator-tlp .tlp').waitFor({ timeout: 5000 }));
    await waitForTexts('facts', '#indicator-section', expect.indicator_facts);
    if (expect.revoked !== undefined) {
      const shown = await page.locator('#indicator-revoked').isVisible();
      if (shown !== Boolean(expect.revoked)) fail(`revoked shown: ${shown}, expected ${Boolean(expect.revoked)}`);
    }
    if (expect.sightings) {
      await check('sightings', () => page.locator('#sightings-section').waitFor({ state: 'visible', timeout: WAIT_MS }));
      const count = await page.locator('#sightings tbody tr').count();
      if (count !== expect.sightings.length) fail(`${count} sighting rows, expected ${expect.sightings.length}`);
      for (const texts of expect.sightings) {
        if (!(await rowWith('#sightings tbody tr', texts).count())) fail(`no sighting row with ${JSON.stringify(texts)}`);
      }
    }
  };

  // Each page, then its screenshot, whatever failed before.
  let listShown = false;
  const pages = [
    ['incidents', async () => { listShown = await incidentsPage(); }],
    ['incident', () => incidentPage(listShown)],
    ['indicator', indicatorPage],
  ];
  for (const [name, run] of pages) {
    try {
      await run();
      await noInjection();
    } catch (e) {
      fail(`aborted: ${e.message.split('\n')[0]}`);
    }
    await page.screenshot({ path: `${screenshotPrefix}-${name}.png`, fullPage: true }).catch(() => {});
  }
  await context.close();
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`CSIRT pages OK (incident ${incidentId}, indicator ${indicatorUuid}), screenshots in ${screenshotPrefix}-*.png`);
