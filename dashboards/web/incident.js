// Vigie's incident page (/incident.html?id=<incident id>), for the CSIRT
// coordinator who runs it: its EGI SEC01 clocks, its state moves (PATCH with
// If-Match: the ETag of the last GET, so that two coordinators never undo
// each other unknowingly), its timeline merged with its indicators'
// sightings, its scope (hosts, users, jobs and their footprint) and its
// indicators, all from /api/v1/csirt/. Every value from the API is inserted
// as text, never as HTML: notes, titles and command lines are written by
// people and by monitored machines.
"use strict";

const TICK_EVERY_MS = 30000;
const RETROHUNT_POLL_MS = 2000;
const RETROHUNT_POLL_MAX = 60;

const incidentId = (new URLSearchParams(location.search).get("id") || "").trim();
const incidentPath = `/incidents/${encodeURIComponent(incidentId)}`;

let incident = null;  // as of the last GET or PATCH
let etag = "";        // its ETag, sent back as If-Match
let indicators = [];  // linked indicators, for the sightings' names

const KIND_LABELS = { egi_request: "EGI request", state_change: "state change" };
const kindBadge = (kind) => el("span", { class: `kind kind-${kind}` }, KIND_LABELS[kind] || kind);
const shortId = (id) => String(id || "").slice(0, 8);
const chips = (values) => (values && values.length
  ? el("span", { class: "chips" }, ...values.map((v) => el("span", { class: "chip" }, v)))
  : "—");
const kwhOf = (j) => `${num(Number(j) / 3.6e6)} kWh`;

// ---- header and state moves ----------------------------------------------------

// The states the machine allows from `state` (csirt/incident.h).
function nextStates(state) {
  if (!OPEN_STATES.includes(state)) return [];
  return [NEXT_STATE[state], "false_positive", "merged"];
}

function setIncident(body, response) {
  incident = body;
  etag = response.headers.get("ETag") || `"${body.version}"`;
  renderHead();
  renderClocks();
  renderNoteTlp();
}

function renderHead() {
  const i = incident;
  $("incident-id").textContent = i.id;
  $("incident-title").textContent = i.title;
  $("incident-state").replaceChildren(stateBadge(i.state));
  $("incident-state").dataset.state = i.state;
  $("incident-severity").replaceChildren(severityBadge(i.severity));
  $("incident-tlp").replaceChildren(tlpBadge(i.tlp));
  $("incident-coordinator").textContent = orDash(i.coordinator);
  $("incident-sites").replaceChildren(chips(i.sites));
  $("incident-discovered").textContent = timeOrDash(i.discovered_ns);
  const merged = i.state === "merged" && i.merged_into;
  $("incident-merged-label").hidden = !merged;
  $("incident-merged").hidden = !merged;
  $("incident-merged").replaceChildren(merged ? incidentLink(i.merged_into) : "");
  $("incident-summary").textContent = orDash(i.summary);
  $("incident-updated").textContent = `${timeOrDash(i.updated_ns)} (version ${i.version})`;
  document.title = `Vigie — ${i.id} ${i.title}`;

  const states = nextStates(i.state);
  $("state-buttons").replaceChildren(...(states.length ? states.map((to) => {
    const forward = to === NEXT_STATE[i.state];
    const button = el("button", { type: "button", class: forward ? "state-button forward" : "state-button",
                                  "data-state": to }, to.replace("_", " "));
    button.addEventListener("click", () => openStateForm(to));
    return button;
  }) : [el("span", { class: "hint" }, `nothing: ${i.state.replace("_", " ")} is final`)]));
  closeStateForm();
  $("incident-head").hidden = false;
}

let stateTarget = "";
function openStateForm(to) {
  stateTarget = to;
  $("state-form-label").textContent = `${incident.state.replace("_", " ")} → ${to.replace("_", " ")}`;
  $("state-merged-label").hidden = to !== "merged";
  $("state-merged-into").required = to === "merged";
  $("state-form").hidden = false;
  $("state-message").hidden = true;
  for (const b of $("state-buttons").querySelectorAll("button")) b.classList.toggle("chosen", b.dataset.state === to);
  $("state-reason").focus();
}

function closeStateForm() {
  stateTarget = "";
  $("state-form").hidden = true;
  $("state-reason").value = "";
  $("state-merged-into").value = "";
  for (const b of $("state-buttons").querySelectorAll("button")) b.classList.remove("chosen");
}

$("state-cancel").addEventListener("click", closeStateForm);
$("state-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const patch = { state: stateTarget, reason: $("state-reason").value.trim() };
  if (!patch.state || !patch.reason) return;
  if (patch.state === "merged") patch.merged_into = $("state-merged-into").value.trim();
  $("state-submit").disabled = true;
  try {
    const { body, response } = await csirtFetch(incidentPath, { method: "PATCH", body: patch,
                                                                headers: { "If-Match": etag } });
    setIncident(body, response);
    showMessage("ok", `Now ${body.state.replace("_", " ")}.`, "state-message");
    loadTimeline();
  } catch (e) {
    if (e.status === 412) {
      await loadAll();
      showMessage("error", "changed by someone else: reloaded", "state-message");
    } else {
      // 409: a move the state machine refuses; 400: no reason or no target.
      showMessage("error", e.status === 409 ? e.message : `Not changed: ${e.message}`, "state-message");
    }
  } finally {
    $("state-submit").disabled = false;
  }
});

// ---- SEC01 clocks ---------------------------------------------------------------

function renderClocks() {
  const now = nowNs();
  const steps = incident.sec01 || [];
  $("clocks").tBodies[0].replaceChildren(...steps.map((step) => {
    const status = stepStatus(step, now);
    return el("tr", { class: statusClass(status), "data-key": step.key, "data-status": status },
      el("td", { class: "num" }, step.sec01_step),
      el("td", {}, step.title),
      el("td", {}, statusBadge(status)),
      el("td", { class: `deadline-left ${statusClass(status)}`.trim() }, deadlineText(step, now)),
      el("td", { class: "time" }, timeOrDash(step.due_ns)),
      el("td", { class: "time" }, timeOrDash(step.started_ns)),
      el("td", { class: "time" }, timeOrDash(step.done_ns)));
  }));
  $("clocks").hidden = steps.length === 0;
  $("clocks-empty").hidden = steps.length > 0;
  $("clocks-empty").textContent = OPEN_STATES.includes(incident.state)
    ? "No clock running." : `No clock: the incident is ${incident.state.replace("_", " ")} and owes nothing more.`;
  $("clocks-section").hidden = false;
}

// ---- timeline --------------------------------------------------------------------

function alertItem(a) {
  const level = ["critical", "high", "medium", "low"].includes(a.level) ? a.level : "informational";
  return el("div", { class: `alert-item row-${level}`, "data-alert": a.id },
    el("div", {}, el("span", { class: `level level-${level}` }, a.level || "unknown"), " ",
       el("span", { class: "figure" }, a.rule_title), " ",
       el("span", { class: "hint" }, timeOrDash(a.time_ns))),
    el("div", { class: "fields" },
       field("host", a.host || "—"), field("user", a.user || "—"),
       workloadField(a.workload), field("pid", a.pid ?? "—")),
    a.command_line || a.image ? el("div", { class: "cmd", title: a.image || "" }, a.command_line || a.image) : null);
}

function referencesLine(refs) {
  const parts = [];
  if (!refs) return null;
  if (refs.hosts && refs.hosts.length) parts.push(field("hosts", refs.hosts.join(", ")));
  if (refs.jobs && refs.jobs.length) {
    const links = [];
    refs.jobs.forEach((j, n) => { if (n) links.push(", "); links.push(jobLink(j)); });
    parts.push(field("jobs", ...links));
  }
  if (refs.indicators && refs.indicators.length) {
    const byUuid = new Map(indicators.map((i) => [i.uuid, i]));
    const links = [];
    refs.indicators.forEach((u, n) => {
      if (n) links.push(", ");
      const known = byUuid.get(u);
      links.push(indicatorLink(u, known ? known.value : shortId(u)));
    });
    parts.push(field("indicators", ...links));
  }
  return parts.length ? el("div", { class: "fields" }, ...parts) : null;
}

function entryRow(entry, entriesById) {
  const what = el("td", { class: "what" });
  if (entry.text) what.append(el("div", { class: "text" }, entry.text));
  if (entry.kind === "alert") for (const a of entry.alerts || []) what.append(alertItem(a));
  const refs = referencesLine(entry.references);
  if (refs && entry.kind !== "alert") what.append(refs);
  if (entry.answers) {
    const request = entriesById.get(entry.answers);
    what.append(el("div", { class: "hint" },
      request ? `answers the EGI request of ${localTime(request.occurred_ns)}` : `answers request ${shortId(entry.answers)}`));
  }
  if (entry.corrects) {
    const corrected = entriesById.get(entry.corrects);
    what.append(el("div", { class: "hint" },
      corrected ? `corrects the ${corrected.kind.replace("_", " ")} of ${localTime(corrected.occurred_ns)}`
                : `corrects entry ${shortId(entry.corrects)}`));
  }
  const recorded = Number(entry.recorded_ns) > 0 ? `recorded ${localTime(entry.recorded_ns)}` : "";
  return el("tr", { class: `tl-row tl-${entry.kind}`, "data-kind": entry.kind, "data-entry": entry.id },
    el("td", { class: "time", title: recorded }, timeOrDash(entry.occurred_ns)),
    el("td", {}, kindBadge(entry.kind),
       entry.closure_report ? el("span", { class: "kind kind-closure" }, "closure report") : null),
    el("td", {}, orDash(entry.author),
       entry.source && entry.source !== entry.author ? el("span", { class: "hint block" }, entry.source) : null),
    what,
    el("td", {}, tlpBadge(entry.tlp)));
}

function sightingRow(s) {
  const indicator = indicators.find((i) => i.uuid === s.indicator);
  const name = indicator ? `${indicator.type} ${indicator.value}` : shortId(s.indicator);
  return el("tr", { class: "tl-row tl-sighting", "data-kind": "sighting", "data-indicator": s.indicator },
    el("td", { class: "time" }, timeOrDash(s.first_ns)),
    el("td", {}, kindBadge("sighting")),
    el("td", {}, el("span", { class: "hint" }, s.source || "—")),
    el("td", { class: "what" },
       el("div", {}, "indicator ", indicatorLink(s.indicator, name), ` seen ${countText(s.count)}×`,
          Number(s.last_ns) > Number(s.first_ns) ? `, last at ${localTime(s.last_ns)}` : ""),
       el("div", { class: "fields" },
          field("host", s.host || "—"), workloadField(s.workload),
          field("user", s.user || "—"), field("site", s.site || "—"))),
    el("td", {}, indicator ? tlpBadge(indicator.tlp) : null));
}

// Entries (in time order) and sightings (by first seen) merged in time order.
function renderTimeline(entries, sightings) {
  const entriesById = new Map(entries.map((e) => [e.id, e]));
  const rows = [
    ...entries.map((e, n) => ({ t: Number(e.occurred_ns), n, row: () => entryRow(e, entriesById) })),
    ...sightings.map((s, n) => ({ t: Number(s.first_ns), n: entries.length + n, row: () => sightingRow(s) })),
  ].sort((a, b) => a.t - b.t || a.n - b.n);
  $("timeline").tBodies[0].replaceChildren(...rows.map((r) => r.row()));
  $("timeline").hidden = rows.length === 0;
  $("timeline-empty").hidden = rows.length > 0;
  $("timeline-section").hidden = false;
}

async function loadTimeline() {
  try {
    const [timeline, sightings] = await Promise.all([
      csirtFetch(`${incidentPath}/timeline`), csirtFetch(`${incidentPath}/sightings`)]);
    renderTimeline(timeline.body.timeline || [], sightings.body.sightings || []);
    $("timeline-message").hidden = true;
  } catch (e) {
    showMessage("error", `Could not get the timeline: ${e.message}`, "timeline-message");
    $("timeline-section").hidden = false;
  }
}

// The TLP of a new entry: the incident's or stricter (the collector refuses looser).
function renderNoteTlp() {
  const select = $("note-tlp");
  const chosen = select.value || incident.tlp;
  const allowed = TLPS.slice(0, Math.max(0, TLPS.indexOf(incident.tlp)) + 1);
  select.replaceChildren(...allowed.map((t) => el("option", { value: t }, `TLP:${t.toUpperCase()}`)));
  select.value = allowed.includes(chosen) ? chosen : incident.tlp;
  if (!select.value) select.value = allowed[allowed.length - 1];
}

function syncClosure() {
  const report = $("note-kind").value === "report";
  $("note-closure-label").hidden = !report;
  if (!report) $("note-closure").checked = false;
  // SEC01 step 6: the closure report as TLP:AMBER, AMBER+STRICT or RED.
  if ($("note-closure").checked && TLPS.indexOf($("note-tlp").value) > TLPS.indexOf("amber")) {
    $("note-tlp").value = "amber";
  }
}
$("note-kind").addEventListener("change", syncClosure);
$("note-closure").addEventListener("change", syncClosure);

$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = { kind: $("note-kind").value, text: $("note-text").value.trim(), tlp: $("note-tlp").value,
                  closure_report: $("note-kind").value === "report" && $("note-closure").checked };
  if (!entry.text) return;
  $("note-submit").disabled = true;
  try {
    await csirtFetch(`${incidentPath}/timeline`, { method: "POST", body: entry });
    $("note-text").value = "";
    $("note-closure").checked = false;
    showMessage("ok", "Added.", "note-message");
    // A request or a closure report starts or stops a SEC01 clock.
    await Promise.all([loadIncident(), loadTimeline()]);
  } catch (e) {
    showMessage("error", `Not added: ${e.message}`, "note-message");
  } finally {
    $("note-submit").disabled = false;
  }
});

// ---- scope and indicators ---------------------------------------------------------

function renderScope(scope) {
  $("scope-sites").replaceChildren(chips(scope.sites));
  $("scope-hosts").replaceChildren(chips(scope.hosts));
  $("scope-users").replaceChildren(chips(scope.users));
  $("scope-accounts").replaceChildren(chips(scope.accounts));
  $("scope-total").replaceChildren(
    el("span", { class: "figure" }, kwhOf(scope.energy_joules)), " ",
    el("span", { class: "hint" }, `(${num(scope.energy_joules)} J)`), " · ",
    el("span", { class: "figure" }, `${num(scope.carbon_gco2e)} gCO2e`));
  const jobs = scope.jobs || [];
  $("scope-jobs").tBodies[0].replaceChildren(...jobs.map((j) =>
    el("tr", { "data-job": j.job_id },
       el("td", {}, jobLink(j.job_id), j.ended ? null : el("span", { class: "hint block" }, "running")),
       el("td", {}, orDash(j.user)),
       el("td", {}, orDash(j.account)),
       el("td", {}, chips(j.hosts)),
       el("td", { class: "num" }, kwhOf(j.energy_joules), el("span", { class: "hint block" }, `${num(j.energy_joules)} J`)),
       el("td", { class: "num", title: `${num(j.operational_gco2e)} g operational + ${num(j.embodied_gco2e)} g embodied` },
          `${num(j.carbon_gco2e)} g`,
          el("span", { class: "hint block" }, `${num(j.operational_gco2e)} op. + ${num(j.embodied_gco2e)} emb.`)))));
  $("scope-jobs").hidden = jobs.length === 0;
  $("scope-jobs-empty").hidden = jobs.length > 0;
}

async function loadScope() {
  try {
    const { body } = await csirtFetch(`${incidentPath}/scope`);
    renderScope(body);
    $("scope-message").hidden = true;
  } catch (e) {
    showMessage("error", `Could not get the scope: ${e.message}`, "scope-message");
  }
}

function renderIndicators() {
  $("indicators").tBodies[0].replaceChildren(...indicators.map((i) =>
    el("tr", { "data-uuid": i.uuid, class: i.deleted ? "revoked" : "" },
       el("td", {}, i.type),
       el("td", { class: "ioc-value" }, indicatorLink(i.uuid, i.value),
          i.deleted ? el("span", { class: "badge-revoked" }, "revoked") : null),
       el("td", {}, orDash(i.role)),
       el("td", {}, tlpBadge(i.tlp)),
       el("td", { class: "time" }, Number(i.last_seen_ns) > 0 ? localTime(i.last_seen_ns) : "never"))));
  $("indicators").hidden = indicators.length === 0;
  $("indicators-empty").hidden = indicators.length > 0;
}

async function loadIndicators() {
  try {
    const { body } = await csirtFetch(`${incidentPath}/indicators`);
    indicators = body.indicators || [];
    renderIndicators();
    $("indicators-message").hidden = true;
  } catch (e) {
    showMessage("error", `Could not get the indicators: ${e.message}`, "indicators-message");
  }
}

// Follows a retro-hunt until it ends, then shows what it found.
async function followRetrohunt(hunt, polls = 0) {
  if (!hunt || !hunt.id) return;
  const say = (kind, text) => showMessage(kind, text, "indicator-add-message");
  if (hunt.state === "done") {
    say("ok", `Retro-hunt done: ${countText(hunt.sightings)} sighting rows from ${countText(hunt.rows_scanned)} stored observables` +
              (hunt.truncated ? " (truncated: too many rows)" : "") + ".");
    await Promise.all([loadIndicators(), loadScope()]);
    await loadTimeline();
    return;
  }
  if (hunt.state === "failed") {
    say("error", `Retro-hunt failed: ${hunt.error || "no reason given"}`);
    return;
  }
  say("info", `Added. Retro-hunt ${hunt.state}…`);
  if (polls >= RETROHUNT_POLL_MAX) {
    say("info", `Added. Retro-hunt still ${hunt.state}: reload later for its sightings.`);
    return;
  }
  await new Promise((resolve) => setTimeout(resolve, RETROHUNT_POLL_MS));
  try {
    const { body } = await csirtFetch(`/retrohunt/${encodeURIComponent(hunt.id)}`);
    await followRetrohunt(body, polls + 1);
  } catch (e) {
    say("info", `Added. Retro-hunt ${hunt.state}: reload later for its sightings.`);
  }
}

$("indicator-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const draft = { type: $("indicator-type").value, value: $("indicator-value").value.trim(),
                  role: $("indicator-role").value };
  if (!draft.value) return;
  $("indicator-submit").disabled = true;
  try {
    const { body } = await csirtFetch(`${incidentPath}/indicators`, { method: "POST", body: draft });
    $("indicator-value").value = "";
    showMessage("ok", "Added.", "indicator-add-message");
    await loadIndicators();
    followRetrohunt(body && body.retrohunt);
  } catch (e) {
    showMessage("error", `Not added: ${e.message}`, "indicator-add-message");
  } finally {
    $("indicator-submit").disabled = false;
  }
});

// ---- loading ----------------------------------------------------------------------

// The incident itself; false when there is none to show.
async function loadIncident() {
  try {
    const { body, response } = await csirtFetch(incidentPath);
    setIncident(body, response);
    $("message").hidden = true;
    return true;
  } catch (e) {
    if (e.status === 404) showMessage("notfound", `No incident ${incidentId} on this collector.`);
    else if (e.status === 401) showMessage("info", "Waiting for an API token.");
    else showMessage("error", `Could not get incident ${incidentId}: ${e.message}`);
    return false;
  }
}

async function loadAll() {
  if (!(await loadIncident())) return;
  $("details").hidden = false;
  // The sightings name their indicators: the list first.
  await Promise.all([loadIndicators(), loadScope()]);
  await loadTimeline();
}

// Time left moves on while the page is open.
setInterval(() => { if (incident) renderClocks(); }, TICK_EVERY_MS);

window.onApiToken = loadAll;
if (incidentId) loadAll();
else showMessage("info", "No incident id: open one from the incident list.");
