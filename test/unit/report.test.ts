// `wgprof report` as a command (no browser, no GPU: the peak is given or comes from the trace): one
// self-contained file with ECharts inlined and no network, the data it carries, where the roofline's
// peak came from, and failures that leave no file behind. The page itself is tested in Chromium by
// test/browser/report.spec.ts; the calibration on a device by test/gpu/report-peak.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { runReport } from '../../src/cli/report.js';
import { keyAverages, parseTraceFile } from '../../src/report/index.js';
import { setLogSink } from '../../src/util/log.js';
import { GOLDEN_NAME } from './fixtures/make-trace-fixtures.js';

const fixtures = dirname(fileURLToPath(import.meta.url)) + '/fixtures';
const GOLDEN = join(fixtures, GOLDEN_NAME + '.gz');
const ORT = join(fixtures, 'ort/ort-cls-generic-attach.pt.trace.json.gz');
const ECHARTS_VERSION = JSON.parse(readFileSync(fileURLToPath(new URL('../../node_modules/echarts/package.json', import.meta.url)), 'utf8')).version as string;

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-report-test-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function report(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runReport(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

interface PageData {
  traces: {
    name: string;
    totals: { selfGpuTotalUs: number; topKernel: string | null; peakGpuMemoryBytes: number | null };
    rows: { name: string }[];
    steps: { n: number; peakBytes: number | null }[];
    roofline: {
      points: { name: string; intensity: number; gflops: number }[];
      unestimated: string[];
      peak: { source: string; gflops: number | null; gbps: number | null; detail: string };
    };
    timeline: { events: unknown[]; lanes: { label: string }[] };
    facts: [string, string][];
  }[];
}

function pageData(html: string): PageData {
  const m = /<script id="wgprof-data" type="application\/json">(.*?)<\/script>/s.exec(html);
  assert.ok(m, 'data block');
  return JSON.parse(m[1]!) as PageData;
}

describe('wgprof report', () => {
  it('writes one self-contained page: ECharts inlined, a CSP that forbids any network, the traces’ data', async () => {
    const dir = tempDir();
    const out = join(dir, 'r.html');
    const r = await report(GOLDEN, ORT, '-o', out, '--peak-gflops', '40', '--peak-gbps=12.5', '--title', 'two <traces>');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `wrote ${out} (2 traces)\n`);
    assert.deepEqual(readdirSync(dir), ['r.html']);
    const html = readFileSync(out, 'utf8');
    assert.match(
      html,
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">/,
    );
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import/);
    assert.ok(html.includes(`version="${ECHARTS_VERSION}"`) || html.includes(`"${ECHARTS_VERSION}"`), 'echarts inlined');
    assert.match(html, /<title>two &lt;traces&gt;<\/title>/);
    const data = pageData(html);
    assert.deepEqual(
      data.traces.map((t) => t.name),
      ['golden.1795829617273139504.pt.trace.json.gz', 'ort-cls-generic-attach.pt.trace.json.gz'],
    );
    const golden = data.traces[0]!;
    const ka = keyAverages(await parseTraceFile(GOLDEN));
    assert.equal(golden.totals.selfGpuTotalUs, ka.selfGpuTotalUs);
    assert.equal(golden.totals.topKernel, 'matmul');
    assert.equal(golden.totals.peakGpuMemoryBytes, 8192);
    assert.deepEqual(
      golden.steps.map((s) => [s.n, s.peakBytes]),
      [
        [2, 8192],
        [3, 8192],
      ],
    );
    assert.deepEqual(
      golden.rows.map((r) => r.name),
      ka.rows.map((r) => r.name),
    );
    // Roofline: matmul has FLOPs and bytes (65536 FLOPs / 12288 bytes per call); softmax has no cost.
    assert.deepEqual(
      golden.roofline.points.map((p) => [p.name, p.intensity]),
      [['matmul', 65_536 / 12_288]],
    );
    assert.deepEqual(golden.roofline.unestimated, ['softmax']);
    assert.deepEqual(golden.roofline.peak, { gflops: 40, gbps: 12.5, source: 'given', detail: '40 GFLOP/s and 12.5 GB/s given on the command line' });
    assert.ok(golden.facts.some(([k, v]) => k === 'clock-fit error' && v.startsWith('±0.800us')));
    assert.ok(golden.facts.some(([k, v]) => k === 'timestamp mode' && v === 'pass-boundaries'));
    // The ORT trace: 414 kernels drawn on a host lane and a GPU lane.
    const ortTrace = data.traces[1]!;
    assert.equal(ortTrace.totals.topKernel, 'MatMul');
    assert.ok(ortTrace.timeline.lanes.some((l) => l.label.startsWith('GPU 0/7')));
  });

  it('takes the peak from the trace when it carries one, and says there is none with --no-calibrate', async () => {
    const dir = tempDir();
    const trace = JSON.parse(gunzipSync(readFileSync(GOLDEN)).toString('utf8'));
    trace.wgprof.devicePeak = { gflops: 123, gbps: 45, method: 'vendor sheet' };
    const withPeak = join(dir, 'peak.pt.trace.json');
    writeFileSync(withPeak, JSON.stringify(trace));
    const out = join(dir, 'r.html');
    assert.equal((await report(withPeak, '-o', out, '--peak-gflops', '1', '--peak-gbps', '1')).code, 0);
    assert.deepEqual(pageData(readFileSync(out, 'utf8')).traces[0]!.roofline.peak, {
      gflops: 123,
      gbps: 45,
      source: 'trace',
      detail: 'from the trace (wgprof.devicePeak, vendor sheet)',
    });
    const warnings: string[] = [];
    const restore = setLogSink((level, message) => warnings.push(`${level} ${message}`));
    try {
      assert.equal((await report(GOLDEN, '-o', out, '--no-calibrate')).code, 0);
    } finally {
      restore();
    }
    const peak = pageData(readFileSync(out, 'utf8')).traces[0]!.roofline.peak;
    assert.deepEqual([peak.source, peak.gflops, peak.gbps], ['none', null, null]);
    assert.match(peak.detail, /not measured \(--no-calibrate\); give --peak-gflops and --peak-gbps/);
    assert.ok(
      warnings.some((w) => /^warn wgprof report: no device peak for .*golden/.test(w)),
      warnings.join('\n'),
    );
  });

  it('fails without leaving a file: a trace it cannot read, a place it cannot write', async () => {
    const dir = tempDir();
    const out = join(dir, 'r.html');
    const missing = await report(GOLDEN, join(dir, 'nope.pt.trace.json.gz'), '-o', out, '--no-calibrate');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^wgprof report: TRACE_NOT_FOUND: no file at .*nope\.pt\.trace\.json\.gz/);
    assert.deepEqual(readdirSync(dir), []);
    const nowhere = await report(GOLDEN, '-o', join(dir, 'no/such/dir/r.html'), '--no-calibrate');
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /REPORT_WRITE_FAILED: could not write .*no\/such\/dir\/r\.html: ENOENT/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('exits 2 on bad usage, naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [[GOLDEN], /missing -o OUT\.html/],
      [['-o', 'x.html'], /missing TRACE/],
      [[GOLDEN, '-o', 'x.html', '--peak-gflops', '5'], /--peak-gflops and --peak-gbps go together/],
      [[GOLDEN, '-o', 'x.html', '--peak-gbps', '-1'], /--peak-gbps is "-1"; expected a positive number/],
      [[GOLDEN, '-o', 'x.html', '--backend', 'metal'], /--backend is "metal"; expected auto, vulkan or null/],
      [[GOLDEN, '-o', 'x.html', '--bogus'], /unknown option "--bogus"/],
    ];
    for (const [argv, message] of cases) {
      const r = await report(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, message);
    }
  });
});
