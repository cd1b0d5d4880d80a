/* SPDX-License-Identifier: Apache-2.0 */
// synthloop dashboard: lists the registry's runs, shows a run's learning curves (SVG drawn
// here from /api/runs/ID/metrics), jobs and verdicts, and follows /api/events (server-sent
// events) to update runs, job progress and curves live. Same-origin requests only.
"use strict";

const state = { runs: [], selected: null, metrics: null, redraw: null, es: null };
const $ = (id) => document.getElementById(id);
const ARMS = ["baseline", "augmented", "real", "synthetic", "control", "treatment"];
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const SVGNS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function fmt(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(5).replace(/\.?0+$/, "");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({ error: "bad JSON from " + url }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// --- runs list -------------------------------------------------------------------------

function renderRuns() {
  const tb = $("runs").querySelector("tbody");
  tb.replaceChildren();
  $("runs-empty").hidden = state.runs.length > 0;
  for (const r of state.runs) {
    const tr = el("tr", { "data-run-id": r.id });
    if (r.id === state.selected) tr.classList.add("selected");
    tr.append(el("td", {}, r.id), el("td", {}, r.command),
              el("td", { class: "status-" + r.status }, r.status),
              el("td", {}, (r.started || "").replace("T", " ").replace("Z", "")),
              el("td", {}, fmt(r.seconds)));
    tr.addEventListener("click", () => { location.hash = "run=" + r.id; });
    tb.append(tr);
  }
}

async function loadRuns() {
  state.runs = await getJSON("/api/runs?limit=200");
  renderRuns();
}

async function loadExperiments() {
  const ul = $("experiments");
  ul.replaceChildren();
  const ex = await getJSON("/api/experiments");
  if (!ex.length) ul.append(el("li", { class: "muted" }, "none recorded"));
  for (const e of ex.slice(0, 30)) {
    const li = el("li");
    const a = el("a", { href: "#run=" + e.run_id }, "run " + e.run_id);
    li.append(a, document.createTextNode(" " + e.name + ": "), el("b", {}, e.verdict));
    ul.append(li);
  }
}

// --- charts ------------------------------------------------------------------------------

function splitArm(name) {
  const parts = name.split("/");
  const i = parts.findIndex((p) => ARMS.includes(p));
  if (i < 0) return { key: name, arm: null };
  const rest = parts.slice(0, i).concat(parts.slice(i + 1)).join("/");
  return { key: rest || name, arm: parts[i] };
}

function niceStep(range, target) {
  const raw = range / target, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}
function axis(lo, hi, target) {
  if (!(lo <= hi) || !isFinite(lo) || !isFinite(hi)) { lo = 0; hi = 1; }
  if (hi === lo) { const d = lo ? Math.abs(lo) * 0.1 : 0.5; lo -= d; hi += d; }
  const step = niceStep(hi - lo, target);
  return { lo: Math.floor(lo / step) * step, hi: Math.ceil(hi / step) * step, step };
}

// One line chart; series = [{label, step: [...], value: [...]}].
function lineChart(title, series) {
  const W = 520, H = 260, ML = 56, MR = 12, MT = 26, MB = 34;
  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (const s of series) for (let i = 0; i < s.step.length; i++) {
    const x = s.step[i], y = s.value[i];
    if (!isFinite(x) || !isFinite(y)) continue;
    xlo = Math.min(xlo, x); xhi = Math.max(xhi, x); ylo = Math.min(ylo, y); yhi = Math.max(yhi, y);
  }
  const ax = axis(xlo, xhi, 5), ay = axis(ylo, yhi, 4);
  const mx = (v) => ML + (v - ax.lo) / (ax.hi - ax.lo) * (W - ML - MR);
  const my = (v) => H - MB - (v - ay.lo) / (ay.hi - ay.lo) * (H - MT - MB);
  const svg = svgEl("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, "data-title": title });
  svg.append(svgEl("text", { x: W / 2, y: 16, "text-anchor": "middle", "font-size": 13, "font-weight": "bold" }, title));
  for (let v = ay.lo; v <= ay.hi + ay.step / 2; v += ay.step) {
    svg.append(svgEl("line", { x1: ML, x2: W - MR, y1: my(v), y2: my(v), stroke: "#eee" }));
    svg.append(svgEl("text", { x: ML - 4, y: my(v) + 4, "text-anchor": "end", "font-size": 10 }, +v.toPrecision(4)));
  }
  for (let v = ax.lo; v <= ax.hi + ax.step / 2; v += ax.step)
    svg.append(svgEl("text", { x: mx(v), y: H - MB + 14, "text-anchor": "middle", "font-size": 10 }, +v.toPrecision(4)));
  svg.append(svgEl("rect", { x: ML, y: MT, width: W - ML - MR, height: H - MT - MB, fill: "none", stroke: "#999" }));
  svg.append(svgEl("text", { x: (ML + W - MR) / 2, y: H - 4, "text-anchor": "middle", "font-size": 10 }, "step"));
  series.forEach((s, k) => {
    const pts = [];
    const stride = Math.max(1, Math.ceil(s.step.length / 1500));
    for (let i = 0; i < s.step.length; i++) {
      if (i % stride && i !== s.step.length - 1) continue;
      if (isFinite(s.step[i]) && isFinite(s.value[i])) pts.push(mx(s.step[i]).toFixed(1) + "," + my(s.value[i]).toFixed(1));
    }
    svg.append(svgEl("polyline", { points: pts.join(" "), fill: "none", stroke: COLORS[k % COLORS.length],
                                   "stroke-width": 1.8, "data-series": s.name, "data-n": pts.length }));
    if (series.length > 1 || s.label !== title) {
      svg.append(svgEl("rect", { x: W - MR - 130, y: MT + 6 + k * 14, width: 10, height: 4, fill: COLORS[k % COLORS.length] }));
      svg.append(svgEl("text", { x: W - MR - 116, y: MT + 11 + k * 14, "font-size": 10 }, s.label));
    }
  });
  return svg;
}

function drawCharts() {
  const box = $("charts");
  box.replaceChildren();
  const m = state.metrics || {};
  const names = Object.keys(m).sort();
  if (!names.length) { box.append(el("p", { class: "muted" }, "no metric series recorded for this run")); return; }
  const groups = new Map();
  for (const name of names) {
    const { key, arm } = splitArm(name);
    const gk = arm ? key : name;
    if (!groups.has(gk)) groups.set(gk, []);
    groups.get(gk).push({ name, label: arm || name, step: m[name].step, value: m[name].value });
  }
  for (const [title, series] of groups) box.append(lineChart(title, series));
}
function scheduleRedraw() {
  if (state.redraw) return;
  state.redraw = setTimeout(() => { state.redraw = null; drawCharts(); }, 400);
}

// --- run detail --------------------------------------------------------------------------

function kvTable(table, obj) {
  table.replaceChildren();
  const rows = [];
  (function flat(v, p) {
    if (v && typeof v === "object" && !Array.isArray(v)) for (const k of Object.keys(v)) flat(v[k], p ? p + "." + k : k);
    else rows.push([p || "(value)", v]);
  })(obj, "");
  if (obj === null || obj === undefined || !rows.length) {
    const tr = el("tr"); tr.append(el("td", { class: "muted" }, "none")); table.append(tr); return;
  }
  for (const [k, v] of rows) { const tr = el("tr"); tr.append(el("th", {}, k), el("td", {}, fmt(v))); table.append(tr); }
}

function renderJobs(jobs) {
  const box = $("jobs");
  box.replaceChildren();
  for (const j of jobs || []) {
    const pct = j.total > 0 ? Math.min(100, 100 * j.done / j.total) : (j.status === "running" ? 0 : 100);
    const d = el("div", { class: "job", "data-job-id": j.id });
    d.append(el("div", {}, `${j.kind}: ${j.status} ${j.done}/${j.total}${j.message ? " - " + j.message : ""}`));
    const bar = el("div", { class: "bar" }); const fill = el("div"); fill.style.width = pct.toFixed(1) + "%";
    bar.append(fill); d.append(bar); box.append(d);
  }
}

async function selectRun(id) {
  state.selected = id;
  renderRuns();
  $("pick").hidden = true;
  $("run").hidden = false;
  const s = await getJSON("/api/runs/" + id);
  const r = s.run;
  $("run-title").textContent = `run ${r.id}: ${r.command} `;
  $("run-title").append(el("span", { class: "status-" + r.status }, r.status));
  $("run-meta").textContent = `started ${r.started}, ended ${r.ended || "-"} (${fmt(r.seconds)} s), seed ${r.seed}, git ${r.git}, host ${r.host}`;
  $("run-note").textContent = r.note ? "Note: " + r.note : "";
  renderJobs(s.jobs);
  kvTable($("config"), r.config);
  kvTable($("summary"), r.summary);
  const v = $("verdicts"); v.replaceChildren();
  for (const a of s.ab_experiments) v.append(el("li", {}, `A/B ${a.name}: ${a.verdict}`));
  for (const l of s.ladder) v.append(el("li", {}, `ladder level ${l.level} (horizon ${l.horizon}): ${l.passed ? "pass" : "fail"} ${l.verdict || ""}`));
  if (!v.children.length) v.append(el("li", { class: "muted" }, "none recorded"));
  $("report-link").href = "/api/runs/" + id + "/report";
  $("report-frame").hidden = true;
  const m = await getJSON("/api/runs/" + id + "/metrics");
  if (state.selected !== id) return;
  state.metrics = m.series;
  drawCharts();
}

// --- live updates ---------------------------------------------------------------------------

function connectEvents() {
  if (!window.EventSource) return;
  const es = new EventSource("/api/events");
  state.es = es;
  let refresh = null;
  const later = () => { if (!refresh) refresh = setTimeout(() => { refresh = null; loadRuns().catch(() => {}); }, 300); };
  es.addEventListener("open", () => $("live").classList.remove("off"));
  es.addEventListener("error", () => {
    $("live").classList.add("off");
    // a refused stream (e.g. 503: the server's stream limit) is not retried by the browser
    if (es.readyState === EventSource.CLOSED && state.es === es) setTimeout(connectEvents, 5000);
  });
  es.addEventListener("run", (e) => {
    later();
    const r = JSON.parse(e.data);
    if (r.id === state.selected) selectRun(r.id).catch(() => {});
  });
  es.addEventListener("job", (e) => {
    const j = JSON.parse(e.data);
    if (j.run_id === state.selected) getJSON("/api/runs/" + j.run_id).then((s) => renderJobs(s.jobs)).catch(() => {});
  });
  es.addEventListener("metric", (e) => {
    const p = JSON.parse(e.data);
    if (p.run_id !== state.selected || !state.metrics) return;
    const s = state.metrics[p.series] || (state.metrics[p.series] = { step: [], value: [] });
    s.step.push(p.step); s.value.push(p.value);
    scheduleRedraw();
  });
}

// --- model lifecycle ------------------------------------------------------------------------
// Versions with status (/api/models), the live rollout with its traffic split and each served
// version's health with the failing metrics (/v1/status, when the server serves an endpoint),
// and the append-only deployment history (/api/deployments).

function when(t) { return (t || "").replace("T", " ").replace("Z", ""); }

function renderVersions(vs) {
  const tb = $("lc-versions").querySelector("tbody");
  tb.replaceChildren();
  if (!vs.length) { const tr = el("tr"); tr.append(el("td", { colspan: 5, class: "muted" }, "no model versions registered")); tb.append(tr); }
  for (const v of vs.slice(0, 50)) {
    const ev = v.eval_passed === 1 ? "passed" : v.eval_passed === 0 ? "FAILED" : "-";
    const tr = el("tr", { "data-version-id": v.id, "data-status": v.status });
    tr.append(el("td", {}, v.id), el("td", {}, v.kind), el("td", { class: "mv-" + v.status }, v.status),
              el("td", { class: ev === "FAILED" ? "mv-failed" : "" }, ev), el("td", {}, when(v.updated)));
    tb.append(tr);
  }
}

function healthRow(h, role) {
  const tr = el("tr", { "data-health-version": h.version, "data-health": h.health });
  const num = (x) => (typeof x === "number" ? fmt(x) : "-");
  tr.append(el("td", {}, h.version), el("td", {}, role), el("td", { class: "health-" + h.health.replace(" ", "-") }, h.health),
            el("td", { class: h.failing ? "mv-failed" : "" }, h.failing || (h.window ? "none" : "-")),
            el("td", {}, h.episodes), el("td", {}, num(h.score)), el("td", {}, num(h.failure_rate)),
            el("td", {}, num(h.latency_p99_ms)), el("td", {}, num(h.reward_stability)));
  return tr;
}

function renderStatus(st) {
  $("lc-endpoint").textContent = "endpoint " + st.endpoint + ", live version " + fmt(st.live);
  const box = $("lc-rollout");
  box.replaceChildren();
  const ro = st.rollout;
  const share = ro ? (ro.strategy === "shadow" ? 0 : ro.share) : 0;
  const bar = el("div", { class: "split", "data-split": share, title: "traffic split" });
  const live = el("div", { class: "split-live" }, "v" + fmt(st.live) + " " + Math.round(100 * (1 - share)) + "%");
  live.style.width = (100 * (1 - share)) + "%";
  bar.append(live);
  if (ro && share > 0) {
    const c = el("div", { class: "split-cand" }, "v" + ro.candidate + " " + Math.round(100 * share) + "%");
    c.style.width = (100 * share) + "%";
    bar.append(c);
  }
  if (ro) {
    box.append(el("p", { "data-rollout-id": ro.id }, `rollout ${ro.id}: ${ro.strategy} of version ${ro.candidate}` +
      (ro.strategy === "canary" ? `, stage ${ro.stage + 1}, ${ro.episodes_at_stage} candidate episodes at this stage` : "") +
      (ro.strategy === "shadow" ? " (computes beside live, never answers)" : "")));
  } else {
    box.append(el("p", { class: "muted" }, "no rollout in progress"));
  }
  box.append(bar);
  const tb = $("lc-health").querySelector("tbody");
  tb.replaceChildren();
  if (st.live_health) tb.append(healthRow(st.live_health, "live"));
  if (ro && ro.candidate_health) tb.append(healthRow(ro.candidate_health, ro.strategy + " candidate"));
  $("lc-decision").textContent = st.last_decision ? "last decision: " + st.last_decision : "";
}

function renderHistory(hs) {
  const tb = $("lc-history").querySelector("tbody");
  tb.replaceChildren();
  for (const h of hs.slice(0, 40)) {
    const tr = el("tr", { "data-event": h.event });
    tr.append(el("td", {}, when(h.created)), el("td", {}, h.endpoint || "-"), el("td", {}, h.version_id),
              el("td", { class: "ev-" + h.event }, h.event),
              el("td", {}, (h.from_status || "-") + " \u2192 " + (h.to_status || "-")),
              el("td", {}, h.share === null || h.share === undefined ? "-" : Math.round(100 * h.share) + "%"),
              el("td", {}, h.actor), el("td", {}, h.reason || ""));
    tb.append(tr);
  }
  if (!hs.length) { const tr = el("tr"); tr.append(el("td", { colspan: 8, class: "muted" }, "no deployments yet")); tb.append(tr); }
}

async function loadLifecycle() {
  const m = await getJSON("/api/models");
  renderVersions(m.versions || []);
  let ep = null;
  try {
    const st = await getJSON("/v1/status");
    ep = st.endpoint;
    renderStatus(st);
  } catch (e) {
    $("lc-endpoint").textContent = "";
    $("lc-rollout").replaceChildren(el("p", { class: "muted" }, "policy serving is off (synthloop serve --endpoint NAME)"));
    $("lc-health").querySelector("tbody").replaceChildren();
  }
  renderHistory(await getJSON("/api/deployments" + (ep ? "?endpoint=" + encodeURIComponent(ep) : "")));
}

// --- notes ----------------------------------------------------------------------------------

async function post(path, body) {
  const token = $("token").value;
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + token }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  $("note-result").textContent = r.ok ? "saved" : (j.error || r.statusText);
  if (r.ok) { await loadRuns(); await selectRun(state.selected); }
}

function route() {
  const m = /run=(\d+)/.exec(location.hash);
  const id = m ? Number(m[1]) : (state.runs[0] && state.runs[0].id);
  if (id) selectRun(id).catch((e) => { $("pick").hidden = false; $("pick").textContent = "cannot load run " + id + ": " + e.message; $("run").hidden = true; });
}

// --- privacy panel (issue 15): budgets per period, recent releases, k-anonymity risk ----------

function privacyBar(spent, limit) {
  const w = el("div", { class: "bar pbar" });
  const frac = limit > 0 ? Math.min(1, spent / limit) : (spent > 0 ? 1 : 0);
  const fill = el("div", { style: "width:" + (100 * frac).toFixed(1) + "%" });
  if (frac >= 1) fill.className = "full";
  w.appendChild(fill);
  return w;
}

function renderPrivacy(o) {
  const bt = $("privacy-budgets").querySelector("tbody");
  bt.replaceChildren();
  for (const b of o.budgets || []) {
    // the limited periods; a key without any limit shows its lifetime spend only
    const limited = (b.periods || []).filter((p) => p.limit !== null);
    const shown = limited.length ? limited : (b.periods || []).filter((p) => p.period === "lifetime");
    for (const p of shown) {
      const tr = el("tr", { "data-privacy-key": b.scope + ":" + b.key, "data-period": p.period });
      tr.appendChild(el("td", {}, b.scope));
      tr.appendChild(el("td", {}, b.key));
      tr.appendChild(el("td", {}, p.period));
      const td = el("td", {}, fmt(p.spent) + " / " + (p.limit === null ? "unlimited" : fmt(p.limit)));
      if (p.limit !== null) td.appendChild(privacyBar(p.spent, p.limit));
      tr.appendChild(td);
      tr.appendChild(el("td", { class: p.limit !== null && p.remaining <= 0 ? "status-failed" : "" },
                        p.limit === null ? "-" : fmt(p.remaining)));
      bt.appendChild(tr);
    }
  }
  const kt = $("privacy-kanon");
  kt.replaceChildren();
  const k = o.latest_kanon;
  const rep = k && k.params && k.params.report;
  if (!k) {
    kt.appendChild(el("tr", {}, "")).appendChild(el("td", { class: "muted" }, "no k-anonymity release yet"));
  } else {
    const rows = [["release", "log " + k.id + " (" + k.technique + ", " + k.dataset + ", " + k.created + ")"],
                  ["k / l", fmt(k.params.k) + " / " + fmt(k.params.l)]];
    if (rep) {
      rows.push(["prosecutor risk max", fmt(rep.risk_max)], ["prosecutor risk mean", fmt(rep.risk_mean)],
                ["classes (min size)", fmt(rep.classes) + " (" + fmt(rep.min_class) + ")"],
                ["NCP", fmt(rep.ncp)], ["suppressed", fmt(rep.suppressed) + " (" + fmt(100 * rep.suppressed_share) + " %)"]);
    } else {
      rows.push(["risk", "not recorded by this release"]);
    }
    for (const [a, b] of rows) {
      const tr = el("tr", { "data-kanon": a });
      tr.appendChild(el("th", {}, a));
      tr.appendChild(el("td", {}, b));
      kt.appendChild(tr);
    }
  }
  const rt = $("privacy-releases").querySelector("tbody");
  rt.replaceChildren();
  for (const r of o.releases || []) {
    const tr = el("tr", { "data-release": r.id, title: (r.output_path || "") + " " + (r.created || "") });
    tr.appendChild(el("td", {}, r.id));
    tr.appendChild(el("td", {}, r.technique));
    tr.appendChild(el("td", {}, r.dataset));
    tr.appendChild(el("td", {}, r.technique === "retention" ? "-" : fmt(r.epsilon) + (r.formal ? "" : " (acct.)")));
    tr.appendChild(el("td", {}, r.n_rows));
    tr.appendChild(el("td", { class: r.status === "placed" || r.status === "logged" ? "status-ok" : "status-failed" }, r.status));
    rt.appendChild(tr);
  }
  $("privacy-empty").hidden = (o.releases || []).length > 0;
}

async function loadPrivacy() {
  renderPrivacy(await getJSON("/api/privacy/overview"));
}
// --- end privacy panel ---------------------------------------------------------------------

async function main() {
  $("note").addEventListener("submit", (e) => { e.preventDefault(); post("/api/runs/" + state.selected + "/notes", { note: $("note-text").value }); });
  $("mark-failed").addEventListener("click", () => post("/api/runs/" + state.selected + "/mark-failed", { reason: "marked failed from the dashboard" }));
  $("report-show").addEventListener("click", () => { const f = $("report-frame"); f.src = "/api/runs/" + state.selected + "/report"; f.hidden = false; });
  window.addEventListener("hashchange", route);
  try {
    const h = await getJSON("/api/health");
    $("health").textContent = `version ${h.version} (${h.git}), schema ${h.schema_version}`;
    await loadRuns();
    route();
    loadExperiments().catch(() => {});
    await loadLifecycle().catch((e) => { $("lc-endpoint").textContent = "cannot load: " + e.message; });
    loadPrivacy().catch((e) => { $("privacy-empty").hidden = false; $("privacy-empty").textContent = "privacy: " + e.message; });
  } catch (e) {
    $("health").textContent = "error: " + e.message;
  }
  // ?live=0 disables the event stream (headless snapshots: an open stream keeps the page
  // "loading" forever for tools that wait for network idle)
  if (new URLSearchParams(location.search).get("live") !== "0") {
    connectEvents();
    setInterval(() => loadLifecycle().catch(() => {}), 5000); // rollouts move with /v1/feedback, not events
  }
}
main();
