// Vigie's indicator page (/indicator.html?uuid=<uuid>), for CSIRT
// coordinators: one indicator of compromise as the collector keeps it (its
// TLP, whether it is matched, revoked or expired) and where it was seen, one
// row per site, host, workload, user and source, from
// GET /api/v1/csirt/indicators/<uuid>/sightings. Every value from the API is
// inserted as text, never as HTML: indicators come from other CSIRTs' feeds.
"use strict";

const uuid = (new URLSearchParams(location.search).get("uuid") || "").trim();

function renderIndicator(i) {
  $("indicator-type").textContent = i.type;
  $("indicator-value").textContent = i.value;
  $("indicator-tlp").replaceChildren(tlpBadge(i.tlp));
  $("indicator-revoked").hidden = !i.deleted;
  const expired = !i.deleted && Number(i.valid_until_ns) > 0 && Number(i.valid_until_ns) <= nowNs();
  $("indicator-expired").hidden = !expired;
  $("indicator-expired").textContent = expired
    ? `Expired on ${localTime(i.valid_until_ns)}: it no longer matches new events.` : "";
  $("indicator-to-ids").textContent = i.to_ids
    ? "yes: matched against every new event" : "no: kept for reference, never matched";
  $("indicator-source").textContent = orDash(i.source);
  $("indicator-tags").replaceChildren(i.tags && i.tags.length
    ? el("span", { class: "chips" }, ...i.tags.map((t) => el("span", { class: "chip" }, t))) : "—");
  $("indicator-comment").textContent = orDash(i.comment);
  $("indicator-first-seen").textContent = Number(i.first_seen_ns) > 0 ? localTime(i.first_seen_ns) : "never";
  $("indicator-last-seen").textContent = Number(i.last_seen_ns) > 0 ? localTime(i.last_seen_ns) : "never";
  $("indicator-valid-until").textContent = Number(i.valid_until_ns) > 0 ? localTime(i.valid_until_ns) : "no end";
  $("indicator-recorded").textContent =
    `${timeOrDash(i.created_ns)}, updated ${timeOrDash(i.updated_ns)}`;
  $("indicator-uuid").textContent = i.uuid;
  $("indicator-section").classList.toggle("revoked", Boolean(i.deleted));
  $("indicator-section").hidden = false;
  document.title = `Vigie — ${i.type} ${i.value}${i.deleted ? " (revoked)" : ""}`;
}

// By site, then host, then the latest seen first: one site's rows together.
function renderSightings(sightings) {
  const rows = [...sightings].sort((a, b) =>
    String(a.site).localeCompare(String(b.site)) || String(a.host).localeCompare(String(b.host)) ||
    Number(b.last_ns) - Number(a.last_ns));
  let site = null;
  $("sightings").tBodies[0].replaceChildren(...rows.map((s) => {
    const first = s.site !== site;
    site = s.site;
    return el("tr", { class: first ? "group-start" : "", "data-site": s.site || "", "data-host": s.host || "" },
      el("td", {}, orDash(s.site)),
      el("td", {}, orDash(s.host)),
      el("td", {}, workloadNode(s.workload)),
      el("td", {}, orDash(s.user)),
      el("td", { class: "time" }, timeOrDash(s.first_ns)),
      el("td", { class: "time" }, timeOrDash(s.last_ns)),
      el("td", { class: "num" }, countText(s.count)),
      el("td", {}, el("span", { class: `source source-${String(s.source).replace(/[^a-z]/g, "")}` }, orDash(s.source))));
  }));
  const hosts = new Set(rows.map((s) => `${s.site}\n${s.host}`)).size;
  const sites = new Set(rows.map((s) => s.site)).size;
  const total = rows.reduce((sum, s) => sum + (Number(s.count) || 0), 0);
  $("sightings-summary").textContent = rows.length
    ? `seen ${countText(total)} time${total === 1 ? "" : "s"} on ${hosts} host${hosts === 1 ? "" : "s"} at ${sites} site${sites === 1 ? "" : "s"}` : "";
  $("sightings").hidden = rows.length === 0;
  $("sightings-empty").hidden = rows.length > 0;
  $("sightings-section").hidden = false;
}

async function load() {
  try {
    const { body } = await csirtFetch(`/indicators/${encodeURIComponent(uuid)}/sightings`);
    renderIndicator(body.indicator);
    renderSightings(body.sightings || []);
    $("message").hidden = true;
  } catch (e) {
    if (e.status === 404) showMessage("notfound", `No indicator ${uuid} on this collector.`);
    else if (e.status === 401) showMessage("info", "Waiting for an API token.");
    else showMessage("error", `Could not get indicator ${uuid}: ${e.message}`);
  }
}

window.onApiToken = load;
if (uuid) load();
else showMessage("info", "No indicator uuid: open one from an incident's indicators.");
