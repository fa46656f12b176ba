// Vigie's ban list page (/bans.html), for CSIRT coordinators at a
// federation or a site: each site's acknowledgement of the list (applied,
// failed, reached, stale, unknown, and its serial lag) from GET
// /api/v1/csirt/bans/status; the bans held (this collector's and those
// received from upstream) from GET /bans, with a lift button on its own;
// a form that suspends an identity (POST /bans). Refreshed every 30 s.
// Every value from the API is inserted as text, never as HTML.
"use strict";

const REFRESH_EVERY_MS = 30000;
const SUBJECTS = { user: "user", "x509-dn": "DN", "voms-fqan": "FQAN", oidc: "OIDC", "ssh-key": "SSH key", ip: "address" };
const SITE_STATES = ["applied", "failed", "reached", "stale", "unknown"];

let showAll = new URLSearchParams(location.search).get("all") === "1";

function banState(entry, now) {
  if (Number(entry.lifted_ns) > 0) return "lifted";
  if (Number(entry.expires_ns) > 0 && Number(entry.expires_ns) <= now) return "expired";
  return "active";
}

function siteRow(site) {
  const state = SITE_STATES.includes(site.state) ? site.state : "unknown";
  return el("tr", { class: `site-${state}`, "data-site": site.site },
    el("td", {}, site.site),
    el("td", {}, el("span", { class: `ban-state ban-${state}` }, state)),
    el("td", {}, countText(site.reached_serial)),
    el("td", {}, countText(site.applied_serial)),
    el("td", { class: Number(site.lag) > 0 ? "lagging" : "" }, countText(site.lag)),
    el("td", {}, timeOrDash(site.applied_ns)),
    el("td", {}, (site.failures || []).length ? (site.failures || []).join("; ") : "—"));
}

function banRow(entry, list, own, now) {
  const state = banState(entry, now);
  const lift = own && state === "active"
    ? el("button", { type: "button", class: "lift", "data-id": entry.id }, "Lift")
    : null;
  return el("tr", { class: `ban-row ban-${state}`, "data-id": entry.id },
    el("td", {}, el("span", { class: "field-name" }, SUBJECTS[entry.type] || entry.type), " ",
       el("span", { class: "ban-subject" }, entry.value),
       entry.issuer ? el("span", { class: "hint block ban-issuer", title: "OIDC issuer" }, entry.issuer) : null),
    el("td", {}, (entry.actions || []).join(", ")),
    el("td", {}, (entry.sites || []).length ? entry.sites.join(", ") : "all"),
    el("td", {}, tlpBadge(entry.tlp)),
    el("td", {}, entry.reason,
       entry.incident ? el("span", { class: "hint block" }, "incident ", incidentLink(entry.incident)) : null),
    el("td", {}, entry.origin || list.origin,
       own ? null : el("span", { class: "hint block" }, `received from ${list.origin}, serial ${countText(list.serial)}`)),
    el("td", {}, timeOrDash(entry.created_ns)),
    el("td", {}, state,
       state === "lifted"
         ? el("span", { class: "hint block lift-why" },
              `by ${orDash(entry.lifted_by)}, ${timeOrDash(entry.lifted_ns)}: ${orDash(entry.lift_reason)}`)
         : null),
    el("td", {}, lift));
}

async function load() {
  try {
    const [{ body: status }, { body: held }] = await Promise.all([
      csirtFetch("/bans/status"), csirtFetch("/bans")]);
    const now = nowNs();
    const sites = (status && status.sites) || [];
    $("serial").textContent = `serial ${countText(status.serial)} · updated ${new Date().toLocaleTimeString()}, every 30 s`;
    $("sites").tBodies[0].replaceChildren(...sites.map(siteRow));
    $("sites").hidden = sites.length === 0;
    $("sites-empty").hidden = sites.length > 0;
    const rows = [];
    ((held && held.lists) || []).forEach((list, i) => {
      for (const entry of list.entries || []) {
        if (showAll || banState(entry, now) === "active") rows.push(banRow(entry, list, i === 0, now));
      }
    });
    $("bans").tBodies[0].replaceChildren(...rows);
    $("bans").hidden = rows.length === 0;
    $("bans-empty").hidden = rows.length > 0;
    $("bans-empty").textContent = showAll ? "No bans yet." : "No active bans.";
    $("message").hidden = true;
  } catch (e) {
    if (e.status === 401) showMessage("info", "Waiting for an API token.");
    else showMessage("error", `Could not get the ban list: ${e.message}`);
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
$("filter-active").checked = !showAll;
$("filter-active").addEventListener("change", () => setFilter(false));
$("filter-all").addEventListener("change", () => setFilter(true));
$("ban-type").addEventListener("change", () => { $("issuer-label").hidden = $("ban-type").value !== "oidc"; });

$("bans").addEventListener("click", async (event) => {
  const button = event.target.closest("button.lift");
  if (!button) return;
  const reason = prompt("Why is this ban lifted? (kept with the entry)");
  if (!reason || !reason.trim()) return;
  button.disabled = true;
  try {
    await csirtFetch(`/bans/${encodeURIComponent(button.dataset.id)}/lift`, { method: "POST", body: { reason: reason.trim() } });
    $("lift-message").hidden = true;
    refresh();
  } catch (e) {
    showMessage("error", `Not lifted: ${e.message}`, "lift-message");
    button.disabled = false;
  }
});

$("new-ban").addEventListener("submit", async (event) => {
  event.preventDefault();
  const draft = {
    type: $("ban-type").value,
    value: $("ban-value").value.trim(),
    reason: $("ban-reason").value.trim(),
    tlp: $("ban-tlp").value,
    actions: [...document.querySelectorAll("input[name=action]:checked")].map((c) => c.value),
  };
  if (!draft.value || !draft.reason) return;
  if (draft.type === "oidc") draft.issuer = $("ban-issuer").value.trim();
  const sites = $("ban-sites").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (sites.length) draft.sites = sites;
  const incident = $("ban-incident").value.trim();
  if (incident) draft.incident = incident;
  const button = $("new-ban").querySelector("button[type=submit]");
  button.disabled = true;
  showMessage("info", "Suspending…", "new-message");
  try {
    const { body } = await csirtFetch("/bans", { method: "POST", body: draft });
    showMessage("ok", `Suspended ${body.type} ${body.value}.`, "new-message");
    $("new-ban").reset();
    $("issuer-label").hidden = true;
    refresh();
  } catch (e) {
    showMessage("error", `Not suspended: ${e.message}`, "new-message");
  } finally {
    button.disabled = false;
  }
});

window.onApiToken = refresh;
refresh();
