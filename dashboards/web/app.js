// Vigie's built-in dashboard: live alerts and power, polled from the
// collector's JSON API. Every value from the API is inserted as text, never
// as HTML: command lines and user names come from monitored machines.
"use strict";

const ALERTS_EVERY_MS = 2000;
const ENERGY_EVERY_MS = 5000;
const LEVELS = ["critical", "high", "medium", "low", "informational"];

const watts = (w) => `${w.toFixed(w < 10 ? 2 : 1)} W`;
const joules = (j) => (j < 360000 ? `${j.toFixed(j < 10 ? 2 : 0)} J` : `${(j / 3.6e6).toFixed(3)} kWh`);
const grams = (g) => `${g.toFixed(g < 10 ? 3 : 1)} g`;

function workloadText(w) {
  if (!w || w.kind === "host" || w.kind === "unattributed") return w ? w.kind : "";
  return `${w.kind}:${w.id}`;
}

function replaceRows(tbody, rows, emptyId) {
  tbody.replaceChildren(...rows);
  $(emptyId).hidden = rows.length > 0;
  tbody.parentElement.hidden = rows.length === 0;
}

// ---- status line -----------------------------------------------------------

const failures = new Map();
function reportStatus(what, error) {
  if (error) failures.set(what, error);
  else failures.delete(what);
  const status = $("status");
  if (failures.size > 0) {
    status.className = "status down";
    status.textContent = `collector unreachable or failing: ${[...failures.values()][0]}`;
  } else {
    status.className = "status ok";
    status.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
  }
}

async function getJson(path) {
  const response = await apiFetch(path);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

// ---- alerts ----------------------------------------------------------------

// Ids in the table after the previous poll (null before the first one): the
// rows not among them are highlighted as new. Only what is shown is kept, so
// a tab left open for weeks does not grow.
let shownAlerts = null;

// What the process did: its command line, or for a connection, where to.
function alertWhat(a) {
  const e = a.event || {};
  if (e.kind === "network_connect") {
    const dest = e.ipv6 ? `[${e.destination_ip}]` : e.destination_ip;
    return `${a.image || e.image || "?"} → ${dest}:${e.destination_port}/${e.transport}`;
  }
  return a.command_line || a.image;
}

function alertRow(a) {
  const level = LEVELS.includes(a.level) ? a.level : "informational";
  const row = el("tr", { class: `row-${level}` },
    el("td", { class: "time" }, localTime(a.time_ns)),
    el("td", {}, el("span", { class: `level level-${level}` }, a.level || "unknown")),
    el("td", { title: a.rule_id }, a.rule_title),
    el("td", {}, a.host),
    el("td", {}, a.user),
    el("td", { class: "num" }, a.pid),
    el("td", {}, workloadText(a.workload), a.workload && a.workload.user && a.workload.kind === "slurm_job"
      ? ` (${a.workload.user})` : null),
    el("td", { class: "cmd", title: a.image }, alertWhat(a)));
  if (shownAlerts && !shownAlerts.has(a.id)) row.classList.add("fresh");
  return row;
}

async function pollAlerts() {
  try {
    const body = await getJson("/api/v1/alerts?limit=100");
    replaceRows($("alerts").tBodies[0], body.alerts.map(alertRow), "alerts-empty");
    shownAlerts = new Set(body.alerts.map((a) => a.id));
    reportStatus("alerts", null);
  } catch (error) {
    reportStatus("alerts", error.message);
  }
}

// ---- energy ----------------------------------------------------------------

let chart = null;
let chartHosts = "";

function chartData(series) {
  const hosts = [...new Set(series.map((p) => p.host))].sort();
  const times = [...new Set(series.map((p) => Math.round(Number(p.t_ns) / 1e6) / 1000))]
    .sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = hosts.map(() => new Array(times.length).fill(null));
  for (const p of series) {
    columns[hosts.indexOf(p.host)][index.get(Math.round(Number(p.t_ns) / 1e6) / 1000)] = p.power_watts;
  }
  return { hosts, data: [times, ...columns] };
}

const PALETTE = ["#2f6f9f", "#c87f0a", "#2e7d4f", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400"];

function drawChart(series, estimatedHosts) {
  const container = $("chart");
  if (typeof uPlot === "undefined") {
    $("chart-missing").hidden = false;
    return;
  }
  const { hosts, data } = chartData(series);
  const key = hosts.join("\n") + "|" + [...estimatedHosts].join("\n");
  if (chart && key === chartHosts) {
    chart.setData(data);
    return;
  }
  if (chart) chart.destroy();
  chartHosts = key;
  const options = {
    width: Math.max(300, container.clientWidth),
    height: 240,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [{}, { size: 56, values: (u, ticks) => ticks.map((v) => `${v} W`) }],
    series: [{}, ...hosts.map((host, i) => ({
      label: estimatedHosts.has(host) ? `${host} (estimated)` : host,
      stroke: PALETTE[i % PALETTE.length],
      width: 2,
      dash: estimatedHosts.has(host) ? [6, 4] : undefined,
      spanGaps: true,  // hosts report at different instants; the x axis is their union
      value: (u, v) => (v === null || v === undefined ? "–" : watts(v)),
    }))],
  };
  chart = new uPlot(options, data, container);
}

function nodeRow(n) {
  const zones = n.zones.map((z) => `${z.zone} ${watts(z.power_watts)}${z.estimated ? " (est.)" : ""}`).join(" · ");
  return el("tr", {},
    el("td", {}, n.host, estimatedBadge(n.estimated)),
    el("td", {}, n.site),
    el("td", { class: "num" }, watts(n.power_watts)),
    el("td", { class: "num" }, joules(n.energy_joules)),
    el("td", { class: "num" }, grams(n.carbon_gco2e)),
    el("td", { class: "zones" }, zones));
}

function workloadRow(w) {
  return el("tr", {},
    el("td", {}, w.host),
    el("td", {}, workloadText(w.workload), estimatedBadge(w.estimated)),
    el("td", {}, w.workload.user),
    el("td", { class: "num" }, watts(w.power_watts)),
    el("td", { class: "num" }, joules(w.energy_joules)),
    el("td", { class: "num" }, `${w.cpu_seconds.toFixed(1)} s`),
    el("td", { class: "num" }, grams(w.carbon_gco2e)));
}

async function pollEnergy() {
  try {
    const body = await getJson("/api/v1/energy");
    $("energy-window").textContent =
      `${localTime(body.window.start_ns)} → ${localTime(body.window.end_ns)} · refreshed every 5 s`;
    replaceRows($("nodes").tBodies[0], body.nodes.map(nodeRow), "nodes-empty");
    replaceRows($("workloads").tBodies[0], body.workloads.map(workloadRow), "workloads-empty");
    drawChart(body.series, new Set(body.nodes.filter((n) => n.estimated).map((n) => n.host)));
    reportStatus("energy", null);
  } catch (error) {
    reportStatus("energy", error.message);
  }
}

window.addEventListener("resize", () => {
  if (chart) chart.setSize({ width: Math.max(300, $("chart").clientWidth), height: 240 });
});

// The next poll starts `ms` after the previous one finished, never while it
// is still in flight (a slow collector must not pile requests up).
function pollEvery(ms, poll) {
  const loop = () => poll().finally(() => setTimeout(loop, ms));
  loop();
}

pollEvery(ALERTS_EVERY_MS, pollAlerts);
pollEvery(ENERGY_EVERY_MS, pollEnergy);
