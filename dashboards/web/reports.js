// The sustainability reports page (reports.html): picks a facility and a
// period, shows the collector's printable report
// (/api/v1/reports/<kind>?...&format=html, a page with no script) in a
// sandboxed frame, and offers it as CSV and JSON. A project:<account> token
// reads its community rows only: it cannot list facilities and types the id.
"use strict";

const form = $("report-form");

function params() {
  const p = new URLSearchParams();
  for (const name of ["facility", "from", "to"]) p.set(name, $(name).value.trim());
  if ($("kind").value === "communities") p.set("group_by", $("group_by").value);
  return p;
}

async function download(link, path, type) {
  const response = await apiFetch(path);
  if (!response.ok) return;
  const blob = new Blob([await response.arrayBuffer()], { type });
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
}

async function show() {
  const kind = $("kind").value;
  const p = params();
  const base = `/api/v1/reports/${kind}?${p}`;
  $("message").textContent = "Loading…";
  const response = await apiFetch(`${base}&format=html`);
  if (!response.ok) {
    let reason = `the collector answered ${response.status}`;
    try { reason = (await response.json()).error || reason; } catch (e) { /* not JSON */ }
    $("message").textContent = reason;
    $("report-section").hidden = true;
    return;
  }
  $("report").srcdoc = await response.text();
  $("report-title").textContent = `${$("facility").value}: ${kind}, ${p.get("from")} → ${p.get("to")}`;
  $("report-section").hidden = false;
  $("message").textContent = "";
  const stem = `${p.get("facility")}-${p.get("from")}-${kind}`;
  $("csv").download = `${stem}.csv`;
  $("json").download = `${stem}.json`;
  await download($("csv"), `${base}&format=csv`, "text/csv");
  await download($("json"), `${base}&format=json`, "application/json");
  history.replaceState(null, "", `?kind=${kind}&${p}`);
}

async function listFacilities() {
  const response = await apiFetch("/api/v1/facilities");
  if (!response.ok) return;  // a project token may not list them
  const list = $("facilities");
  for (const f of (await response.json()).facilities) {
    list.append(el("option", { value: f.id }, f.name));
  }
}

function showGroupBy() {
  const communities = $("kind").value === "communities";
  $("group_by").hidden = !communities;
  $("group_by").labels.forEach((label) => { label.hidden = !communities; });
}

form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
$("kind").addEventListener("change", showGroupBy);
$("print").addEventListener("click", () => $("report").contentWindow.print());
const query = new URLSearchParams(location.search);
for (const name of ["facility", "from", "to", "kind", "group_by"]) {
  if (query.get(name)) $(name).value = query.get(name);
}
showGroupBy();
listFacilities();
if (query.get("facility") && query.get("from") && query.get("to")) show();
