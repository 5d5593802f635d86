// Key averages (torch's key_averages().table()) from records and from trace files, and the
// `wgprof summarize` command. No GPU.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { runSummarize } from '../../src/cli/summarize.js';
import { buildTrace } from '../../src/trace/index.js';
import { formatBytes, formatKeyAveragesTable, formatTimeUs, keyAverages, parseTraceFile, sortKeyAverages, dumpKeyAverages } from '../../src/report/index.js';
import type { KeyAverageRow } from '../../src/report/index.js';
import { WgprofError } from '../../src/util/errors.js';
import { GOLDEN_NAME } from './fixtures/make-trace-fixtures.js';
import { noTimestampRecord, twoStepRecord } from './fixtures/trace-records.js';

const fixtures = dirname(fileURLToPath(import.meta.url)) + '/fixtures';
const TORCH_MINIMAL = join(fixtures, 'torch/torch-2.13-minimal.rank0.1795829618252646147.pt.trace.json.gz');
const TORCH_GPU = join(fixtures, 'torch/synthetic-gpu.pt.trace.json.gz');
const roots: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-ka-test-'));
  roots.push(dir);
  return dir;
}
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

const withFlops = () => twoStepRecord({ withFlops: true });
const row = (rows: KeyAverageRow[], name: string): KeyAverageRow => {
  const r = rows.find((x) => x.name === name);
  assert.ok(r, `row ${name}`);
  return r;
};

describe('keyAverages', () => {
  it('matches hand-computed totals for the two-step fixture', () => {
    // Each op lasts 10 µs and holds a 3 µs launch; kernels last 4, 5, 6 (matmul) and 7 µs (softmax);
    // the writeBuffer copy runs 2 µs on the GPU; steps are 100 µs with 98 µs annotations.
    const ka = keyAverages(withFlops());
    assert.equal(ka.selfGpuTotalUs, 24);
    assert.equal(ka.selfCpuTotalUs, 200);
    assert.deepEqual(row(ka.rows, 'matmul'), {
      name: 'matmul',
      calls: 3,
      selfCpuUs: 21, // 3 × (10 - 3)
      cpuTotalUs: 30,
      cpuAvgUs: 10,
      selfGpuUs: 15,
      gpuTotalUs: 15,
      gpuAvgUs: 5,
      flops: 3 * 65_536,
      bytes: 3 * 12_288,
      gflopPerS: (3 * 65_536) / 15_000, // flops per ns = GFLOP/s
      gbPerS: (3 * 12_288) / 15_000,
      unestimatedCalls: 0,
      kernels: 3,
    });
    const softmax = row(ka.rows, 'softmax');
    assert.deepEqual(
      [softmax.calls, softmax.selfGpuUs, softmax.flops, softmax.bytes, softmax.gflopPerS, softmax.unestimatedCalls],
      [1, 7, null, null, null, 1],
    );
    const launch = row(ka.rows, 'dispatchWorkgroups');
    assert.deepEqual([launch.calls, launch.selfCpuUs, launch.gpuTotalUs, launch.selfGpuUs], [4, 12, 22, 0]);
    const copy = row(ka.rows, 'Memcpy HtoD (Pageable -> Device)');
    assert.deepEqual([copy.calls, copy.selfGpuUs, copy.gpuTotalUs, copy.cpuTotalUs], [1, 2, 2, 0]);
    const steps = row(ka.rows, 'ProfilerStep*');
    assert.deepEqual([steps.calls, steps.selfCpuUs, steps.cpuTotalUs, steps.gpuTotalUs], [2, 4, 200, 24]);
    assert.equal(row(ka.rows, 'execute_context_1(7)_generation_0(0)').gpuTotalUs, 11);
    assert.deepEqual(
      ka.rows.slice(0, 3).map((r) => r.name),
      ['matmul', 'softmax', 'Memcpy HtoD (Pageable -> Device)'],
      'sorted by self GPU',
    );
  });

  it('gives the same numbers from the record and from the trace file written for it', async () => {
    const fromFile = keyAverages(await parseTraceFile(join(fixtures, GOLDEN_NAME + '.gz')));
    const { goldenRecord } = await import('./fixtures/make-trace-fixtures.js');
    assert.deepEqual(fromFile, keyAverages(goldenRecord()));
    assert.deepEqual(keyAverages(buildTrace(withFlops())), keyAverages(withFlops()));
  });

  it('shows CPU columns only, sorted by self CPU, when there are no GPU timestamps', () => {
    const ka = keyAverages(noTimestampRecord());
    assert.equal(ka.hasGpuTime, false);
    assert.equal(ka.selfGpuTotalUs, 0);
    const table = formatKeyAveragesTable(ka);
    assert.doesNotMatch(table, /Self GPU/);
    assert.match(table, /Self CPU time total: 200\.000us\n$/);
    assert.equal(ka.rows[0]!.name, 'execute_context_0(0)_generation_1(1)');
  });

  it('sorts by every key and rejects an unknown one', () => {
    const ka = keyAverages(withFlops());
    assert.equal(sortKeyAverages(ka, 'calls').rows[0]!.name, 'dispatchWorkgroups');
    assert.equal(sortKeyAverages(ka, 'gpu_total').rows[0]!.name, 'ProfilerStep*');
    assert.equal(sortKeyAverages(ka, 'self_cpu').rows[0]!.name, 'execute_context_0(0)_generation_1(1)');
    assert.equal(sortKeyAverages(ka, 'cpu_total').rows[0]!.name, 'ProfilerStep*');
    assert.equal(sortKeyAverages(ka, 'flops').rows[0]!.name, 'matmul');
    assert.throws(
      () => sortKeyAverages(ka, 'fastest' as 'calls'),
      (e: unknown) => e instanceof WgprofError && e.code === 'KEY_AVERAGES_BAD_SORT',
    );
  });

  it('attributes GPU time of a real torch CUDA-shaped trace to kernels and the ops that launched them', async () => {
    const ka = keyAverages(await parseTraceFile(TORCH_GPU));
    assert.equal(ka.selfGpuTotalUs, 81);
    const sgemm = row(ka.rows, 'ampere_sgemm_32x32_sliced1x4_tn');
    assert.deepEqual([sgemm.calls, sgemm.selfGpuUs], [3, 54.75]);
    const addmm = row(ka.rows, 'aten::addmm');
    assert.deepEqual([addmm.calls, addmm.gpuTotalUs, addmm.selfGpuUs], [3, 54.75, 0]);
    assert.equal(row(ka.rows, 'ProfilerStep*').gpuTotalUs, 81);
  });
});

describe('formatKeyAveragesTable', () => {
  it('prints exactly torch’s own table for a real torch 2.13 trace', async () => {
    const ours = formatKeyAveragesTable(keyAverages(await parseTraceFile(TORCH_MINIMAL)), { sortBy: 'self_cpu', rowLimit: 20 });
    // torch's file was printed, so it has one more trailing newline.
    const theirs = readFileSync(join(fixtures, 'torch/torch-2.13-minimal.key_averages_self_cpu_time_total.txt'), 'utf8');
    assert.equal(ours + '\n', theirs);
  });

  it('adds GPU and FLOPs columns, "--" for unknown costs, and both footers', () => {
    const table = formatKeyAveragesTable(keyAverages(withFlops()));
    const lines = table.trimEnd().split('\n');
    assert.match(
      lines[1]!,
      /Name +Self CPU % +Self CPU +CPU total % +CPU total +CPU time avg +Self GPU +Self GPU % +GPU total +GPU time avg +# of Calls +Total KFLOPs +GFLOP\/s +Total bytes +GB\/s/,
    );
    assert.match(
      table,
      / matmul +10\.50% +21\.000us +15\.00% +30\.000us +10\.000us +15\.000us +62\.50% +15\.000us +5\.000us +3 +196\.608 +13\.107 +36\.00 KB +2\.458 /,
    );
    assert.match(table, / softmax .* 1 +-- +-- +-- +-- +\n/);
    assert.deepEqual(lines.slice(-2), ['Self CPU time total: 200.000us', 'Self GPU time total: 24.000us']);
    assert.equal(lines[0], lines[2]);
    assert.equal(lines[0]!.length, lines[1]!.length);
  });

  it('cuts long names at 55 columns with "..." and honours rowLimit', () => {
    const record = twoStepRecord();
    record.dispatches[0]!.kernel = 'k'.repeat(80);
    // Rows by self GPU: matmul 11 µs, softmax 7, the long-named kernel 4, the memcpy 2.
    const table = formatKeyAveragesTable(keyAverages(record), { rowLimit: 3 });
    assert.match(table, new RegExp(`^${'k'.repeat(52)}\\.\\.\\.  `, 'm'));
    assert.equal(table.trimEnd().split('\n').length, 3 + 3 + 1 + 2);
    assert.doesNotMatch(table, /Memcpy/);
    assert.equal(formatKeyAveragesTable({ rows: [], selfCpuTotalUs: 0, selfGpuTotalUs: 0, hasGpuTime: false, hasFlops: false }), '');
  });

  it('formats times and sizes as torch does', () => {
    assert.deepEqual([formatTimeUs(0), formatTimeUs(999.9994), formatTimeUs(1000), formatTimeUs(2_500_000)], ['0.000us', '999.999us', '1.000ms', '2.500s']);
    assert.deepEqual([formatBytes(768), formatBytes(1024), formatBytes(-73_728), formatBytes(3 * 1024 ** 3)], ['768 B', '1.00 KB', '-72.00 KB', '3.00 GB']);
  });
});

describe('dumpKeyAverages', () => {
  it('writes profiler_out_{rank}.txt atomically, sorted by self GPU time', async () => {
    const dir = tempDir();
    const path = await dumpKeyAverages(withFlops(), dir, 1);
    assert.equal(path, join(dir, 'profiler_out_1.txt'));
    assert.deepEqual(readdirSync(dir), ['profiler_out_1.txt']);
    const text = readFileSync(path, 'utf8');
    assert.equal(text, formatKeyAveragesTable(keyAverages(withFlops()), { sortBy: 'self_gpu' }));
    assert.match(text.split('\n')[3]!, /^ +matmul /);
  });

  it('is skipped for URI dirs, as vLLM does, and rejects a bad rank', async () => {
    assert.equal(await dumpKeyAverages(withFlops(), 's3://bucket/traces', 0), null);
    assert.equal(await dumpKeyAverages(withFlops(), 'http://127.0.0.1:9/x', 0), null);
    await assert.rejects(dumpKeyAverages(withFlops(), tempDir(), -1), (e: unknown) => e instanceof WgprofError && e.code === 'TRACE_BAD_RANK');
  });
});

describe('wgprof summarize', () => {
  async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runSummarize(argv, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }
  const golden = join(fixtures, GOLDEN_NAME + '.gz');

  it('prints the table of a trace wgprof wrote (.gz or .json)', async () => {
    const r = await run(golden);
    assert.equal(r.code, 0);
    assert.equal(r.err, '');
    assert.equal(r.out, formatKeyAveragesTable(keyAverages(await parseTraceFile(golden))));
    assert.equal((await run(join(fixtures, GOLDEN_NAME))).out, r.out);
  });

  it('sorts, limits and prints JSON on request', async () => {
    const r = await run(golden, '--sort', 'calls', '--limit=2', '--json');
    assert.equal(r.code, 0);
    const json = JSON.parse(r.out);
    assert.equal(json.sortBy, 'calls');
    assert.deepEqual(
      json.rows.map((x: KeyAverageRow) => x.name),
      ['dispatchWorkgroups', 'matmul'],
    );
    assert.equal(json.selfGpuTotalUs, 24);
    const softmax = (await run(golden, '--json')).out;
    assert.equal(JSON.parse(softmax).rows.find((x: KeyAverageRow) => x.name === 'softmax').flops, null);
  });

  it('reads torch’s own traces too', async () => {
    const r = await run(TORCH_MINIMAL, '--limit', '3');
    assert.equal(r.code, 0);
    assert.match(r.out, /aten::addmm +45\.90%/);
  });

  it('exits 1 with a clear message for a missing or non-trace file', async () => {
    const missing = await run(join(tempDir(), 'nope.pt.trace.json.gz'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /TRACE_NOT_FOUND: no file at .*nope\.pt\.trace\.json\.gz/);
    const dir = tempDir();
    writeFileSync(join(dir, 'x.json'), '{"a":1}');
    const notTrace = await run(join(dir, 'x.json'));
    assert.equal(notTrace.code, 1);
    assert.match(notTrace.err, /TRACE_NOT_KINETO/);
    assert.equal(notTrace.out, '');
  });

  it('several traces (a worker and its frontend, as `traces/*.pt.trace.json.gz` gives them): a table each under its name, or a JSON array', async () => {
    const one = await run(golden);
    const torch = await run(TORCH_MINIMAL);
    const both = await run(golden, TORCH_MINIMAL);
    assert.equal(both.code, 0);
    assert.equal(both.out, `==> ${golden} <==\n${one.out}\n==> ${TORCH_MINIMAL} <==\n${torch.out}`);
    const json = JSON.parse((await run(golden, TORCH_MINIMAL, '--json')).out);
    assert.ok(Array.isArray(json));
    assert.deepEqual(
      json.map((x: { file: string }) => x.file),
      [golden, TORCH_MINIMAL],
    );
    assert.equal(json[0].selfGpuTotalUs, 24);
    // A bad file among good ones: the others are printed, the exit status says one failed.
    const missing = join(tempDir(), 'gone.pt.trace.json.gz');
    const mixed = await run(missing, golden);
    assert.equal(mixed.code, 1);
    assert.match(mixed.err, /TRACE_NOT_FOUND/);
    assert.ok(mixed.out.includes(one.out), 'the readable trace is still printed');
  });

  it('exits 2 for bad arguments', async () => {
    for (const argv of [[], [golden, '--sort', 'fastest'], [golden, '--limit', '0'], [golden, '--limit'], [golden, '--bogus']]) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /^wgprof summarize: /);
    }
  });

  it('runs as `wgprof summarize` from the command line', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const result = spawnSync(process.execPath, ['scripts/run-ts.mjs', 'src/cli/main.ts', 'summarize', golden, '--limit', '1'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /matmul/);
    assert.match(result.stdout, /Self GPU time total: 24\.000us/);
  });
});
