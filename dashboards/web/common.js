// DOM and formatting helpers shared by Vigie's pages (index.html, job.html);
// loaded before each page's own script. Values from the API are inserted as
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
