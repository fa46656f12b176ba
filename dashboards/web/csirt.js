// Helpers shared by the CSIRT pages (incidents.html, incident.html,
// indicator.html), loaded after common.js: the collector's CSIRT API under
// /api/v1/csirt/, TLP 2.0 labels, and the EGI SEC01 clocks as people read
// them ("in 3 h 12 min", "overdue by 2 h"). Every value from the API is
// inserted as text, never as HTML: titles, notes and command lines are
// written by people and by monitored machines.
"use strict";

const CSIRT_API = "/api/v1/csirt";
const NS_PER_MIN = 60e9;

// Most to least restricted (csirt/tlp.h).
const TLPS = ["red", "amber+strict", "amber", "green", "clear"];
const SEVERITIES = ["low", "medium", "high", "critical"];
const OPEN_STATES = ["suspected", "reported", "contained", "investigating", "resolved"];
// The one step forward of the state machine (csirt/incident.h); false_positive
// and merged are allowed from any open state.
const NEXT_STATE = {
  suspected: "reported",
  reported: "contained",
  contained: "investigating",
  investigating: "resolved",
  resolved: "closed",
};

// An API answer other than 2xx: its HTTP status and the collector's message.
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// `method` on the CSIRT API at `path` (below /api/v1/csirt), with a JSON
// body when `body` is given; resolves to { body, response }, throws an
// ApiError for any other status than 2xx (status 0: unreachable).
async function csirtFetch(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await apiFetch(`${CSIRT_API}${path}`, init);
  } catch (e) {
    throw new ApiError(0, `could not reach the collector: ${e.message || e}`);
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const why = (answer && answer.error) || `HTTP ${response.status}`;
    throw new ApiError(response.status, why);
  }
  return { body: answer, response };
}

const nowNs = () => Date.now() * 1e6;
const timeOrDash = (ns) => (Number(ns) > 0 ? localTime(ns) : "—");
const orDash = (text) => (text === null || text === undefined || text === "" ? "—" : text);

// A length of time, to the minute, the two largest units: "2 d 4 h",
// "3 h 12 min", "2 h", "< 1 min".
function spanText(ns) {
  const total = Math.floor(Math.abs(Number(ns)) / NS_PER_MIN);
  if (!Number.isFinite(total)) return "—";
  if (total < 1) return "< 1 min";
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  const mins = total % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return mins > 0 ? `${hours} h ${mins} min` : `${hours} h`;
  return `${mins} min`;
}

// A SEC01 step's status as of `now`: the collector's, made overdue once the
// due time passes while the page is open. "due_soon" is left to the
// collector: step 5 counts working hours, which this page does not know.
function stepStatus(step, now) {
  if (!step) return "ok";
  if (step.status === "done" || Number(step.done_ns) > 0) return "done";
  if (Number(step.due_ns) > 0 && now >= Number(step.due_ns)) return "overdue";
  return ["ok", "due_soon", "overdue"].includes(step.status) ? step.status : "ok";
}

// "in 3 h 12 min", "overdue by 2 h", "done on time", "done 1 h late".
function deadlineText(step, now) {
  if (stepStatus(step, now) === "done") {
    return Number(step.late_ns) > 0 ? `done ${spanText(step.late_ns)} late` : "done on time";
  }
  const due = Number(step.due_ns);
  if (!(due > 0)) return "no due time";
  return now >= due ? `overdue by ${spanText(now - due)}` : `in ${spanText(due - now)}`;
}

// CSS class of a row or cell for a step status ("" when nothing to flag).
const statusClass = (status) => (status === "overdue" ? "overdue" : status === "due_soon" ? "due-soon" : "");

const STATUS_LABELS = { ok: "ok", due_soon: "due soon", overdue: "overdue", done: "done" };
const statusBadge = (status) =>
  el("span", { class: `step-status step-${status.replace("_", "-")}` }, STATUS_LABELS[status] || status);

// TLP 2.0 label as FIRST prints it: "TLP:AMBER+STRICT" in its colour on black.
function tlpBadge(tlp) {
  const name = TLPS.includes(tlp) ? tlp : "unknown";
  return el("span", { class: `tlp tlp-${name.replace("+", "-")}`, title: "Traffic Light Protocol 2.0" },
            `TLP:${String(tlp || "?").toUpperCase()}`);
}

const stateBadge = (state) =>
  el("span", { class: `state state-${String(state).replace(/[^a-z_]/g, "")}` }, String(state).replace("_", " "));

function severityBadge(severity) {
  const level = SEVERITIES.includes(severity) ? severity : "informational";
  return el("span", { class: `level level-${level}` }, severity || "unknown");
}

// A workload as a labelled field: "job 123456" (a link to its footprint
// page) for a Slurm job, "workload kind:id" for others, nothing for a host's
// own processes.
function workloadField(workload) {
  if (!workload || !workload.kind || !workload.id) return null;
  if (workload.kind === "slurm_job") return field("job", jobLink(workload.id));
  return field("workload", `${workload.kind}:${workload.id}`);
}
const field = (name, ...value) =>
  el("span", { class: "field" }, el("span", { class: "field-name" }, name), " ", ...value);

// A Slurm job as a link to its footprint page; other workloads as kind:id.
function workloadNode(workload) {
  if (!workload || !workload.kind) return "—";
  if (workload.kind === "slurm_job" && workload.id) return jobLink(workload.id);
  if (!workload.id || workload.kind === "host" || workload.kind === "unattributed") return workload.kind;
  return `${workload.kind}:${workload.id}`;
}
const jobLink = (jobId) =>
  el("a", { href: `/job.html?id=${encodeURIComponent(jobId)}`, title: `Slurm job ${jobId}: its energy footprint` }, jobId);

const incidentLink = (id) => el("a", { href: `/incident.html?id=${encodeURIComponent(id)}` }, id);
const indicatorLink = (uuid, text) => el("a", { href: `/indicator.html?uuid=${encodeURIComponent(uuid)}` }, text);

// `load` now, then again `everyMs` after each run ends; the function returned
// starts it over (after a change, a filter).
function refresher(load, everyMs) {
  let timer = null;
  const refresh = () => {
    clearTimeout(timer);
    load().finally(() => { timer = setTimeout(refresh, everyMs); });
  };
  return refresh;
}

// The "all" filter of a list page, kept in the URL (?all=1).
function keepAllInUrl(all) {
  const url = new URL(location.href);
  if (all) url.searchParams.set("all", "1");
  else url.searchParams.delete("all");
  history.replaceState(null, "", url);
}

// kind: "info", "ok", "notfound" or "error"; in the element `id` (default "message").
function showMessage(kind, text, id = "message") {
  const message = $(id);
  message.className = `message message-${kind}`;
  message.textContent = text;
  message.hidden = false;
}

// <select> with `values` (value, or [value, label]), `selected` chosen.
function selectOf(attrs, values, selected) {
  return el("select", attrs, ...values.map((v) => {
    const [value, label] = Array.isArray(v) ? v : [v, v];
    const option = el("option", { value }, label);
    if (value === selected) option.selected = true;
    return option;
  }));
}

// Fixed locale, as on the job page: 3 significant digits, thousands separated by commas.
const number3 = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 });
const num = (x) => {
  const v = Number(x);
  return Number.isFinite(v) ? number3.format(v) : "—";
};
// Counts in full: "12,345".
const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const countText = (x) => {
  const v = Number(x);
  return Number.isFinite(v) ? integer.format(v) : "—";
};
