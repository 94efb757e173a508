/**
 * The dashboard page: HTML, style and a plain browser script (no build step).
 * The script follows `/dashboard/events` (server-sent events: `history` once,
 * then a `tick` snapshot every second) and draws with uPlot, which the server
 * serves from the npm package. Every text from the server goes in through
 * `textContent`, never as HTML.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>warden serve</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/dashboard.css">
<script src="/dashboard/uPlot.iife.min.js" defer></script>
<script src="/dashboard/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>warden serve</h1>
  <span id="status" class="pill">connecting…</span>
</header>
<section class="tiles">
  <div class="tile"><div class="label">requests/s</div><div class="value" id="tile-rps">0</div></div>
  <div class="tile"><div class="label">runs in flight</div><div class="value" id="tile-inflight">0</div></div>
  <div class="tile"><div class="label">bulkhead running</div><div class="value" id="tile-running">0</div></div>
  <div class="tile"><div class="label">bulkhead queued</div><div class="value" id="tile-queued">0</div></div>
  <div class="tile"><div class="label">open connections</div><div class="value" id="tile-connections">0</div></div>
  <div class="tile"><div class="label">requests answered</div><div class="value" id="tile-requests">0</div></div>
  <div class="tile"><div class="label">turned away 429 / 408 / 503</div><div class="value" id="tile-rejected">0 / 0 / 0</div></div>
</section>
<section class="charts">
  <figure><figcaption>requests/s per app</figcaption><div id="chart-rps" class="chart"></div></figure>
  <figure><figcaption>latency per app (ms, p50 and p99 over 5 s)</figcaption><div id="chart-latency" class="chart"></div></figure>
  <figure><figcaption>bulkhead and runs in flight</figcaption><div id="chart-bulkhead" class="chart"></div></figure>
  <figure><figcaption>turned away per second: 429 queue full, 408 queue timeout, 503 cap or draining</figcaption><div id="chart-rejected" class="chart"></div></figure>
</section>
<section>
  <h2>Apps</h2>
  <table id="apps">
    <thead><tr><th>app</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>instances</th><th>busy</th><th>queued</th><th>calls</th><th>loads</th><th>recycled</th><th>5xx</th><th>memory</th><th>max 1 min</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section class="two">
  <div>
    <h2>Busiest users (bulkhead)</h2>
    <table id="users"><thead><tr><th>user</th><th>running</th><th>queued</th></tr></thead><tbody></tbody></table>
  </div>
  <div>
    <h2>Datastore namespaces</h2>
    <table id="datastore"><thead><tr><th>namespace</th><th>bytes</th></tr></thead><tbody></tbody></table>
  </div>
</section>
<section class="two">
  <div>
    <h2>Limit hits by kind</h2>
    <table id="limit-kinds"><thead><tr><th>limit</th><th>hits</th></tr></thead><tbody></tbody></table>
  </div>
  <div>
    <h2>Latest limit hits</h2>
    <table id="limit-latest"><thead><tr><th>time</th><th>app</th><th>request id</th><th>limit</th><th>value</th></tr></thead><tbody></tbody></table>
  </div>
</section>
</body>
</html>
`;

export const DASHBOARD_STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; }
body { margin: 0 auto; padding: 12px 20px; max-width: 1280px; background: #f6f7f9; color: #1d2330; }
header { display: flex; align-items: center; gap: 12px; }
h1 { font-size: 20px; margin: 4px 0; }
h2 { font-size: 15px; margin: 16px 0 6px; }
.pill { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #ddd; }
.pill.live { background: #cdebd3; color: #1b5e20; }
.pill.down { background: #f6d0d0; color: #8a1c1c; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 8px; margin: 10px 0; }
.tile { background: #fff; border: 1px solid #e1e4ea; border-radius: 6px; padding: 8px 10px; }
.tile .label { font-size: 11px; color: #5b6475; text-transform: uppercase; letter-spacing: .03em; }
.tile .value { font-size: 22px; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 10px; }
figure { margin: 0; background: #fff; border: 1px solid #e1e4ea; border-radius: 6px; padding: 6px; }
figcaption { font-size: 12px; color: #5b6475; margin: 0 0 4px 4px; }
.chart { min-height: 200px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceef2; }
th { color: #5b6475; font-weight: 600; font-size: 12px; }
td.empty { color: #8a93a5; font-style: italic; }
.two { display: grid; grid-template-columns: 1fr 2fr; gap: 16px; }
`;

export const DASHBOARD_SCRIPT = `"use strict";
(function () {
  var HISTORY = 300;
  var COLORS = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00"];
  var token = new URLSearchParams(location.search).get("token");
  var ticks = [];
  var charts = {};
  var appKey = "";

  function $(id) { return document.getElementById(id); }
  function label(name) { return name === "" ? "/ (single app)" : name; }
  function fmt(n) { return n === null || n === undefined ? "–" : String(n); }
  function setText(id, text) { var el = $(id); if (el.textContent !== text) el.textContent = text; }
  function fillTable(id, rows, emptyText) {
    var body = $(id).tBodies[0];
    var fresh = document.createElement("tbody");
    if (rows.length === 0) {
      var tr = document.createElement("tr");
      var td = document.createElement("td");
      td.className = "empty";
      td.colSpan = $(id).tHead.rows[0].cells.length;
      td.textContent = emptyText;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = String(cell);
        tr.appendChild(td);
      });
      fresh.appendChild(tr);
    });
    $(id).replaceChild(fresh, body);
  }

  function width(el) { return Math.max(300, el.clientWidth || 560); }
  function makeChart(id, series, data) {
    var el = $(id);
    if (charts[id]) charts[id].destroy();
    el.textContent = "";
    charts[id] = new uPlot({
      width: width(el),
      height: 200,
      legend: { live: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      series: [{}].concat(series),
    }, data, el);
  }

  function appNames() {
    var names = {};
    ticks.forEach(function (t) { Object.keys(t.apps).forEach(function (n) { if (n !== "-") names[n] = true; }); });
    return Object.keys(names).sort();
  }

  function column(fn) { return ticks.map(function (t) { var v = fn(t); return v === undefined ? null : v; }); }

  function draw() {
    if (typeof uPlot === "undefined" || ticks.length === 0) return;
    var names = appNames();
    var key = names.join("\\u0000");
    var times = column(function (t) { return t.t; });
    var rpsData = [times].concat(names.map(function (n) { return column(function (t) { return t.apps[n] ? t.apps[n].rps : 0; }); }));
    var latencyData = [times];
    names.forEach(function (n) {
      latencyData.push(column(function (t) { return t.apps[n] ? t.apps[n].p50 : null; }));
      latencyData.push(column(function (t) { return t.apps[n] ? t.apps[n].p99 : null; }));
    });
    var bulkheadData = [times, column(function (t) { return t.bulkhead.running; }), column(function (t) { return t.bulkhead.queued; }), column(function (t) { return t.inFlight; })];
    var rejectedData = [times, column(function (t) { return t.rejected["429"]; }), column(function (t) { return t.rejected["408"]; }), column(function (t) { return t.rejected["503"]; })];
    if (key !== appKey || !charts["chart-rps"]) {
      // The app set changed (or first draw): charts are made again with a series per app.
      appKey = key;
      makeChart("chart-rps", names.map(function (n, i) { return { label: label(n), stroke: COLORS[i % COLORS.length], width: 2 }; }), rpsData);
      var latencySeries = [];
      names.forEach(function (n, i) {
        latencySeries.push({ label: label(n) + " p50", stroke: COLORS[i % COLORS.length], width: 2 });
        latencySeries.push({ label: label(n) + " p99", stroke: COLORS[i % COLORS.length], width: 1, dash: [6, 4] });
      });
      makeChart("chart-latency", latencySeries, latencyData);
      makeChart("chart-bulkhead", [
        { label: "running", stroke: "#3366cc", width: 2 },
        { label: "queued", stroke: "#ff9900", width: 2 },
        { label: "in flight", stroke: "#109618", width: 1 },
      ], bulkheadData);
      makeChart("chart-rejected", [
        { label: "429", stroke: "#dc3912", width: 2 },
        { label: "408", stroke: "#990099", width: 2 },
        { label: "503", stroke: "#5b6475", width: 2 },
      ], rejectedData);
    } else {
      charts["chart-rps"].setData(rpsData);
      charts["chart-latency"].setData(latencyData);
      charts["chart-bulkhead"].setData(bulkheadData);
      charts["chart-rejected"].setData(rejectedData);
    }
  }

  function render(state) {
    var tick = state.tick;
    var rps = 0;
    Object.keys(tick.apps).forEach(function (n) { rps += tick.apps[n].rps; });
    setText("tile-rps", String(rps));
    setText("tile-inflight", String(tick.inFlight));
    setText("tile-running", String(tick.bulkhead.running));
    setText("tile-queued", String(tick.bulkhead.queued));
    setText("tile-connections", String(tick.connections));
    setText("tile-requests", String(state.totals.requests));
    setText("tile-rejected", state.totals["429"] + " / " + state.totals["408"] + " / " + state.totals["503"]);
    var status = $("status");
    status.textContent = state.draining ? "draining" : "live";
    status.className = "pill " + (state.draining ? "down" : "live");
    fillTable("apps", state.apps.map(function (a) {
      var t = tick.apps[a.name] || { rps: 0, p50: null, p99: null };
      return [label(a.name), t.rps, fmt(t.p50), fmt(t.p99), a.stats.instances + " / " + a.maxInstances, a.stats.busy, a.stats.queued, a.stats.calls, a.stats.loads, a.stats.recycled, a.errors, a.memory ? a.memory.latest : "–", a.memory ? fmt(a.memory.max) : "–"];
    }), "no apps");
    fillTable("users", (state.users || []).map(function (u) { return [u.user, u.running, u.queued]; }), "no users yet");
    fillTable("datastore", (state.datastore || []).map(function (d) { return [d.namespace, d.size]; }),
      state.datastore ? "no namespace opened yet" : "no datastore (--datastore)");
    var kinds = Object.keys(state.limits.byKind).sort();
    fillTable("limit-kinds", kinds.map(function (k) { return [k, state.limits.byKind[k]]; }), "no limit hits yet");
    fillTable("limit-latest", state.limits.latest.map(function (h) {
      return [new Date(h.time).toLocaleTimeString(), label(h.app), h.requestId, h.kind, fmt(h.value)];
    }), "no limit hits yet");
  }

  function connect() {
    var source = new EventSource("/dashboard/events" + (token ? "?token=" + encodeURIComponent(token) : ""));
    source.addEventListener("history", function (e) {
      ticks = JSON.parse(e.data);
      draw();
    });
    source.addEventListener("tick", function (e) {
      var state = JSON.parse(e.data);
      if (ticks.length === 0 || ticks[ticks.length - 1].t !== state.tick.t) ticks.push(state.tick);
      if (ticks.length > HISTORY) ticks.shift();
      render(state);
      draw();
      document.body.dataset.updates = String(Number(document.body.dataset.updates || "0") + 1);
    });
    source.onerror = function () {
      var status = $("status");
      status.textContent = "reconnecting…";
      status.className = "pill down";
    };
  }

  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) { charts[id].setSize({ width: width($(id)), height: 200 }); });
  });
  connect();
})();
`;
