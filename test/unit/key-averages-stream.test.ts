// Key averages event by event (KeyAveragesAccumulator, issue 14), nesting by the writer's ids on coarse
// browser clocks (issue 13 item 1, on a real onnxruntime-web trace), the validator rule that catches such
// traces, and the check of key averages against the trace's own per-step totals. No GPU.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { runSummarize } from '../../src/cli/summarize.js';
import { writeTrace } from '../../src/trace/index.js';
import type { KinetoTrace, TraceEvent } from '../../src/trace/index.js';
import { KeyAveragesAccumulator, formatKeyAveragesTable, keyAverages, parseTraceFile, readTrace, validateTrace } from '../../src/report/index.js';
import type { KeyAverageRow } from '../../src/report/index.js';
import { checkDigestStepTotals, checkStepTotals } from '../../src/report/step-totals.js';
import { digestTrace } from '../../src/report/digest.js';
import { WgprofError } from '../../src/util/errors.js';
import { GOLDEN_NAME } from './fixtures/make-trace-fixtures.js';
import { twoStepRecord } from './fixtures/trace-records.js';
import { writeBigTrace } from './helpers/big-trace.js';

const fixtures = dirname(fileURLToPath(import.meta.url)) + '/fixtures';
/** onnxruntime-web PaddleOCR classifier, 3 runs × 138 dispatches, captured in Chromium (5 µs clock). */
const ORT = join(fixtures, 'ort/ort-cls-generic-attach.pt.trace.json.gz');
const GOLDEN = join(fixtures, GOLDEN_NAME + '.gz');
const TORCH_MINIMAL = join(fixtures, 'torch/torch-2.13-minimal.rank0.1795829618252646147.pt.trace.json.gz');
const TORCH_STACK = join(fixtures, 'torch/torch-2.13-full-with-stack.rank0.1795829617273139504.pt.trace.json.gz');
const TORCH_GPU = join(fixtures, 'torch/synthetic-gpu.pt.trace.json.gz');

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-ka-stream-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const row = (rows: KeyAverageRow[], name: string): KeyAverageRow => {
  const r = rows.find((x) => x.name === name);
  assert.ok(r, `row ${name}`);
  return r;
};

/** Feeds a trace's events in file order, as a writer or a file stream would. */
function streamed(trace: KinetoTrace, order: (events: TraceEvent[]) => TraceEvent[] = (x) => x): { acc: KeyAveragesAccumulator; table: string } {
  const acc = new KeyAveragesAccumulator();
  for (const e of order(trace.traceEvents)) acc.add(e);
  return { acc, table: formatKeyAveragesTable(acc.result()) };
}

describe('key averages on a browser trace (5 µs clock: zero-length ops, launches at their op’s end)', () => {
  it('counts each kernel once: MatMul 123 calls, 4.168 ms GPU avg (not 243 / 2.11 ms)', async () => {
    const ka = keyAverages(await parseTraceFile(ORT));
    const matmul = row(ka.rows, 'MatMul');
    assert.equal(matmul.calls, 123);
    assert.equal(matmul.kernels, 123);
    assert.equal(matmul.gpuAvgUs, matmul.gpuTotalUs / 123);
    assert.equal((matmul.gpuAvgUs / 1000).toFixed(2), '4.17');
    // Every ORT op launched exactly one kernel: calls equal kernels on every kernel row (414 in all).
    const kernelRows = ka.rows.filter((r) => r.kernels > 0);
    assert.deepEqual(
      kernelRows.filter((r) => r.calls !== r.kernels).map((r) => r.name),
      [],
    );
    assert.equal(
      kernelRows.reduce((n, r) => n + r.calls, 0),
      414,
    );
    // And the launches are still under their ops: all GPU time reaches ProfilerStep* and ort_run_wg.
    assert.equal(row(ka.rows, 'ort_run_wg').gpuTotalUs, ka.selfGpuTotalUs);
  });

  it('wgprof summarize prints those counts', async () => {
    let out = '';
    const code = await runSummarize([ORT, '--json'], { out: (t) => (out += t), err: () => undefined });
    assert.equal(code, 0);
    const json = JSON.parse(out);
    const matmul = json.rows.find((r: KeyAverageRow) => r.name === 'MatMul');
    assert.deepEqual([matmul.calls, Math.round(matmul.gpuAvgUs)], [123, 4168]);
    assert.equal(json.kernels, 414);
  });

  it('the validator flags the launches that time-based consumers put outside their op', async () => {
    const strict = { launchesInsideOps: true };
    const problems = validateTrace(await parseTraceFile(ORT), strict);
    assert.equal(problems.length, 51);
    assert.match(
      problems[0]!,
      /^traceEvents\[19\]: the launch with External id 26571 starts where its op ends \(5463238369840008 ns\): consumers that nest by time .* outside op traceEvents\[18\]/,
    );
    assert.match(problems[1]!, /External id 26573 starts where its op ends \(5463238370275008 ns, a zero-length op\)/);
    assert.ok(
      problems.slice(0, 50).every((p) => /the launch with External id \d+ starts where its op ends/.test(p)),
      problems.join('\n'),
    );
    assert.equal(problems[50], '... and 343 more problems');
    // Off by default (the writer does not guarantee it yet): the rest of the contract holds.
    assert.deepEqual(validateTrace(await parseTraceFile(ORT)), []);
  });

  it('the validator accepts launches strictly inside their ops, and flags one moved outside', async () => {
    const trace = await parseTraceFile(GOLDEN);
    const strict = { launchesInsideOps: true };
    assert.deepEqual(validateTrace(trace, strict), []);
    const launch = trace.traceEvents.find((e) => e.cat === 'cuda_runtime' && e.args?.['External id'] === 101)!;
    const op = trace.traceEvents.find((e) => e.cat === 'cpu_op' && e.args?.['External id'] === 101)!;
    launch.ts = op.ts + op.dur!;
    launch.dur = 0;
    const flow = trace.traceEvents.find((e) => e.ph === 's' && e.id === launch.args!['correlation'])!;
    flow.ts = launch.ts;
    const problems = validateTrace(trace, strict);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.deepEqual(validateTrace(trace), []);
    assert.match(problems[0]!, /the launch with External id 101 starts where its op ends/);
  });
});

describe('KeyAveragesAccumulator', () => {
  it('fed in file order gives keyAverages(trace)’s table exactly (golden, ORT, torch minimal, torch CUDA-shaped)', async () => {
    for (const path of [GOLDEN, ORT, TORCH_MINIMAL, TORCH_GPU]) {
      const trace = await parseTraceFile(path);
      const { acc, table } = streamed(trace);
      assert.equal(acc.stats.outOfOrder, 0, path);
      assert.equal(table, formatKeyAveragesTable(keyAverages(trace)), path);
    }
  });

  it('links GPU activities that arrive before their launch', async () => {
    const trace = await parseTraceFile(GOLDEN);
    const gpuFirst = (events: TraceEvent[]) => [
      ...events.filter((e) => e.cat === 'kernel' || e.cat === 'gpu_memcpy'),
      ...events.filter((e) => e.cat !== 'kernel' && e.cat !== 'gpu_memcpy'),
    ];
    const { acc } = streamed(trace, gpuFirst);
    const ka = new KeyAveragesAccumulator();
    for (const e of trace.traceEvents) ka.add(e);
    assert.deepEqual(
      acc.result().rows.map((r) => [r.name, r.calls, r.gpuTotalUs]),
      ka.result().rows.map((r) => [r.name, r.calls, r.gpuTotalUs]),
    );
    assert.equal(acc.stats.unlinkedGpu, 0);
  });

  it('reports host spans out of order (torch with_stack) so callers sort; keyAverages sorts and is exact', async () => {
    const trace = await parseTraceFile(TORCH_STACK);
    const { acc } = streamed(trace);
    assert.equal(acc.stats.outOfOrder, 1);
    assert.match(
      acc.stats.firstOutOfOrder!,
      /^python_function "gen_traces\.py\(69\): <module>" at \d+ ns on pid\/tid 18621\/18621 arrived after a span starting at \d+ ns$/,
    );
    // The file reader falls back to sorting: summarize's digest equals the in-memory key averages.
    const digest = await digestTrace(TORCH_STACK);
    assert.equal(digest.keyAveragesReread, true);
    assert.equal(formatKeyAveragesTable(digest.keyAverages), formatKeyAveragesTable(keyAverages(trace)));
  });

  it('gives its result once', () => {
    const acc = new KeyAveragesAccumulator();
    acc.result();
    assert.throws(
      () => acc.add({ ph: 'X', cat: 'cpu_op', name: 'x', pid: 1, tid: 1, ts: 0, dur: 1 }),
      (e: unknown) => e instanceof WgprofError && e.code === 'KEY_AVERAGES_FINISHED',
    );
  });

  it('keeps only a bounded set of launches waiting for GPU work (oldest dropped and counted)', () => {
    const acc = new KeyAveragesAccumulator({ maxPendingLaunches: 2 });
    for (let i = 0; i < 5; i++) acc.add({ ph: 'X', cat: 'cuda_runtime', name: 'writeBuffer', pid: 1, tid: 1, ts: i, dur: 0.5, args: { correlation: i } });
    acc.add({ ph: 'X', cat: 'kernel', name: 'k', pid: 0, tid: 7, ts: 10, dur: 1, args: { correlation: 4, stream: 7, device: 0 } });
    acc.add({ ph: 'X', cat: 'kernel', name: 'k', pid: 0, tid: 7, ts: 11, dur: 1, args: { correlation: 0, stream: 7, device: 0 } });
    const ka = acc.result();
    assert.equal(acc.stats.droppedLaunches, 3);
    assert.equal(acc.stats.unlinkedGpu, 1);
    assert.equal(row(ka.rows, 'writeBuffer').gpuTotalUs, 1, 'only the kernel of the remembered launch counts under it');
  });
});

describe('checkStepTotals: key averages vs the trace’s own per-step totals', () => {
  it('agrees on the golden fixture and on the ORT trace', async () => {
    for (const path of [GOLDEN, ORT]) {
      const check = checkStepTotals(await parseTraceFile(path));
      assert.deepEqual(check.problems, [], path);
      assert.equal(check.ok, true);
    }
    const ort = checkStepTotals(await parseTraceFile(ORT));
    assert.deepEqual([ort.steps, ort.kernels.steps, ort.kernels.keyAverages], [3, 414, 414]);
    assert.equal(ort.gpuTimeUs.steps, 1577354.738);
  });

  it('agrees on traces this suite writes (writeTrace of the test records, the large streamed trace)', async () => {
    const dir = tempDir();
    for (const [i, record] of [twoStepRecord(), twoStepRecord({ withFlops: true, withMemory: true, withStack: true })].entries()) {
      const written = await writeTrace(record, { dir, workerName: `w${i}` });
      const check = checkStepTotals(await parseTraceFile(written.path));
      assert.deepEqual(check.problems, [], written.path);
      assert.equal(check.kernels.steps, 4);
    }
    assert.equal(readdirSync(dir).length, 2);
    const big = join(dir, 'big.pt.trace.json.gz');
    await writeBigTrace(big, { steps: 20, dispatchesPerStep: 50, stackChars: 10 });
    const check = checkDigestStepTotals(await digestTrace(big));
    assert.deepEqual(check.problems, []);
    assert.equal(check.kernels.keyAverages, 1000);
  });

  it('names a double count and a GPU time that does not add up', async () => {
    const trace = await parseTraceFile(ORT);
    const ka = keyAverages(trace);
    // What summarize computed before nesting followed the ids: kernels counted as calls of their own.
    const matmul = row(ka.rows, 'MatMul');
    matmul.calls += 120;
    const check = checkStepTotals(trace, ka);
    assert.equal(check.ok, false);
    assert.deepEqual(check.problems, ['key averages count 534 kernel calls; the steps say 414 kernels (MatMul: 243 calls for 123 kernels)']);
    const golden = await parseTraceFile(GOLDEN);
    golden.traceEvents.find((e) => e.name === 'ProfilerStep#2')!.args!['gpu_time_us'] = 12;
    const bad = checkStepTotals(golden);
    assert.deepEqual(bad.problems, [
      "key averages' Self GPU total is 24 µs; the steps' gpu_time_us add up to 25 µs",
      "the ProfilerStep* row has 24 µs of GPU time under it; the steps' gpu_time_us add up to 25 µs (GPU work attributed outside its step)",
    ]);
  });

  it('says when a trace has no step totals at all', async () => {
    const check = checkStepTotals(await parseTraceFile(TORCH_GPU));
    assert.equal(check.ok, false);
    assert.equal(check.problems[0], '3 of 3 ProfilerStep annotations lack the "kernels" / "gpu_time_us" args wgprof writes');
    const read = await readTrace(TORCH_GPU, () => undefined);
    assert.equal(read.events > 0, true);
  });
});
