// What HTA, tb_plugin and Perfetto need beyond the basic contract (issue 8): launch names HTA's
// launch analyses select, a host op around every launch and GPU activity, GPU step annotations after
// the host steps, truthful kernel args and device facts; and the validator rules (hta, attributed)
// that fail when a trace would break them. Hand-made records; no GPU.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTrace } from '../../src/trace/index.js';
import { htaCriticalPath, htaModel } from '../../src/report/hta.js';
import { keyAverages, validateTrace } from '../../src/report/index.js';
import type { KinetoTrace, TraceEvent } from '../../src/trace/index.js';
import { launchNamesFromEnv, parseLaunchNames } from '../../src/trace/launch-names.js';
import { WgprofError } from '../../src/util/errors.js';
import { twoStepRecord } from './fixtures/trace-records.js';

const byCat = (t: KinetoTrace, cat: string): TraceEvent[] => t.traceEvents.filter((e) => e.cat === cat);
const clone = (t: KinetoTrace): KinetoTrace => JSON.parse(JSON.stringify(t)) as KinetoTrace;
const cuda = (): KinetoTrace => buildTrace(twoStepRecord(), { launchNames: 'cuda' });

describe('launch names', () => {
  it("'cuda' names dispatch launches cudaLaunchKernel and copy launches cudaMemcpyAsync, keeping the WebGPU call in the args", () => {
    const t = cuda();
    const launches = byCat(t, 'cuda_runtime');
    assert.equal(launches.length, 5);
    for (const l of launches) {
      const call = l.args!['webgpu call'];
      assert.equal(l.name, call === 'writeBuffer' ? 'cudaMemcpyAsync' : 'cudaLaunchKernel', JSON.stringify(l));
      assert.ok(call === 'writeBuffer' || call === 'dispatchWorkgroups');
    }
    assert.equal(t.wgprof!.options.launchNames, 'cuda');
    const plain = buildTrace(twoStepRecord());
    assert.deepEqual([...new Set(byCat(plain, 'cuda_runtime').map((l) => l.name))].sort(), ['dispatchWorkgroups', 'writeBuffer']);
    for (const l of byCat(plain, 'cuda_runtime')) assert.equal('webgpu call' in l.args!, false, 'nothing added under the WebGPU names');
    assert.equal(plain.wgprof!.options.launchNames, 'webgpu');
    assert.deepEqual(validateTrace(t, { hta: true }), []);
  });

  it('key averages group the same way under either naming: one launch row per name, ops and kernels unchanged', () => {
    const webgpu = keyAverages(buildTrace(twoStepRecord()));
    const renamed = keyAverages(cuda());
    const row = (ka: typeof webgpu, name: string) => ka.rows.find((r) => r.name === name)!;
    assert.equal(row(renamed, 'cudaLaunchKernel').calls, row(webgpu, 'dispatchWorkgroups').calls);
    assert.equal(row(renamed, 'cudaLaunchKernel').gpuTotalUs, row(webgpu, 'dispatchWorkgroups').gpuTotalUs);
    assert.equal(row(renamed, 'cudaMemcpyAsync').calls, row(webgpu, 'writeBuffer').calls);
    assert.equal(row(renamed, 'cudaMemcpyAsync').gpuTotalUs, 2, 'the memcpy’s 2 µs count under its launch');
    for (const name of ['matmul', 'softmax', 'wgprof::writeBuffer', 'Memcpy HtoD (Pageable -> Device)'])
      assert.deepEqual(row(renamed, name), row(webgpu, name), name);
    assert.equal(renamed.selfGpuTotalUs, webgpu.selfGpuTotalUs);
  });

  it('a launch-names value other than webgpu or cuda is an error naming where it came from', () => {
    const bad = (from: RegExp) => (e: unknown) => e instanceof WgprofError && e.code === 'INVALID_LAUNCH_NAMES' && from.test(e.message);
    assert.throws(() => buildTrace(twoStepRecord(), { launchNames: 'hip' as 'cuda' }), bad(/the launchNames option is "hip"; expected "webgpu"/));
    assert.throws(() => launchNamesFromEnv({ WGPROF_LAUNCH_NAMES: 'Cuda' }), bad(/the environment variable WGPROF_LAUNCH_NAMES is "Cuda"/));
    assert.equal(launchNamesFromEnv({ WGPROF_LAUNCH_NAMES: 'cuda' }), 'cuda');
    assert.equal(launchNamesFromEnv({ WGPROF_LAUNCH_NAMES: '' }), 'webgpu');
    assert.equal(launchNamesFromEnv({}), 'webgpu');
    assert.equal(parseLaunchNames('webgpu', 'x'), 'webgpu');
  });
});

describe('every launch and GPU activity reaches a host op', () => {
  it('wraps each copy in a wgprof:: op that carries its External id, as aten::copy_ wraps cudaMemcpyAsync', () => {
    const record = twoStepRecord();
    record.copies.push({
      externalId: 91,
      correlation: 991,
      kind: 'DtoH',
      bytes: 64,
      launch: 'copyBufferToBuffer',
      launchStartNs: 1_120_000,
      launchEndNs: 1_121_000,
    });
    const t = buildTrace(record);
    for (const [ext, name] of [
      [90, 'wgprof::writeBuffer'],
      [91, 'wgprof::copyBufferToBuffer'],
    ] as const) {
      const op = byCat(t, 'cpu_op').find((o) => o.args!['External id'] === ext)!;
      assert.equal(op.name, name);
      const launch = byCat(t, 'cuda_runtime').find((l) => l.args!['External id'] === ext)!;
      assert.ok(op.ts <= launch.ts && launch.ts + launch.dur! <= op.ts + op.dur!, 'the launch nests in its op');
      assert.ok(t.traceEvents.indexOf(op) < t.traceEvents.indexOf(launch), 'parent first (HTA’s call stack breaks ties by file order)');
    }
    assert.equal(byCat(t, 'gpu_memcpy')[0]!.args!['External id'], 90);
    assert.deepEqual(validateTrace(t, { attributed: true, launchesInsideOps: true }), []);
  });

  it('the attributed rule reports a launch or a GPU activity no op owns', () => {
    const t = clone(buildTrace(twoStepRecord()));
    const memcpy = byCat(t, 'gpu_memcpy')[0]!;
    delete memcpy.args!['External id'];
    const launch = byCat(t, 'cuda_runtime').find((l) => l.name === 'dispatchWorkgroups')!;
    launch.args!['External id'] = 999_999;
    const problems = validateTrace(t, { attributed: true });
    assert.ok(
      problems.some((p) => /"gpu_memcpy".*GPU activity without an integer External id: no op owns it/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /"dispatchWorkgroups".*External id 999999 links to no cpu_op/.test(p)),
      problems.join('\n'),
    );
    const op = byCat(t, 'cpu_op').find((o) => o.name === 'wgprof::writeBuffer')!;
    t.traceEvents.splice(t.traceEvents.indexOf(op), 1);
    assert.ok(validateTrace(t, { attributed: true }).some((p) => /"writeBuffer".*External id 90 links to no cpu_op/.test(p)));
    assert.deepEqual(validateTrace(buildTrace(twoStepRecord()), { attributed: true }), []);
  });
});

describe('GPU step annotations come after the host events', () => {
  it('writes every gpu_user_annotation after the last host event, in step order', () => {
    const t = buildTrace(twoStepRecord());
    const events = t.traceEvents;
    const gpuSteps = events.map((e, i) => [e, i] as const).filter(([e]) => e.cat === 'gpu_user_annotation');
    assert.deepEqual(
      gpuSteps.map(([e]) => e.name),
      ['ProfilerStep#2', 'ProfilerStep#3'],
    );
    const lastHost = Math.max(...events.map((e, i) => (e.pid === 4242 && e.ph === 'X' ? i : -1)));
    for (const [, i] of gpuSteps) assert.ok(i > lastHost);
    assert.equal(events[events.length - 1]!.name, 'Record Window End');
  });

  it('the hta rule reports a GPU step annotation before a host step (it shifts HTA’s instance_id)', () => {
    const t = clone(cuda());
    const gpu2 = t.traceEvents.find((e) => e.cat === 'gpu_user_annotation' && e.name === 'ProfilerStep#2')!;
    t.traceEvents.splice(t.traceEvents.indexOf(gpu2), 1);
    const hostStep2 = t.traceEvents.findIndex((e) => e.cat === 'user_annotation' && e.name === 'ProfilerStep#2');
    t.traceEvents.splice(hostStep2 + 1, 0, gpu2);
    const problems = validateTrace(t, { hta: true });
    assert.ok(
      problems.some((p) => /gpu_user_annotation "ProfilerStep#2"\) comes before host step .*instance_id=k\) takes the k-th such row in file order/.test(p)),
      problems.join('\n'),
    );
    // HTA's instance 1 is then the GPU annotation of step #2, not step #3.
    const cp = htaCriticalPath(htaModel(t), 1);
    assert.equal(cp.annotation?.cat, 'gpu_user_annotation');
    assert.equal(htaCriticalPath(htaModel(cuda()), 1).annotation?.name, 'ProfilerStep#3');
  });
});

describe('kernel args and device facts', () => {
  it('writes the workgroup memory as the kernel’s `shared memory`, only when known', () => {
    const record = twoStepRecord();
    record.dispatches[0]!.workgroupMemoryBytes = 8192;
    record.dispatches[1]!.workgroupMemoryBytes = 0;
    const kernels = byCat(buildTrace(record), 'kernel');
    const args = (corr: number) => kernels.find((k) => k.args!['correlation'] === corr)!.args!;
    assert.equal(args(1000)['shared memory'], 8192);
    assert.equal(args(1001)['shared memory'], 0);
    assert.equal('shared memory' in args(1002), false, 'unknown: absent, never a guess');
    assert.deepEqual(
      Object.keys(args(1000)).slice(0, 7),
      ['External id', 'queued', 'device', 'stream', 'correlation', 'shared memory', 'grid'],
      'Kineto’s order',
    );
    for (const k of kernels)
      for (const key of ['registers per thread', 'blocks per SM', 'warps per SM', 'est. achieved occupancy %'])
        assert.equal(key in k.args!, false, `${key} is not invented`);
    record.dispatches[2]!.workgroupMemoryBytes = -1;
    assert.throws(
      () => buildTrace(record),
      (e: unknown) => e instanceof WgprofError && /dispatches\[2\]\.workgroupMemoryBytes is -1; expected an integer >= 0/.test(e.message),
    );
  });

  it('the validator takes deviceProperties without totalGlobalMem, and rejects a non-integer one', () => {
    const t = clone(buildTrace(twoStepRecord()));
    assert.deepEqual(validateTrace(t), []);
    (t.deviceProperties[0] as unknown as Record<string, unknown>)['totalGlobalMem'] = '4 GB';
    assert.ok(validateTrace(t).some((p) => /deviceProperties\[0\]\.totalGlobalMem is "4 GB"; expected an integer \(or absent\)/.test(p)));
  });
});

describe('HTA’s launch analyses (the model of its source, and the hta rule)', () => {
  it('cuda names: non-empty queue length and launch stats, a critical path for the first step', () => {
    const model = htaModel(cuda());
    // HTA keeps host rows that start before the last ProfilerStep row (step #3's GPU annotation, at
    // +130 µs): step #2's two dispatches and its writeBuffer, and step #3's first dispatch (+110 µs).
    assert.equal(model.queueLengthLaunches, 4);
    assert.equal(model.launchStatsRows, 4);
    const cp = htaCriticalPath(model, 0);
    assert.equal(cp.ok, true, cp.why);
    assert.deepEqual([cp.annotation?.name, cp.annotation?.cat], ['ProfilerStep#2', 'user_annotation']);
    // The 1 µs writeBuffer at +2.5 µs rounds to [1003, 1003] µs: dur 0, so HTA leaves it and its memcpy out.
    assert.deepEqual([cp.cpuOps, cp.launches, cp.gpuEvents], [2, 2, 2]);
  });

  it('WebGPU names: HTA finds no launch, so no queue length, no launch stats and no critical path; the hta rule says why', () => {
    const t = buildTrace(twoStepRecord());
    const model = htaModel(t);
    assert.deepEqual([model.queueLengthLaunches, model.launchStatsRows], [0, 0]);
    assert.match(htaCriticalPath(model, 0).why ?? '', /Queue length time series is required/);
    const problems = validateTrace(t, { hta: true });
    assert.equal(problems.filter((p) => /under a name HTA's launch analyses skip/.test(p)).length, 5, problems.join('\n'));
    assert.match(problems[0]!, /--launch-names cuda, or WGPROF_LAUNCH_NAMES=cuda/);
  });

  it('reports each broken HTA prerequisite: runtime cat, launch kind, GPU work before its launch, shared correlations, sub-µs steps', () => {
    const expect = (mutate: (t: KinetoTrace) => void, pattern: RegExp): void => {
      const t = clone(cuda());
      mutate(t);
      const problems = validateTrace(t, { hta: true });
      assert.ok(
        problems.some((p) => pattern.test(p)),
        `${pattern}:\n${problems.join('\n')}`,
      );
    };
    const launchOf = (t: KinetoTrace, corr: number) => byCat(t, 'cuda_runtime').find((l) => l.args!['correlation'] === corr)!;
    expect(
      (t) => (launchOf(t, 1000).cat = 'privateuse1_runtime'),
      /graph nodes only of cuda_runtime and cuda_driver launches \("Could not find runtime index"\)/,
    );
    expect(
      (t) => (launchOf(t, 1001).name = 'cudaMemcpyAsync'),
      /a kernel launched by "cudaMemcpyAsync": HTA counts it as another kind of launch; name it cudaLaunchKernel/,
    );
    expect((t) => (byCat(t, 'kernel')[0]!.ts = launchOf(t, 1000).ts - 5), /starts before its launch .*negative edge/);
    expect((t) => (byCat(t, 'kernel')[1]!.args!['correlation'] = 1000), /correlation 1000 is shared by 2 GPU activities/);
    // Every host event of step #2 and its GPU work shorter than a whole µs: HTA's rounding leaves no positive edge.
    expect((t) => {
      const step = t.traceEvents.find((e) => e.cat === 'user_annotation' && e.name === 'ProfilerStep#2')!;
      for (const e of t.traceEvents) {
        if (e.ph === 'X' && e !== step && e.cat !== 'user_annotation' && e.ts >= step.ts && e.ts < step.ts + step.dur!) e.dur = 0.2;
        if (e.ph === 'X' && (e.cat === 'kernel' || e.cat === 'gpu_memcpy')) e.dur = 0.2;
      }
    }, /ProfilerStep#2".*critical_path_analysis\(annotation='ProfilerStep', instance_id=0\) would find no path: no cpu_op, launch or GPU event with a positive whole-µs duration/);
  });
});
