// Vigie's incident list (/incidents.html, ?all=1 for closed ones too), for
// CSIRT coordinators: each incident with its TLP and its next EGI SEC01
// deadline, from GET /api/v1/csirt/incidents, refreshed every 30 s; and a
// form that opens a new incident (POST) and goes to its page. Every value
// from the API is inserted as text, never as HTML.
"use strict";

const REFRESH_EVERY_MS = 30000;
const LIST_LIMIT = 200;

let showAll = new URLSearchParams(location.search).get("all") === "1";

// The next deadline: how long is left (or how late), then which step and when.
function deadlineCell(step, now) {
  if (!step) return el("td", { class: "deadline" }, el("span", { class: "hint" }, "none"));
  const status = stepStatus(step, now);
  return el("td", { class: `deadline ${statusClass(status)}`.trim(), "data-status": status },
    el("span", { class: "deadline-left" }, deadlineText(step, now)),
    el("span", { class: "deadline-what" }, `${step.title} · due ${timeOrDash(step.due_ns)}`));
}

function incidentRow(incident, now) {
  const step = incident.next_deadline || null;
  const status = step ? stepStatus(step, now) : "ok";
  const sites = (incident.sites || []).join(", ");
  return el("tr", { class: `row-${SEVERITIES.includes(incident.severity) ? incident.severity : "informational"} ${statusClass(status)}`.trim(),
                    "data-id": incident.id },
    el("td", { class: "incident-id" }, incidentLink(incident.id)),
    el("td", {}, el("span", { class: "incident-title" }, incident.title),
       sites ? el("span", { class: "hint block" }, sites) : null),
    el("td", {}, stateBadge(incident.state),
       incident.state === "merged" && incident.merged_into ? el("span", { class: "hint block" }, "into ", incidentLink(incident.merged_into)) : null),
    el("td", {}, severityBadge(incident.severity)),
    el("td", {}, tlpBadge(incident.tlp)),
    el("td", {}, orDash(incident.coordinator)),
    deadlineCell(step, now));
}

async function load() {
  const query = showAll ? `?limit=${LIST_LIMIT}` : `?open=1&limit=${LIST_LIMIT}`;
  try {
    const { body } = await csirtFetch(`/incidents${query}`);
    const incidents = (body && body.incidents) || [];
    const now = nowNs();
    $("incidents").tBodies[0].replaceChildren(...incidents.map((i) => incidentRow(i, now)));
    $("incidents").hidden = incidents.length === 0;
    $("incidents-empty").hidden = incidents.length > 0;
    $("incidents-empty").textContent = showAll ? "No incidents yet." : "No open incidents. All quiet.";
    $("message").hidden = true;
    const more = incidents.length >= LIST_LIMIT ? ` · the newest ${LIST_LIMIT} only` : "";
    $("refreshed").textContent = `newest first · updated ${new Date().toLocaleTimeString()}, every 30 s${more}`;
  } catch (e) {
    if (e.status === 401) showMessage("info", "Waiting for an API token.");
    else showMessage("error", `Could not get the incidents: ${e.message}`);
  }
}

// The next refresh starts 30 s after the previous one finished.
const refresh = refresher(load, REFRESH_EVERY_MS);

function setFilter(all) {
  showAll = all;
  keepAllInUrl(all);
  refresh();
}

$("filter-all").checked = showAll;
$("filter-open").checked = !showAll;
$("filter-open").addEventListener("change", () => setFilter(false));
$("filter-all").addEventListener("change", () => setFilter(true));

$("new-incident").addEventListener("submit", async (event) => {
  event.preventDefault();
  const draft = { title: $("new-title").value.trim(), severity: $("new-severity").value };
  if (!draft.title) return;
  const summary = $("new-summary").value.trim();
  const coordinator = $("new-coordinator").value.trim();
  if (summary) draft.summary = summary;
  if (coordinator) draft.coordinator = coordinator;
  if ($("new-tlp").value) draft.tlp = $("new-tlp").value;
  const button = $("new-incident").querySelector("button[type=submit]");
  button.disabled = true;
  showMessage("info", "Opening…", "new-message");
  try {
    const { body } = await csirtFetch("/incidents", { method: "POST", body: draft });
    location.href = `/incident.html?id=${encodeURIComponent(body.id)}`;
  } catch (e) {
    showMessage("error", `Not opened: ${e.message}`, "new-message");
    button.disabled = false;
  }
});

window.onApiToken = refresh;
refresh();
