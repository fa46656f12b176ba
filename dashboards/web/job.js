// Vigie's job page: one Slurm job's energy and carbon footprint, for the
// researcher who ran it (/job.html?id=<job id>), from the collector's
// GET /api/v1/jobs/<id>/footprint. Every value from the API is inserted as
// text (textContent), never as HTML: user and host names come from the
// monitored machines.
"use strict";

// Fixed locale, so that the page reads the same everywhere (and tests can
// check it): 3 significant digits, thousands separated by commas.
const number3 = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 });
const num = (x) => {
  const v = Number(x);
  return Number.isFinite(v) ? number3.format(v) : "—";
};
const joules = (j) => `${num(j)} J`;
const kwh = (k) => `${num(k)} kWh`;
const grams = (g) => `${num(g)} gCO2e`;
const percent = (part, whole) => (whole > 0 ? `${num((100 * part) / whole)} %` : "—");

function duration(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s)) return "—";
  if (s < 60) return `${num(s)} s`;
  if (s < 3600) return `${num(s / 60)} min`;
  return `${num(s / 3600)} h`;
}

const period = (start, end) =>
  start && end ? `${localTime(start)} → ${localTime(end)} (${duration((end - start) / 1e9)})` : "—";

// kind: "info", "notfound" or "error".
function showMessage(kind, text) {
  const message = $("message");
  message.className = `message message-${kind}`;
  message.textContent = text;
  message.hidden = false;
}

function render(f) {
  $("job-id").textContent = f.job_id;
  $("job-user").textContent = f.user || "—";
  $("job-account").textContent = f.account || "—";
  $("job-period").textContent = period(f.start_ns, f.end_ns);
  $("job-cpu").textContent = duration(f.cpu_seconds);
  $("energy-kwh").textContent = kwh(f.energy_kwh);
  $("energy-j").textContent = joules(f.energy_joules);
  $("carbon-total").textContent = grams(f.carbon_gco2e);
  $("carbon-operational").textContent = grams(f.operational_gco2e);
  $("carbon-embodied").textContent = grams(f.embodied_gco2e);
  $("estimated").hidden = !f.estimated;
  $("estimated-note").hidden = !f.estimated;

  const b = f.breakdown_joules || {};
  const parts = [["CPU", b.cpu], ["DRAM", b.dram], ["GPU", b.gpu], ["Idle", b.idle]];
  const whole = parts.reduce((sum, [, j]) => sum + (Number(j) || 0), 0);
  $("breakdown").tBodies[0].replaceChildren(...parts.map(([name, j]) =>
    el("tr", { "data-part": name.toLowerCase() },
       el("td", null, name),
       el("td", { class: "num" }, joules(j || 0)),
       el("td", { class: "num" }, percent(Number(j) || 0, whole)))));

  const eq = f.equivalents || {};
  $("equivalents").replaceChildren(
    el("li", { id: "equivalent-car" }, el("span", { class: "figure" }, `${num(eq.car_km)} km`),
       " driven in an average European passenger car"),
    el("li", { id: "equivalent-tree" }, el("span", { class: "figure" }, `${num(eq.tree_months)} months`),
       " of a mature tree's CO2 sequestration"));
  $("equivalents-source").textContent = eq.source || "—";
  $("equivalents-factors").textContent =
    `Factors: ${num(eq.car_gco2e_per_km)} gCO2e per km; ${num(eq.tree_gco2_per_month)} gCO2 per tree-month.`;

  $("hosts").tBodies[0].replaceChildren(...(f.hosts || []).map((h) =>
    el("tr", { class: h.estimated ? "host-estimated" : "" },
       el("td", null, h.host, estimatedBadge(h.estimated)),
       el("td", { class: "time" }, period(h.start_ns, h.end_ns)),
       el("td", { class: "num" }, duration(h.cpu_seconds)),
       el("td", { class: "num" }, joules(h.energy_joules)),
       el("td", { class: "num" }, grams(h.carbon_gco2e)))));

  $("footprint").hidden = false;
  $("message").hidden = true;
  document.title = `Vigie — job ${f.job_id} footprint`;
}

async function load(id) {
  $("footprint").hidden = true;
  showMessage("info", `Loading the footprint of job ${id}…`);
  let response;
  let body = null;
  try {
    response = await apiFetch(`/api/v1/jobs/${encodeURIComponent(id)}/footprint`);
    body = await response.json().catch(() => null);
  } catch (e) {
    showMessage("error", `Could not reach the collector: ${e.message || e}`);
    return;
  }
  if (response.status === 404) {
    showMessage("notfound",
                `No footprint for job ${id} yet. Footprints are computed when a job ends: ` +
                "the job may still be running, or the id is unknown to this collector.");
    return;
  }
  if (!response.ok || !body) {
    const why = (body && body.error) || `HTTP ${response.status}`;
    showMessage("error", `Could not get the footprint of job ${id}: ${why}`);
    return;
  }
  render(body);
}

const id = (new URLSearchParams(location.search).get("id") || "").trim();
$("job-id-input").value = id;
if (id) load(id);
window.onApiToken = () => { if (id) load(id); };
