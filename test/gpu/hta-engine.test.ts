// Issue 8's done-when on a real engine trace: the tiny model on SwiftShader, profiled (delay 2, max 3)
// by a profiler created from the config alone while WGPROF_LAUNCH_NAMES=cuda is set (as a server would
// be started), written to disk and parsed back. HTA's queue length, kernel launch statistics and a
// critical path for the middle step (ProfilerStep#3) are non-empty by the model of HTA's source
// (src/report/hta.ts), the validator's HTA rules pass, every GPU event reaches a host op, and key
// averages group the renamed launches as one row.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEngine } from '../../src/engine/index.js';
import { htaCriticalPath, htaModel } from '../../src/report/hta.js';
import { checkStepTotals, keyAverages, parseTraceFile, validateTrace } from '../../src/report/index.js';
import type { KinetoTrace } from '../../src/trace/index.js';
import { setLogSink } from '../../src/util/log.js';

let dir: string;
let worker: KinetoTrace;
let restoreLog: () => void = () => {};

before(async () => {
  restoreLog = setLogSink(() => undefined);
  dir = mkdtempSync(join(tmpdir(), 'wgprof-gpu-hta-'));
  const saved = process.env['WGPROF_LAUNCH_NAMES'];
  process.env['WGPROF_LAUNCH_NAMES'] = 'cuda';
  let files: string[];
  try {
    const engine = await createEngine({
      model: 'tiny',
      seed: 5,
      profilerConfig: { profiler: 'torch', torch_profiler_dir: dir, delay_iterations: 2, max_iterations: 3, ignore_frontend: true },
    });
    try {
      engine.startProfile();
      await engine.generate(['The quick brown fox', 'WebGPU inference profiling', 'Once upon a time,'], { maxTokens: 8 });
      files = await engine.stopProfile();
    } finally {
      await engine.destroy();
    }
  } finally {
    if (saved === undefined) delete process.env['WGPROF_LAUNCH_NAMES'];
    else process.env['WGPROF_LAUNCH_NAMES'] = saved;
  }
  worker = await parseTraceFile(files.find((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f))!);
});

after(() => {
  restoreLog();
  rmSync(dir, { recursive: true, force: true });
});

describe('an engine trace with launch names for HTA (WGPROF_LAUNCH_NAMES=cuda)', () => {
  it('names launches cudaLaunchKernel / cudaMemcpyAsync, keeps the WebGPU call, and passes the HTA rules', () => {
    const launches = worker.traceEvents.filter((e) => e.cat === 'cuda_runtime');
    assert.ok(launches.length > 20);
    for (const l of launches) {
      const call = l.args?.['webgpu call'];
      assert.equal(l.name, call === 'dispatchWorkgroups' ? 'cudaLaunchKernel' : 'cudaMemcpyAsync', `${l.name} for ${String(call)}`);
    }
    assert.ok(launches.some((l) => l.args?.['webgpu call'] === 'writeBuffer') && launches.some((l) => l.args?.['webgpu call'] === 'copyBufferToBuffer'));
    assert.equal(worker.wgprof?.options.launchNames, 'cuda');
    assert.deepEqual(validateTrace(worker, { hta: true, attributed: true }), []);
  });

  it("HTA's queue length and kernel launch stats are non-empty, and the middle step has a critical path", () => {
    const model = htaModel(worker);
    const launchedGpu = worker.traceEvents.filter((e) => e.cat === 'kernel' || e.cat === 'gpu_memcpy').length;
    assert.ok(model.queueLengthLaunches > 0 && model.queueLengthLaunches <= launchedGpu, `${model.queueLengthLaunches} of ${launchedGpu}`);
    assert.equal(model.launchStatsRows, model.queueLengthLaunches, 'each launch joins its one GPU activity');
    const cp = htaCriticalPath(model, 1);
    assert.equal(cp.ok, true, cp.why);
    assert.deepEqual([cp.annotation?.cat, cp.annotation?.name], ['user_annotation', 'ProfilerStep#3']);
    assert.ok(cp.cpuOps > 0 && cp.launches > 0 && cp.gpuEvents > 0, JSON.stringify(cp));
  });

  it('every kernel carries what WebGPU knows (block, shared memory) and nothing it does not', () => {
    const kernels = worker.traceEvents.filter((e) => e.cat === 'kernel');
    assert.ok(kernels.length > 20);
    for (const k of kernels) {
      // The engine's kernels declare no var<workgroup>: 0 bytes, parsed from their WGSL.
      assert.equal(k.args?.['shared memory'], 0, k.name);
      assert.equal((k.args?.['block'] as number[]).length, 3, k.name);
      for (const key of ['registers per thread', 'blocks per SM', 'warps per SM', 'est. achieved occupancy %']) assert.equal(key in k.args!, false, key);
    }
    assert.equal('totalGlobalMem' in worker.deviceProperties[0]!, false);
    assert.ok((worker.deviceProperties[0]!.maxBufferSize ?? 0) > 0);
  });

  it('key averages and the step totals hold with the renamed launches', () => {
    const ka = keyAverages(worker);
    const dispatches = worker.traceEvents.filter((e) => e.cat === 'cuda_runtime' && e.name === 'cudaLaunchKernel').length;
    const kernelGpuUs = worker.traceEvents.filter((e) => e.cat === 'kernel').reduce((sum, e) => sum + e.dur!, 0);
    const row = ka.rows.find((r) => r.name === 'cudaLaunchKernel')!;
    assert.equal(row.calls, dispatches);
    assert.ok(Math.abs(row.gpuTotalUs - kernelGpuUs) < 0.01, `${row.gpuTotalUs} vs ${kernelGpuUs}`);
    assert.ok(ka.rows.some((r) => r.name === 'wgprof::writeBuffer'));
    assert.deepEqual(checkStepTotals(worker).problems, []);
  });
});
