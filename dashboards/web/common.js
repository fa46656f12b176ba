// DOM and formatting helpers shared by Vigie's pages (index.html, job.html,
// and the CSIRT pages incidents.html, incident.html, indicator.html); loaded
// before each page's own script. Values from the API are inserted as
// text nodes, never as HTML: they come from monitored machines.
"use strict";

const FETCH_TIMEOUT_MS = 10000;

const $ = (id) => document.getElementById(id);

// <tag attrs...>children</tag>; strings become text nodes, null/undefined are left out.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// ns since the epoch -> "YYYY-MM-DD hh:mm:ss" in the browser's time zone.
function localTime(ns) {
  const d = new Date(Number(ns) / 1e6);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const estimatedBadge = (flag) =>
  flag ? el("span", { class: "badge-estimated", title: "modelled, not measured" }, "estimated") : null;

// ---- API token ----------------------------------------------------------------
// A collector with api_tokens answers 401 without one. The token is kept in
// this browser's localStorage (per origin) and sent as "Authorization: Bearer";
// on a 401 a small form asks for it, and the page's `onApiToken` (if any)
// runs again with it (pages that poll just pick it up). Static files need
// no token. localStorage is readable by any script of this origin: the page
// loads only its own scripts and inserts API values as text, never as HTML.
const TOKEN_KEY = "vigie.apiToken";

// The token in use: localStorage's, or this page's when storage is refused.
let sessionToken = "";
function storedToken() {
  try { return localStorage.getItem(TOKEN_KEY) || sessionToken; } catch (e) { return sessionToken; }
}

function showTokenPrompt(message) {
  if ($("token-prompt")) return;
  const input = el("input", { type: "password", id: "token-input", autocomplete: "current-password",
                              placeholder: "API token", "aria-label": "API token" });
  const form = el("form", { id: "token-prompt", class: "token-prompt" },
    el("span", {}, message), input, el("button", { type: "submit" }, "Use token"));
  if (storedToken()) {
    const forget = el("button", { type: "button", id: "token-forget" }, "Forget stored token");
    forget.addEventListener("click", () => {
      try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage refused */ }
      sessionToken = "";
      form.remove();
    });
    form.append(forget);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    try { localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage refused: this page only */ }
    sessionToken = token;
    form.remove();
    if (typeof window.onApiToken === "function") window.onApiToken();
  });
  document.body.prepend(form);
  input.focus();
}

// fetch() for the collector's API: the stored token, no cache, a timeout; a
// 401 shows the token form (the caller still gets the response). `init`
// may add a method, headers and a body (the CSIRT pages' POST and PATCH).
async function apiFetch(path, init = {}) {
  const token = storedToken();
  const headers = { ...(init.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...init, cache: "no-store", headers,
                                       signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (response.status === 401) {
    showTokenPrompt(token ? "The stored API token was refused; enter another:"
                          : "This collector needs an API token:");
  }
  return response;
}
