// `wgprof compare` (regression gate with a noise estimate) and `wgprof merge` (shards into one valid
// trace). No GPU.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { runCompare } from '../../src/cli/compare.js';
import { runMerge } from '../../src/cli/merge.js';
import { keyAverages, parseTraceFile, validateTrace } from '../../src/report/index.js';
import type { KinetoTrace, TraceEvent } from '../../src/trace/index.js';
import { writeTrace } from '../../src/trace/index.js';
import { GOLDEN_NAME } from './fixtures/make-trace-fixtures.js';
import { twoStepRecord } from './fixtures/trace-records.js';
import { writeBigTrace } from './helpers/big-trace.js';

const fixtures = dirname(fileURLToPath(import.meta.url)) + '/fixtures';
const GOLDEN = join(fixtures, GOLDEN_NAME + '.gz');
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-cmp-test-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

type Run = (argv: string[], io: { out(t: string): void; err(t: string): void }) => Promise<number>;
async function cli(run: Run, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** A copy of a trace with the GPU time of kernels named `name` scaled by `factor`. */
async function slowed(path: string, name: string, factor: number, to: string): Promise<string> {
  const trace = await parseTraceFile(path);
  for (const e of trace.traceEvents) if (e.cat === 'kernel' && e.name === name) e.dur = Math.round(e.dur! * factor * 1000) / 1000;
  writeFileSync(to, JSON.stringify(trace));
  return to;
}

describe('wgprof compare', () => {
  it('reports no regression for two traces of the same run', async () => {
    const dir = tempDir();
    const a = await writeTrace(twoStepRecord({ withFlops: true }), { dir, workerName: 'a', timeNs: '1' });
    const b = await writeTrace(twoStepRecord({ withFlops: true }), { dir, workerName: 'b', timeNs: '2' });
    const r = await cli(runCompare, a.path, b.path);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\nno regression\n$/);
    assert.match(r.out, /^ *kernel {2}matmul +7\.500us +7\.500us +\+0\.0% +±56\.6% +3 +3 +same$/m);
    const json = JSON.parse((await cli(runCompare, a.path, b.path, '--json')).out);
    assert.equal(json.regressions.length, 0);
    assert.ok(json.rows.length >= 8);
  });

  it('exits 1 naming the matmul kernels a test slowed by 30%, and only them', async () => {
    const dir = tempDir();
    const base = join(dir, 'base.pt.trace.json.gz');
    await writeBigTrace(base, { steps: 12, dispatchesPerStep: 16, stackChars: 10 });
    const slow = await slowed(base, 'matmul', 1.3, join(dir, 'slow.pt.trace.json'));
    const r = await cli(runCompare, base, slow, '--threshold', '5%');
    assert.equal(r.code, 1);
    assert.match(r.err, /^wgprof compare: 2 row\(s\) regressed past 5% beyond noise: GPU time per step \(step, \+\d+\.\d%\), matmul \(kernel, \+30\.0%\)\n$/);
    assert.match(r.out, /^ *kernel {2}matmul .* \+30\.0% +±\d+\.\d% +48 +48 +REGRESSED$/m);
    assert.match(r.out, /^ *kernel {2}softmax .* \+0\.0% .* same$/m);
    // A threshold above the slowdown passes; kernels only, the step rows are not gated.
    assert.equal((await cli(runCompare, base, slow, '--threshold=35')).code, 0);
    assert.equal((await cli(runCompare, base, slow, '--rows', 'op')).code, 0);
    // The other way round it is an improvement, not a regression.
    const back = await cli(runCompare, slow, base);
    assert.equal(back.code, 0);
    assert.match(back.out, /kernel {2}matmul .* improved$/m);
  });

  it('does not call noise a regression: a change inside the per-step spread passes', async () => {
    const dir = tempDir();
    const base = await parseTraceFile(GOLDEN);
    // Two steps whose matmul time differs a lot (9 µs, 6 µs): +50% on one kernel (+13% per step) stays inside the noise.
    const k = base.traceEvents.find((e: TraceEvent) => e.cat === 'kernel' && e.name === 'matmul')!;
    k.dur = k.dur! * 1.5;
    const next = join(dir, 'next.json');
    writeFileSync(next, JSON.stringify(base));
    const r = await cli(runCompare, GOLDEN, next, '--rows', 'kernel');
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /kernel {2}matmul .* \+13\.3% +±\d+\.\d% .* same$/m);
  });

  it('exits 2 on bad usage and 1 on a trace it cannot read', async () => {
    for (const argv of [
      [GOLDEN],
      [GOLDEN, GOLDEN, GOLDEN],
      [GOLDEN, GOLDEN, '--threshold', 'x'],
      [GOLDEN, GOLDEN, '--rows', 'gpu'],
      [GOLDEN, GOLDEN, '--bogus'],
    ]) {
      const r = await cli(runCompare, ...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /^wgprof compare: /);
    }
    const r = await cli(runCompare, GOLDEN, join(tempDir(), 'missing.pt.trace.json.gz'));
    assert.equal(r.code, 1);
    assert.match(r.err, /TRACE_NOT_FOUND/);
  });
});

/** The golden trace as another shard: other worker, base time +1.5 s. */
function shard(dir: string): string {
  const trace = JSON.parse(gunzipSync(readFileSync(GOLDEN)).toString('utf8')) as KinetoTrace;
  trace.baseTimeNanoseconds += 1_500_000_000;
  trace.traceName = 'shard-b.pt.trace.json';
  const path = join(dir, 'shard-b.pt.trace.json');
  writeFileSync(path, JSON.stringify(trace));
  return path;
}

describe('wgprof merge', () => {
  it('merges two shards into one valid trace that keeps every event', async () => {
    const dir = tempDir();
    const b = shard(dir);
    const out = join(dir, 'merged.pt.trace.json.gz');
    const r = await cli(runMerge, GOLDEN, b, '-o', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^wrote .*merged\.pt\.trace\.json\.gz: \d+ events from 2 traces\n/);
    const merged = await parseTraceFile(out);
    assert.deepEqual(validateTrace(merged), []);
    const A = await parseTraceFile(GOLDEN);
    const B = await parseTraceFile(b);
    const body = (t: KinetoTrace) => t.traceEvents.filter((e) => e.name !== 'Record Window End');
    assert.equal(merged.traceEvents.length, body(A).length + body(B).length + 1);
    // Every event is there, with only pid, ids, device and time remapped.
    const shape = (e: TraceEvent) => JSON.stringify([e.ph, e.cat, e.name, e.tid, e.dur, e.args?.['grid'], e.args?.['bytes'], e.args?.['Call stack']]);
    const want = [...body(A), ...body(B)].map(shape).sort();
    assert.deepEqual(body(merged).map(shape).sort(), want);
    // Shard B: host pid 4242 taken by A → renumbered; device 0 → 1; ids shifted; times 1.5 s later.
    const info = (
      merged as unknown as { wgprof: { merged: { pids: Record<string, number>; devices: Record<string, number>; idOffset: number; shiftNs: number }[] } }
    ).wgprof.merged;
    assert.deepEqual(info[0]!.pids, { 4242: 4242 });
    assert.notEqual(info[1]!.pids[4242], 4242);
    assert.deepEqual(info[1]!.devices, { 0: 1 });
    assert.equal(info[1]!.shiftNs, 1_500_000_000);
    assert.equal(merged.deviceProperties.length, 2);
    assert.equal(merged.baseTimeNanoseconds, A.baseTimeNanoseconds);
    const kernelsB = merged.traceEvents.filter((e) => e.cat === 'kernel' && e.pid === 1);
    const kernelsA = A.traceEvents.filter((e) => e.cat === 'kernel');
    assert.equal(kernelsB.length, kernelsA.length);
    assert.equal(Math.round((kernelsB[0]!.ts - kernelsA[0]!.ts) * 1000), 1_500_000_000);
    const ext = (t: KinetoTrace) => t.traceEvents.filter((e) => e.cat === 'cpu_op').map((e) => e.args!['External id']);
    assert.equal(new Set(ext(merged)).size, ext(A).length * 2, 'no External id collides');
    // Key averages of the merged trace: both shards' calls and GPU time.
    const ka = keyAverages(merged);
    assert.equal(ka.rows.find((x) => x.name === 'matmul')!.calls, 6);
    assert.equal(ka.selfGpuTotalUs, 2 * keyAverages(A).selfGpuTotalUs);
  });

  it('fails without leaving a file: a damaged input, an unwritable place; exits 2 on bad usage', async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.pt.trace.json.gz');
    const gz = readFileSync(GOLDEN);
    writeFileSync(bad, gz.subarray(0, gz.length - 40));
    const out = join(dir, 'merged.pt.trace.json');
    const r = await cli(runMerge, GOLDEN, bad, '-o', out);
    assert.equal(r.code, 1);
    assert.match(r.err, /TRACE_TRUNCATED/);
    assert.deepEqual(readdirSync(dir), ['bad.pt.trace.json.gz']);
    const nowhere = await cli(runMerge, GOLDEN, GOLDEN, '-o', join(dir, 'no/such/dir/m.json'));
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /MERGE_WRITE_FAILED: could not write .*m\.json/);
    for (const argv of [
      [GOLDEN, GOLDEN],
      [GOLDEN, '-o', out],
      [GOLDEN, out, '-o', out],
      [GOLDEN, GOLDEN, '-o'],
    ]) {
      assert.equal((await cli(runMerge, ...argv)).code, 2, argv.join(' '));
    }
  });
});
