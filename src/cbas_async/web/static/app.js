// cbas-async web UI: vanilla JS, no dependencies. The token lives in sessionStorage and is
// sent as a bearer token; downloads and live logs use fetch so the token never enters a URL.
"use strict";

const TOKEN_KEY = "cbas-token";
const main = () => document.getElementById("main");
let stopView = () => {};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

function show(...nodes) {
  main().replaceChildren(...nodes);
  main().focus();
}

const usd = (n) => "$" + Number(n || 0).toFixed(4);

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    route();
    throw new Error("signed out");
  }
  return response;
}

async function json(path, options) {
  const response = await api(path, options);
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error), { body, status: response.status });
  return body;
}

function poll(every, fn) {
  let timer = null, stopped = false;
  const tick = async () => { try { await fn(); } finally { if (!stopped) timer = setTimeout(tick, every); } };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// --- sign in ---------------------------------------------------------------------------
function signIn(message) {
  const input = el("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  const error = el("p", { class: "error", role: "alert" }, message || "");
  const form = el("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    const answer = await fetch("/api/v1/jobs?limit=1", { headers: { Authorization: "Bearer " + token } });
    if (answer.status === 200) {
      sessionStorage.setItem(TOKEN_KEY, token);
      if (location.hash === "#/jobs") route(); else location.hash = "#/jobs";
    } else {
      error.textContent = answer.status === 401 ? "That token was refused." : "The server answered " + answer.status;
    }
  } },
    el("label", { for: "token" }, "API token"), input,
    el("p", { class: "muted" }, "Create one with ", el("code", {}, "cbas token create"), "; ",
      el("code", {}, "cbas local"), " writes one to local.env as CBAS_API_TOKEN."),
    el("button", { type: "submit" }, "Sign in"), error);
  show(el("h1", {}, "Sign in"), form);
  input.focus();
}

// --- jobs list -------------------------------------------------------------------------
function jobsView() {
  const body = el("tbody");
  const filter = el("select", { id: "state-filter", onchange: () => refresh() },
    el("option", { value: "" }, "all states"),
    ["PENDING", "LAUNCHING", "RUNNING", "INTERRUPTED", "SUCCEEDED", "FAILED", "CANCELLED"]
      .map((s) => el("option", { value: s }, s)));
  const status = el("p", { class: "muted", "aria-live": "polite" });
  async function refresh() {
    const q = filter.value ? "&state=" + filter.value : "";
    const page = await json("/api/v1/jobs?limit=200" + q);
    const jobs = page.jobs.sort((a, b) => b.created_at.localeCompare(a.created_at));
    body.replaceChildren(...jobs.map((j) => el("tr", { "data-job": j.job_id },
      el("td", {}, el("a", { href: "#/jobs/" + j.job_id }, j.job_id)),
      el("td", {}, j.name),
      el("td", { class: "state state-" + j.state }, j.state),
      el("td", { class: "wide" }, j.attempt),
      el("td", { class: "wide" }, usd(j.cost.spot_usd)))));
    status.textContent = jobs.length + " jobs, updated " + new Date().toLocaleTimeString();
  }
  show(el("h1", {}, "Jobs"), el("label", { for: "state-filter" }, "Show "), filter, status,
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Job"), el("th", {}, "Name"), el("th", {}, "State"),
        el("th", { class: "wide" }, "Attempt"), el("th", { class: "wide" }, "Spot cost"))), body)));
  return poll(2000, refresh);
}

// --- job detail ------------------------------------------------------------------------
function timeline(job) {
  const items = job.events.map((e) => ({
    at: e.at, kind: e.to_state === "INTERRUPTED" ? "interruption" : "state",
    text: `${e.from_state ? e.from_state + " → " : ""}${e.to_state} (attempt ${e.attempt}, ${e.actor})` +
      (e.detail ? ": " + e.detail : "") }));
  for (const c of job.checkpoints) {
    items.push({ at: c.taken_at, kind: "checkpoint",
      text: `checkpoint ${c.attempt}-${c.seq} (${c.method}, ${c.size_bytes} bytes)` });
  }
  items.sort((a, b) => new Date(a.at) - new Date(b.at));
  return el("ol", { class: "timeline", id: "timeline" }, items.map((i) =>
    el("li", { class: "kind-" + i.kind }, el("time", { datetime: i.at }, new Date(i.at).toLocaleString()), " ", i.text)));
}

function costText(cost) {
  const saved = cost.ondemand_usd > 0 ? ` — saves ${(100 * (1 - cost.spot_usd / cost.ondemand_usd)).toFixed(0)}%` : "";
  return `spot ${usd(cost.spot_usd)} vs on-demand ${usd(cost.ondemand_usd)}${saved}; work redone ${cost.work_redone_s}s`;
}

// one row per attempt: where it ran (region, zone, type), how it ended, what it cost
function attemptsTable(job) {
  const dash = (v) => v || "—";
  const rows = job.attempts.map((a) => el("tr", { "data-attempt": a.attempt },
    el("td", {}, a.attempt), el("td", { class: "region" }, dash(a.region)), el("td", {}, dash(a.zone)),
    el("td", { class: "wide" }, dash(a.instance_type)), el("td", { class: "state state-" + a.last_state }, a.last_state),
    el("td", {}, a.cost_usd === null ? "not priced yet" : usd(a.cost_usd))));
  return el("div", { class: "scroll" }, el("table", { id: "attempts" },
    el("thead", {}, el("tr", {}, el("th", {}, "Attempt"), el("th", {}, "Region"), el("th", {}, "Zone"),
      el("th", { class: "wide" }, "Type"), el("th", {}, "Last state"), el("th", {}, "Cost"))),
    el("tbody", {}, rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "Not launched yet."))])));
}

async function download(url, name) {
  const response = await api(url);
  const blob = await response.blob();
  const link = el("a", { href: URL.createObjectURL(blob), download: name.split("/").pop() });
  document.body.append(link);
  link.click();
  link.remove();
}

function followLogs(jobId, pre, onState) {
  const controller = new AbortController();
  (async () => {
    const response = await api(`/api/v1/jobs/${jobId}/logs/stream`, { signal: controller.signal });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const name = (block.match(/^event: (.*)$/m) || [])[1];
        const data = (block.match(/^data: (.*)$/m) || [])[1];
        if (!name || !data) continue;
        const payload = JSON.parse(data);
        if (name === "log") pre.append(payload.text);
        else onState(payload.state);
      }
    }
  })().catch(() => {});
  return () => controller.abort();
}

function jobView(jobId) {
  const facts = el("dl", { class: "facts" });
  const events = el("div");
  const tries = el("div");
  const outputs = el("ul", { id: "outputs" });
  const pre = el("pre", { class: "logs", id: "logs", tabindex: "0", "aria-label": "Logs" });
  const cancel = el("button", { type: "button", id: "cancel", onclick: async () => {
    await json(`/api/v1/jobs/${jobId}/cancel`, { method: "POST" }); refresh(); } }, "Cancel job");
  async function refresh() {
    const job = await json("/api/v1/jobs/" + jobId);
    const p = job.placement || {};
    facts.replaceChildren(
      el("dt", {}, "Name"), el("dd", {}, job.name),
      el("dt", {}, "State"), el("dd", { class: "state state-" + job.state, id: "job-state" }, job.state),
      el("dt", {}, "Attempt"), el("dd", {}, `${job.attempt} of ${job.max_attempts}`),
      el("dt", {}, "Placement"), el("dd", { id: "placement" }, [p.instance_type, p.region, p.zone, p.instance_id].filter(Boolean).join(" ") || "—"),
      el("dt", {}, "Cost"), el("dd", { id: "cost" }, costText(job.cost)),
      el("dt", {}, "Command"), el("dd", {}, el("code", {}, (job.spec.command || []).join(" "))),
      ...(job.reason ? [el("dt", {}, "Reason"), el("dd", {}, job.reason)] : []));
    cancel.hidden = ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.state);
    tries.replaceChildren(attemptsTable(job));
    events.replaceChildren(timeline(job));
    const out = await json(`/api/v1/jobs/${jobId}/outputs`);
    outputs.replaceChildren(...(out.outputs.length ? out.outputs.map((o) => el("li", {},
      el("button", { type: "button", class: "download", onclick: () => download(o.url, o.name) },
        `Download ${o.name}`), ` ${o.size_bytes} bytes`)) : [el("li", { class: "muted" }, "none yet")]));
  }
  show(el("p", {}, el("a", { href: "#/jobs" }, "← all jobs")), el("h1", {}, "Job ", jobId), facts, cancel,
    el("h2", {}, "Attempts"), tries, el("h2", {}, "Timeline"), events, el("h2", {}, "Logs"), pre, el("h2", {}, "Outputs"), outputs);
  const stopPoll = poll(3000, refresh);
  const stopLogs = followLogs(jobId, pre, () => refresh());
  return () => { stopPoll(); stopLogs(); };
}

// --- submit ----------------------------------------------------------------------------
const FIELDS = [
  ["name", "Name", "text"], ["command", "Command (words separated by spaces)", "text"],
  ["output_files", "Output files (comma separated)", "text"],
  ["max_attempts", "Max attempts", "number"], ["max_price_usd_per_hour", "Max price (USD per hour)", "text"],
  ["expected_hours", "Expected runtime (hours)", "text"],
];

function fieldBlock(id, label, input) {
  return el("div", {}, el("label", { for: id }, label), input,
    el("span", { class: "field-error", id: "err-" + id, role: "alert" }));
}

function specFromFields(form, inputs) {
  const v = (id) => form.querySelector("#" + id).value.trim();
  const spec = { name: v("name"), command: v("command") ? v("command").split(/\s+/) : [],
    checkpoint: { method: v("checkpoint") } };
  if (v("output_files")) spec.output_files = v("output_files").split(",").map((s) => s.trim()).filter(Boolean);
  if (v("max_attempts")) spec.max_attempts = Number(v("max_attempts"));
  if (v("max_price_usd_per_hour")) spec.max_price_usd_per_hour = Number(v("max_price_usd_per_hour"));
  // sent as typed when not a number, so the server names the field instead of JSON's null
  const hours = Number(v("expected_hours"));
  if (v("expected_hours")) spec.expected_hours = Number.isFinite(hours) ? hours : v("expected_hours");
  if (inputs.length) spec.input_files = inputs.map((f) => f.name);
  return spec;
}

function showErrors(form, body) {
  form.querySelectorAll(".field-error").forEach((n) => (n.textContent = ""));
  const general = form.querySelector("#err-general");
  general.textContent = body.errors.length ? "" : body.error;
  for (const { field, problem } of body.errors) {
    const root = field.split(/[.[]/)[0];
    const id = root === "input" ? "input_files" : root;
    const slot = form.querySelector("#err-" + id) || general;
    slot.textContent += `${field || "spec"}: ${problem} `;
  }
}

function submitView() {
  const specFile = el("input", { type: "file", id: "spec", accept: ".json,.jdl" });
  const inputs = el("input", { type: "file", id: "input_files", multiple: true });
  const form = el("form", { class: "stack", id: "submit-form" },
    fieldBlock("spec", "Spec file (JSON or JDL; leave empty to use the fields below)", specFile),
    ...FIELDS.map(([id, label, type]) => fieldBlock(id, label, el("input", { type, id, name: id }))),
    fieldBlock("checkpoint", "Checkpointing", el("select", { id: "checkpoint" },
      ["none", "app", "dmtcp"].map((m) => el("option", { value: m }, m)))),
    fieldBlock("input_files", "Input files", inputs),
    el("p", { class: "error", id: "err-general", role: "alert" }),
    el("button", { type: "submit" }, "Submit job"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const files = [...inputs.files];
    const data = new FormData();
    if (specFile.files.length) data.append("spec", specFile.files[0], specFile.files[0].name);
    else data.append("spec", new Blob([JSON.stringify(specFromFields(form, files))], { type: "application/json" }), "spec.json");
    files.forEach((f) => data.append("input", f, f.name));
    const response = await api("/api/v1/jobs", { method: "POST", body: data });
    const body = await response.json();
    if (response.status === 201) location.hash = "#/jobs/" + body.job_id;
    else showErrors(form, body);
  });
  show(el("h1", {}, "Submit a job"), form);
}

// --- spot prices -----------------------------------------------------------------------
const COLORS = ["#0550ae", "#bc4c00", "#116329", "#8250df", "#bf3989", "#4d2d00", "#1b7c83"];
const CAP = "#cf222e";  // the max prices' dashed lines
const DASHES = ["", "9 3", "2 3", "9 3 2 3"];  // one per region, so colours need not tell regions apart
const color = (i) => COLORS[i % COLORS.length];  // by index in data.series, chart and legend alike
const dashes = (data, s) => DASHES[Math.max(0, data.regions.indexOf(s.region)) % DASHES.length];
const NS = "http://www.w3.org/2000/svg";

function svgNode(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function swatch(stroke, dasharray) {
  const svg = svgNode("svg", { width: 28, height: 10, "aria-hidden": "true", class: "swatch" });
  svg.append(svgNode("line", { x1: 0, y1: 5, x2: 28, y2: 5, stroke, "stroke-width": 3, "stroke-dasharray": dasharray }));
  return svg;
}

const seriesName = (s) => `${s.instance_type} in ${s.region} ${s.zone}`;

function chart(data) {
  const W = 800, H = 320, P = 48;
  const pts = data.series.flatMap((s) => s.points.map(([t, p]) => [Date.parse(t), p]));
  const caps = data.max_prices.map((m) => m.max_price_usd_per_hour).filter((x) => x);
  if (!pts.length) return el("p", { class: "muted" }, "No prices yet.");
  const t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]), t0 + 1);
  const pMax = Math.max(...pts.map((p) => p[1]), ...caps) * 1.1 || 1;
  const x = (t) => P + ((t - t0) / (t1 - t0)) * (W - 2 * P);
  const y = (p) => H - P - (p / pMax) * (H - 2 * P);
  const svg = svgNode("svg", {});
  const add = (tag, attrs, text, parent = svg) => { const n = svgNode(tag, attrs, text); parent.append(n); return n; };
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Spot price per region, zone and instance type");
  add("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: "#888" });
  add("line", { x1: P, y1: P, x2: P, y2: H - P, stroke: "#888" });
  add("text", { x: 4, y: P - 6, "font-size": 12 }, "$" + pMax.toPrecision(3));
  add("text", { x: 4, y: H - P, "font-size": 12 }, "$0");
  data.series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points.map(([t, p], k) => `${k ? "L" : "M"}${x(Date.parse(t)).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
    const path = add("path", { d: s.points.length > 1 ? d : d + ` L${W - P},${y(s.points[0][1])}`, fill: "none",
      stroke: color(i), "stroke-width": 2, "stroke-dasharray": dashes(data, s), "data-region": s.region,
      "data-zone": s.zone });
    add("title", {}, seriesName(s), path);  // the name on hover
  });
  data.max_prices.filter((m) => m.max_price_usd_per_hour).forEach((m) => {
    const line = add("line", { x1: P, x2: W - P, y1: y(m.max_price_usd_per_hour), y2: y(m.max_price_usd_per_hour),
      stroke: CAP, "stroke-dasharray": "6 4" });
    add("title", {}, `max price of ${m.job_id} (${m.instance_type} in ${m.region})`, line);
  });
  return svg;
}

// one line per region: its zones and types, in the colours of their lines
function legend(data) {
  const regions = [...new Set(data.series.map((s) => s.region))];
  return el("div", { class: "legend", id: "legend" },
    regions.map((r) => el("p", { "data-region": r }, el("strong", {}, r), " ",
      data.series.flatMap((s, i) => s.region === r
        ? [el("span", { style: "color:" + color(i) }, swatch(color(i), dashes(data, s)), ` ${s.zone} ${s.instance_type}`)]
        : []))),
    data.max_prices.length ? el("p", {}, el("span", { style: "color:" + CAP }, swatch(CAP, "6 4"), " max price in use")) : "");
}

function pricesView() {
  const types = el("input", { type: "text", id: "types", placeholder: "c5.large,m5.large" });
  const region = el("select", { id: "region-filter", onchange: () => load() }, el("option", { value: "" }, "all regions"));
  const out = el("div", { id: "prices" });
  async function load() {
    const query = new URLSearchParams();
    if (types.value.trim()) query.set("instance_type", types.value.trim());
    if (region.value) query.set("region", region.value);
    const data = await json("/api/v1/spot/prices" + (query.toString() ? "?" + query : ""));
    if (region.options.length === 1) region.append(...data.regions.map((r) => el("option", { value: r }, r)));
    region.parentElement.hidden = data.regions.length < 2;  // one region: nothing to choose
    out.replaceChildren(chart(data), legend(data));
  }
  show(el("h1", {}, "Spot prices"), el("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); load(); } },
    el("label", { for: "types" }, "Instance types"), types,
    el("div", {}, el("label", { for: "region-filter" }, "Region"), region),
    el("button", { type: "submit" }, "Show")), out);
  return poll(60000, load);
}

// --- workers ---------------------------------------------------------------------------
function workersView() {
  const body = el("tbody");
  show(el("h1", {}, "Workers"), el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {},
    ["Job", "State", "Instance", "Type", "Region", "Zone", "Last ping"].map((h) => el("th", {}, h)))), body)));
  return poll(2000, async () => {
    const { workers } = await json("/api/v1/workers");
    body.replaceChildren(...(workers.length ? workers.map((w) => el("tr", {},
      el("td", {}, el("a", { href: "#/jobs/" + w.job_id }, w.job_id)), el("td", { class: "state" }, w.state),
      el("td", {}, w.instance_id || "—"), el("td", {}, w.instance_type || "—"), el("td", {}, w.region || "—"), el("td", {}, w.zone || "—"),
      el("td", {}, w.last_ping_s_ago === null ? "not yet" : w.last_ping_s_ago.toFixed(1) + " s ago")))
      : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No live workers."))]));
  });
}

// --- who is signed in ------------------------------------------------------------------
let shownFor = null;  // the token whose name is shown, so routing asks once per sign-in
async function showMe() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const whoami = document.getElementById("whoami");
  if (token === shownFor) return;
  shownFor = token;
  whoami.textContent = "";
  if (!token) return;
  const me = await json("/api/v1/me");
  whoami.textContent = `Signed in as ${me.name}` + (me.role === "admin" ? " (admin)" : "");
}

// --- routing ---------------------------------------------------------------------------
function route() {
  stopView();
  stopView = () => {};
  const signedIn = Boolean(sessionStorage.getItem(TOKEN_KEY));
  document.getElementById("nav").hidden = !signedIn;
  showMe().catch(() => {});
  if (!signedIn) return signIn();
  const hash = location.hash || "#/jobs";
  const job = hash.match(/^#\/jobs\/(j-[\w-]+)$/);
  const views = { "#/jobs": jobsView, "#/submit": submitView, "#/prices": pricesView, "#/workers": workersView };
  stopView = (job ? jobView(job[1]) : (views[hash] || jobsView)()) || (() => {});
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY); location.hash = ""; route(); });
  route();
});
