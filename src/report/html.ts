// `wgprof report`: one self-contained HTML file. The data of each trace (from a streamed TraceDigest)
// goes in as JSON; Apache ECharts (pinned in package.json) is read from node_modules and inlined, so
// the page needs no network (a Content-Security-Policy forbids any). Charts: the iteration timeline
// (zoomable), per-kernel GPU time, GPU memory over time with per-step peaks, and the roofline against
// the device's peak; plus the sortable key-averages table and the capture's facts. Several traces
// share one page behind a selector.

import { WGPROF_VERSION } from '../version.js';
import type { TraceDigest } from './digest.js';
import { formatBytes, formatTimeUs } from './key-averages.js';
import type { DevicePeak } from './peak.js';

export interface ReportTrace {
  digest: TraceDigest;
  peak: DevicePeak;
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** The capture's facts, from the trace's top-level `wgprof` block (and deviceProperties). */
function facts(d: TraceDigest): [string, string][] {
  const header = d.read.header;
  const w = obj(header['wgprof']);
  const merged = Array.isArray(w['merged']) ? (w['merged'] as unknown[]) : undefined;
  const adapter = obj(w['adapter']);
  const timestamps = obj(w['timestamps']);
  const clock = obj(w['clock']);
  const device = obj(Array.isArray(header['deviceProperties']) ? (header['deviceProperties'] as unknown[])[0] : undefined);
  const out: [string, string][] = [];
  const put = (k: string, v: unknown): void => {
    if (v !== undefined && v !== null && v !== '') out.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
  };
  put('file', d.source);
  put('trace name', header['traceName']);
  put('written by', w['version'] !== undefined ? `wgprof ${String(w['version'])}` : 'not wgprof (no top-level "wgprof" block)');
  if (merged) put('merged from', `${merged.length} traces: ${merged.map((m) => baseName(String(obj(m)['source']))).join(', ')}`);
  put('worker', w['workerName']);
  put('adapter', adapter['description'] ?? device['name']);
  put('vendor / architecture', [adapter['vendor'], adapter['architecture']].filter((x) => typeof x === 'string' && x !== '').join(' / ') || undefined);
  put('runtime / backend', [adapter['runtime'], adapter['backend']].filter((x) => typeof x === 'string').join(' / ') || undefined);
  put('timestamp mode', timestamps['mode'] ?? adapter['timestampMode']);
  if (timestamps['quantized'] !== undefined)
    put(
      'timestamps quantized',
      timestamps['quantized'] === true ? `yes${timestamps['quantumNs'] !== undefined ? ` (${String(timestamps['quantumNs'])} ns)` : ''}` : 'no',
    );
  if (typeof clock['uncertaintyNs'] === 'number')
    put(
      'clock-fit error',
      `±${formatTimeUs(clock['uncertaintyNs'] / 1000)} (${String(clock['method'] ?? 'fit')}, ${String(clock['samples'] ?? '?')} ` + 'samples)',
    );
  put('steps', String(d.steps.length));
  put('events', `${d.read.events}${d.read.skipped > 0 ? ` (${d.read.skipped} junk elements skipped)` : ''}`);
  put('kernels', String(d.kernelEvents));
  const notes = Array.isArray(w['notes']) ? (w['notes'] as unknown[]).map(String) : [];
  if (notes.length > 0) put('notes', notes.join(' '));
  if (d.keyAveragesReread) put('event order', 'host events were out of order for streaming; key averages were computed in memory');
  return out;
}

/** Everything the page draws for one trace, as JSON-able data (times in µs relative to the first event). */
export function reportData(t: ReportTrace): Obj {
  const d = t.digest;
  const ka = d.keyAverages;
  const bySelfGpu = [...ka.rows].sort((a, b) => b.selfGpuUs - a.selfGpuUs);
  const top = ka.hasGpuTime ? bySelfGpu[0] : undefined;
  const originNs = d.originNs;
  const roofline = ka.rows
    .filter((r) => r.flops !== null && r.flops > 0 && r.bytes !== null && r.bytes > 0 && r.gflopPerS !== null)
    .map((r) => ({ name: r.name, intensity: r.flops! / r.bytes!, gflops: r.gflopPerS!, flops: r.flops, bytes: r.bytes, gpuUs: r.gpuTotalUs }));
  return {
    name: baseName(d.source),
    facts: facts(d),
    totals: {
      selfGpuTotalUs: ka.selfGpuTotalUs,
      selfCpuTotalUs: ka.selfCpuTotalUs,
      gpuText: ka.hasGpuTime ? formatTimeUs(ka.selfGpuTotalUs) : 'no GPU time in this trace',
      topKernel: top ? top.name : null,
      topKernelText: top ? `${top.name} (${formatTimeUs(top.selfGpuUs)}, ${top.calls} calls)` : 'none',
      peakGpuMemoryBytes: d.peakGpuMemoryBytes,
      peakText: d.peakGpuMemoryBytes !== null ? formatBytes(d.peakGpuMemoryBytes) : 'no memory events (torch_profiler_with_memory off)',
    },
    rows: ka.rows,
    kernels: bySelfGpu
      .filter((r) => r.selfGpuUs > 0)
      .slice(0, 30)
      .map((r) => ({ name: r.name, selfGpuUs: r.selfGpuUs, calls: r.calls })),
    steps: d.steps.map((s) => ({
      n: s.n,
      startUs: (s.startNs - originNs) / 1000,
      durUs: s.durNs / 1000,
      gpuUs: s.gpuNs / 1000,
      kernels: s.kernels,
      peakBytes: s.peakAllocatedBytesArg ?? s.peakAllocatedBytes,
    })),
    memory: d.memory.map(([ns, bytes]) => [ns / 1000, bytes]),
    memoryPoints: d.memoryPoints,
    timeline: {
      lanes: d.timeline.lanes,
      names: d.timeline.names,
      cats: d.timeline.cats,
      events: d.timeline.events.map(([l, n, c, s, dur]) => [l, n, c, s / 1000, dur / 1000]),
      total: d.timeline.total,
      dropped: d.timeline.dropped,
    },
    roofline: { points: roofline, unestimated: ka.rows.filter((r) => r.kernels > 0 && (r.flops === null || r.flops === 0)).map((r) => r.name), peak: t.peak },
  };
}

/** JSON safe inside a <script> element (no "</script", no U+2028/2029 surprises). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
:root { --fg: #1d2430; --muted: #5b6576; --line: #d9dee7; --bg: #f6f7f9; --accent: #3558c8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 16px; align-items: center; padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); position: sticky;
  top: 0; z-index: 5; }
header h1 { font-size: 18px; margin: 0; }
header .by { color: var(--muted); font-size: 12px; margin-left: auto; }
main { padding: 16px 24px 48px; display: grid; gap: 16px; grid-template-columns: repeat(12, 1fr); }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; grid-column: span 12; min-width: 0; }
section.half { grid-column: span 6; }
h2 { font-size: 15px; margin: 0 0 8px; }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
.numbers { display: flex; gap: 12px; flex-wrap: wrap; }
.number { flex: 1 1 200px; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.number .label { color: var(--muted); font-size: 12px; }
.number .value { font-size: 18px; font-weight: 600; word-break: break-word; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; word-break: break-word; }
.chart { width: 100%; height: 360px; }
.chart.tall { height: 440px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; white-space: normal; word-break: break-all; }
th { cursor: pointer; user-select: none; position: sticky; top: 0; background: #fff; }
th[aria-sort="descending"]::after { content: " ▼"; } th[aria-sort="ascending"]::after { content: " ▲"; }
.table-wrap { max-height: 520px; overflow: auto; }
select { font: inherit; padding: 4px 6px; }
@media (max-width: 1100px) { section.half { grid-column: span 12; } }
`;

/** The page's own script: renders one trace's data with ECharts and switches traces on the selector. */
const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('wgprof-data').textContent);
  var charts = [];
  var CAT_COLORS = { cpu_op: '#3558c8', user_annotation: '#8a63d2', python_function: '#6b7a90', cuda_runtime: '#e08a1e', kernel: '#1f9d6b',
    gpu_memcpy: '#c8453b', gpu_memset: '#b0447a', gpu_user_annotation: '#b9c3d3' };
  function color(cat) { return CAT_COLORS[cat] || (/_runtime$/.test(cat) ? '#e08a1e' : '#7f8c8d'); }
  function fmtUs(us) { return us >= 1e6 ? (us / 1e6).toFixed(3) + 's' : us >= 1e3 ? (us / 1e3).toFixed(3) + 'ms' : us.toFixed(3) + 'us'; }
  function fmtBytes(b) { var a = Math.abs(b);
    return a >= 1073741824 ? (b / 1073741824).toFixed(2) + ' GB' : a >= 1048576 ? (b / 1048576).toFixed(2) + ' MB'
      : a >= 1024 ? (b / 1024).toFixed(2) + ' KB' : b + ' B'; }
  function el(id) { return document.getElementById(id); }
  function text(id, value) { el(id).textContent = value; }
  function chart(id) { var c = echarts.init(el(id), null, { renderer: 'canvas' }); charts.push(c); return c; }

  function renderFacts(t) {
    var dl = el('facts'); dl.textContent = '';
    t.facts.forEach(function (f) { var dt = document.createElement('dt'); dt.textContent = f[0]; var dd = document.createElement('dd');
      dd.textContent = f[1]; dl.appendChild(dt); dl.appendChild(dd); });
    text('total-gpu', t.totals.gpuText); el('total-gpu').dataset.us = String(t.totals.selfGpuTotalUs);
    text('top-kernel', t.totals.topKernelText); el('top-kernel').dataset.name = t.totals.topKernel || '';
    text('peak-memory', t.totals.peakText); el('peak-memory').dataset.bytes = t.totals.peakGpuMemoryBytes === null ? '' : String(t.totals.peakGpuMemoryBytes);
    text('total-cpu', fmtUs(t.totals.selfCpuTotalUs));
  }

  function renderTimeline(t) {
    var tl = t.timeline, c = chart('chart-timeline');
    var series = {};
    tl.events.forEach(function (e) { var cat = tl.cats[e[2]]; (series[cat] = series[cat] || []).push([e[3], e[0], e[3] + e[4], e[1], e[4]]); });
    var lanes = tl.lanes.map(function (l) { return l.label; });
    c.setOption({
      animation: false,
      tooltip: { formatter: function (p) { return tl.names[p.value[3]] + '<br>' + p.seriesName + ' · ' + fmtUs(p.value[4]) + ' at ' + fmtUs(p.value[0]); } },
      legend: { top: 0 },
      grid: { left: 180, right: 24, top: 36, bottom: 64 },
      xAxis: { type: 'value', name: 'µs', axisLabel: { formatter: function (v) { return fmtUs(v); } }, scale: true },
      yAxis: { type: 'category', data: lanes, inverse: true },
      dataZoom: [{ type: 'inside', filterMode: 'weakFilter' }, { type: 'slider', filterMode: 'weakFilter', height: 20, bottom: 16 }],
      series: Object.keys(series).map(function (cat) {
        return {
          type: 'custom', name: cat, itemStyle: { color: color(cat) }, encode: { x: [0, 2], y: 1 }, data: series[cat],
          renderItem: function (params, api) {
            var start = api.coord([api.value(0), api.value(1)]), end = api.coord([api.value(2), api.value(1)]);
            var h = api.size([0, 1])[1] * 0.7, w = Math.max(1, end[0] - start[0]);
            var rect = echarts.graphic.clipRectByRect({ x: start[0], y: start[1] - h / 2, width: w, height: h }, { x: params.coordSys.x,
              y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height });
            return rect && { type: 'rect', shape: rect, style: api.style() };
          },
        };
      }),
    });
    text('timeline-note',
      tl.dropped > 0
        ? 'Showing the first ' + (tl.total - tl.dropped) + ' of ' + tl.total + ' events (the timeline keeps a bounded sample). Scroll or drag to zoom.'
        : tl.total + ' events. Scroll or drag the slider to zoom.');
  }

  function renderKernels(t) {
    var c = chart('chart-kernels');
    var ks = t.kernels.slice().reverse();
    c.setOption({
      animation: false,
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: function (p) { var k = ks[p[0].dataIndex];
        return k.name + '<br>' + fmtUs(k.selfGpuUs) + ' · ' + k.calls + ' calls'; } },
      grid: { left: 200, right: 40, top: 10, bottom: 30 },
      xAxis: { type: 'value', name: 'GPU µs', axisLabel: { formatter: function (v) { return fmtUs(v); } } },
      yAxis: { type: 'category', data: ks.map(function (k) { return k.name.length > 28 ? k.name.slice(0, 27) + '…' : k.name; }) },
      series: [{ type: 'bar', data: ks.map(function (k) { return k.selfGpuUs; }), itemStyle: { color: '#1f9d6b' } }],
    });
    text('kernels-note', t.kernels.length === 0 ? 'No GPU time in this trace.' : 'Self GPU time per kernel (top ' + t.kernels.length + ').');
  }

  function renderMemory(t) {
    var c = chart('chart-memory');
    var peaks = t.steps.filter(function (s) { return s.peakBytes !== null; }).map(function (s) { return { value: [s.startUs + s.durUs / 2,
      s.peakBytes], name: 'ProfilerStep#' + s.n }; });
    c.setOption({
      animation: false,
      tooltip: { trigger: 'item', formatter: function (p) { return (p.name || 'allocated') + '<br>' + fmtBytes(p.value[1]) + ' at ' + fmtUs(p.value[0]); } },
      legend: { top: 0 },
      grid: { left: 80, right: 24, top: 36, bottom: 64 },
      xAxis: { type: 'value', name: 'µs', scale: true, axisLabel: { formatter: function (v) { return fmtUs(v); } } },
      yAxis: { type: 'value', name: 'bytes', axisLabel: { formatter: function (v) { return fmtBytes(v); } } },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 20, bottom: 16 }],
      series: [
        { type: 'line', name: 'GPU memory allocated', step: 'end', showSymbol: false, data: t.memory, itemStyle: { color: '#3558c8' }, areaStyle: {
          opacity: 0.12 } },
        { type: 'scatter', name: 'step peak', data: peaks, symbolSize: 10, itemStyle: { color: '#c8453b' } },
      ],
    });
    text('memory-note',
      t.memory.length === 0
        ? 'No memory events: capture with torch_profiler_with_memory to see GPU memory.'
        : t.memoryPoints + ' memory events' + (t.memoryPoints > t.memory.length ? ' (drawn as ' + t.memory.length + ' points keeping every peak)' : '') +
          '; red dots: each step’s peak.');
  }

  function renderRoofline(t) {
    var r = t.roofline, c = chart('chart-roofline'), peak = r.peak;
    var pts = r.points.map(function (p) { return { name: p.name, value: [p.intensity, p.gflops] }; });
    var xs = pts.map(function (p) { return p.value[0]; });
    var lo = Math.min.apply(null, xs.concat([0.01])) / 4, hi = Math.max.apply(null, xs.concat([100])) * 4;
    var series = [{ type: 'scatter', name: 'kernels', data: pts, symbolSize: 12, itemStyle: { color: '#1f9d6b' }, label: { show: true,
      position: 'right', formatter: function (p) { return p.name; }, fontSize: 11 }, labelLayout: { moveOverlap: 'shiftY' } }];
    if (peak.gflops !== null && peak.gbps !== null) {
      var roof = [], n = 64;
      for (var i = 0; i <= n; i++) { var x = lo * Math.pow(hi / lo, i / n); roof.push([x, Math.min(peak.gflops, peak.gbps * x)]); }
      series.push({ type: 'line', name: 'roof (' + peak.gflops.toFixed(1) + ' GFLOP/s, ' + peak.gbps.toFixed(1) + ' GB/s)', data: roof,
        showSymbol: false, lineStyle: { color: '#c8453b', width: 2 }, itemStyle: { color: '#c8453b' } });
    }
    c.setOption({
      animation: false,
      tooltip: { trigger: 'item', formatter: function (p) {
        return (p.name || p.seriesName) + '<br>' + p.value[0].toFixed(3) + ' FLOP/byte · ' + p.value[1].toFixed(3) + ' GFLOP/s'; } },
      legend: { top: 0 },
      grid: { left: 70, right: 120, top: 36, bottom: 50 },
      xAxis: { type: 'log', name: 'FLOP/byte', nameLocation: 'middle', nameGap: 28, min: lo, max: hi },
      yAxis: { type: 'log', name: 'GFLOP/s' },
      series: series,
    });
    var where = { trace: 'the trace', given: 'the command line', measured: 'a calibration kernel pair run on this machine', none: 'nowhere' }[peak.source];
    text('roofline-peak', 'Device peak from ' + where + ': ' + peak.detail + '.');
    text('roofline-note',
      (r.points.length === 0
        ? 'No kernel carries FLOPs and bytes (capture with torch_profiler_with_flops). '
        : r.points.length + ' kernels with a known cost. ') +
        (r.unestimated.length > 0 ? 'Unestimated (no cost): ' + r.unestimated.join(', ') + '.' : ''));
  }

  var COLUMNS = [['name', 'Name'], ['calls', '# of Calls'], ['selfCpuUs', 'Self CPU'], ['cpuTotalUs', 'CPU total'], ['cpuAvgUs', 'CPU avg'],
    ['selfGpuUs', 'Self GPU'], ['gpuTotalUs', 'GPU total'], ['gpuAvgUs', 'GPU avg'], ['flops', 'FLOPs'], ['gflopPerS', 'GFLOP/s'], ['bytes', 'Bytes'],
      ['gbPerS', 'GB/s']];
  var sortKey = 'selfGpuUs', sortDir = -1;
  function cell(key, v) {
    if (v === null || v === undefined) return '--';
    if (key === 'name' || key === 'calls') return String(v);
    if (/Us$/.test(key)) return fmtUs(v);
    if (key === 'bytes') return fmtBytes(v);
    if (key === 'flops') return v.toExponential(3);
    return v.toFixed(3);
  }
  function renderTable(t) {
    var table = el('key-averages'), head = table.tHead.rows[0], body = table.tBodies[0];
    head.textContent = ''; body.textContent = '';
    COLUMNS.forEach(function (col) {
      var th = document.createElement('th'); th.textContent = col[1]; th.dataset.key = col[0];
      if (col[0] === sortKey) th.setAttribute('aria-sort', sortDir < 0 ? 'descending' : 'ascending');
      th.addEventListener('click', function () { if (sortKey === col[0]) sortDir = -sortDir; else { sortKey = col[0];
        sortDir = col[0] === 'name' ? 1 : -1; } renderTable(current()); });
      head.appendChild(th);
    });
    var rows = t.rows.slice().sort(function (a, b) {
      var x = a[sortKey], y = b[sortKey];
      if (sortKey === 'name') return sortDir * String(x).localeCompare(String(y));
      return sortDir * ((x === null ? -Infinity : x) - (y === null ? -Infinity : y));
    });
    rows.forEach(function (r) { var tr = document.createElement('tr'); COLUMNS.forEach(function (col) { var td = document.createElement('td');
      td.textContent = cell(col[0], r[col[0]]); tr.appendChild(td); }); body.appendChild(tr); });
    text('table-note', t.rows.length + ' rows (torch’s key_averages()); click a header to sort.');
  }

  function current() { return data.traces[Number(el('trace-select').value)]; }
  function render() {
    charts.forEach(function (c) { c.dispose(); }); charts = [];
    var t = current();
    renderFacts(t); renderTimeline(t); renderKernels(t); renderMemory(t); renderRoofline(t); renderTable(t);
    document.body.dataset.rendered = t.name;
  }
  var select = el('trace-select');
  data.traces.forEach(function (t, i) { var o = document.createElement('option'); o.value = String(i); o.textContent = t.name; select.appendChild(o); });
  select.disabled = data.traces.length < 2;
  select.addEventListener('change', render);
  window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });
  render();
})();
`;

/** The whole report page. `echartsSource` is the text of echarts.min.js (inlined). */
export function buildReportHtml(traces: ReportTrace[], echartsSource: string, options: { title?: string } = {}): string {
  const title = options.title ?? (traces.length === 1 ? `wgprof report: ${baseName(traces[0]!.digest.source)}` : `wgprof report: ${traces.length} traces`);
  const data = { generatedBy: `wgprof ${WGPROF_VERSION}`, traces: traces.map(reportData) };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1>${escapeHtml(title)}</h1>
  <label>trace <select id="trace-select" aria-label="trace"></select></label>
  <span class="by">${escapeHtml(data.generatedBy)} · charts: Apache ECharts (inlined)</span>
</header>
<main>
  <section id="summary">
    <div class="numbers">
      <div class="number"><div class="label">total GPU time (self)</div><div class="value" id="total-gpu"></div></div>
      <div class="number"><div class="label">top kernel (self GPU)</div><div class="value" id="top-kernel"></div></div>
      <div class="number"><div class="label">peak GPU memory allocated</div><div class="value" id="peak-memory"></div></div>
      <div class="number"><div class="label">total CPU time (self)</div><div class="value" id="total-cpu"></div></div>
    </div>
  </section>
  <section id="timeline"><h2>Iteration timeline</h2><div class="chart tall" id="chart-timeline"></div><p class="note" id="timeline-note"></p></section>
  <section class="half" id="kernels"><h2>GPU time per kernel</h2><div class="chart" id="chart-kernels"></div><p class="note" id="kernels-note"></p></section>
  <section class="half" id="roofline"><h2>Roofline</h2><div class="chart" id="chart-roofline"></div><p class="note" id="roofline-peak"></p>
    <p class="note" id="roofline-note"></p></section>
  <section class="half" id="memory"><h2>GPU memory over time</h2><div class="chart" id="chart-memory"></div><p class="note" id="memory-note"></p></section>
  <section class="half" id="capture"><h2>Capture</h2><dl id="facts"></dl></section>
  <section id="table"><h2>Key averages</h2><div class="table-wrap"><table id="key-averages"><thead><tr></tr></thead><tbody></tbody></table></div>
    <p class="note" id="table-note"></p></section>
</main>
<script id="wgprof-data" type="application/json">${scriptJson(data)}</script>
<script>${echartsSource.replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
