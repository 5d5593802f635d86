// buildTrace / serializeTrace / validateTrace against the contract (reference/torch-trace-format.md),
// from hand-made CaptureRecords. No GPU.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'fflate';
import { describe, it } from 'node:test';
import { buildTrace, serializeTrace, TRIMONTH_NS } from '../../src/trace/index.js';
import { validateTrace } from '../../src/report/index.js';
import type { KinetoTrace, TraceEvent } from '../../src/trace/index.js';
import type { CaptureRecord } from '../../src/capture/model.js';
import { WgprofError } from '../../src/util/errors.js';
import { BASE_NS, NASTY_STRINGS, baseMeta, noTimestampRecord, relUs, twoStepRecord } from './fixtures/trace-records.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const torchFull = (): Record<string, unknown> =>
  JSON.parse(
    new TextDecoder().decode(gunzipSync(readFileSync(fixture('torch/torch-2.13-full-with-stack.rank0.1795829617273139504.pt.trace.json.gz')))),
  ) as Record<string, unknown>;

function text(record: CaptureRecord, chunkChars?: number): string {
  return [...serializeTrace(record, chunkChars !== undefined ? { chunkChars } : {})].join('');
}
function parsed(record: CaptureRecord): KinetoTrace {
  return JSON.parse(text(record)) as KinetoTrace;
}
const full = (): CaptureRecord => twoStepRecord({ withMemory: true, withFlops: true, recordShapes: true, withStack: true });
const byCat = (t: KinetoTrace, cat: string): TraceEvent[] => t.traceEvents.filter((e) => e.cat === cat);
const named = (t: KinetoTrace, name: string): TraceEvent[] => t.traceEvents.filter((e) => e.name === name);

describe('top level', () => {
  it('has Kineto’s keys in Kineto’s order, as torch 2.13 writes them', () => {
    const keys = Object.keys(parsed(full()));
    assert.deepEqual(keys, [
      'schemaVersion',
      'deviceProperties',
      'with_stack',
      'profile_memory',
      'record_shapes',
      'with_flops',
      'distributedInfo',
      'wgprof',
      'displayTimeUnit',
      'baseTimeNanoseconds',
      'traceEvents',
      'traceName',
    ]);
    const torchKeys = Object.keys(torchFull());
    const common = keys.filter((k) => torchKeys.includes(k));
    assert.deepEqual(
      common,
      torchKeys.filter((k) => keys.includes(k)),
      'shared keys keep torch’s relative order',
    );
    assert.ok(common.length >= 8);
  });

  it('writes schemaVersion 1, ms display unit, a trimonth base and the trace name', () => {
    const t = buildTrace(twoStepRecord(), { traceName: 'w.1.pt.trace.json.gz' });
    assert.equal(t.schemaVersion, 1);
    assert.equal(t.displayTimeUnit, 'ms');
    assert.equal(t.baseTimeNanoseconds, Number(BASE_NS));
    assert.equal(BigInt(t.baseTimeNanoseconds) % TRIMONTH_NS, 0n);
    assert.equal(t.traceName, 'w.1.pt.trace.json.gz');
  });

  it('floors the base from the capture start, not from timeOrigin', () => {
    // timeOrigin 10 s before a trimonth boundary, capture 20 s after it.
    const record = twoStepRecord({ timeOriginEpochNs: BASE_NS - 10_000_000_000n });
    for (const s of record.steps) {
      s.startNs += 30e9;
      s.endNs += 30e9;
      delete s.annotationStartNs;
      delete s.annotationEndNs;
    }
    record.dispatches = [];
    record.copies = [];
    record.memory = [];
    const t = buildTrace(record);
    assert.equal(t.baseTimeNanoseconds, Number(BASE_NS));
    assert.equal(named(t, 'ProfilerStep#2')[0]!.ts, 20_001_000);
  });

  it('flags only the options in force, as torch’s add_metadata_json does', () => {
    const plain = buildTrace(twoStepRecord()) as unknown as Record<string, unknown>;
    for (const flag of ['with_stack', 'profile_memory', 'record_shapes', 'with_flops']) assert.equal(flag in plain, false, flag);
    const all = buildTrace(full()) as unknown as Record<string, unknown>;
    for (const flag of ['with_stack', 'profile_memory', 'record_shapes', 'with_flops']) assert.equal(all[flag], 1, flag);
  });

  it('describes device i at deviceProperties[i], with WebGPU limits as proxies and no made-up memory size', () => {
    const t = buildTrace(twoStepRecord());
    assert.deepEqual(t.deviceProperties, [
      {
        id: 0,
        name: 'SwiftShader Device (Subzero)',
        maxBufferSize: 268_435_456,
        computeMajor: 0,
        computeMinor: 0,
        maxThreadsPerBlock: 256,
        warpSize: 4,
        sharedMemPerBlock: 16_384,
        numSms: 0,
        vendor: 'google',
        architecture: 'swiftshader',
        backend: 'vulkan',
      },
    ]);
    const second = buildTrace(twoStepRecord({ deviceIndex: 2 }));
    assert.deepEqual(
      second.deviceProperties.map((p) => p.id),
      [0, 1, 2],
    );
    assert.equal(second.deviceProperties[2]!.name, 'SwiftShader Device (Subzero)');
    for (const p of second.deviceProperties) assert.equal('totalGlobalMem' in p, false, 'WebGPU tells no memory size');
    assert.equal(second.traceEvents.find((e) => e.cat === 'kernel')!.pid, 2);
    assert.deepEqual(validateTrace(second), []);
    const cpuOnly = buildTrace({ ...twoStepRecord(), meta: baseMeta({ adapter: undefined! }) });
    assert.deepEqual(cpuOnly.deviceProperties, []);
  });

  it('writes distributedInfo with "rank": N (a space, for HTA’s regex) and nowhere else', () => {
    const raw = text(twoStepRecord({ rank: 3, worldSize: 4 }));
    const matches = [...raw.matchAll(/"rank":\s+(\d+)/g)];
    assert.equal(matches.length, 1);
    assert.equal(matches[0]![1], '3');
    assert.deepEqual(JSON.parse(raw).distributedInfo, { backend: 'webgpu', rank: 3, world_size: 4 });
  });

  it('records provenance under wgprof: version, adapter, timestamps, clock fit, extra', () => {
    const t = buildTrace(twoStepRecord({ extra: { model: 'tiny', version: 'ignored: ours wins' } }));
    const w = t.wgprof!;
    assert.equal(w.version, '0.1.0');
    assert.equal(w.workerName, 'abc12-rank-0');
    assert.deepEqual(w.timestamps, { mode: 'pass-boundaries', quantized: false });
    assert.equal((w.clock as { method: string }).method, 'submit-completion-bracket');
    assert.equal((w.adapter as { vendor: string }).vendor, 'google');
    assert.equal(w['model'], 'tiny');
    assert.deepEqual(w.counts, { steps: 2, dispatches: 4, kernels: 4, copies: 1, memcpys: 1, memory: 0, cpuSpans: 0 });
  });
});

describe('events', () => {
  it('an op named apart from its kernel (opName) keeps its kernel name on the GPU event; extra args land on both', () => {
    const record = full();
    const d = record.dispatches[0]!;
    d.opName = 'MatMul';
    d.args = { node_name: '/encoder/MatMul_3', op_type: 'MatMul' };
    const t = buildTrace(record);
    const op = byCat(t, 'cpu_op').find((e) => e.args?.['External id'] === d.externalId)!;
    assert.equal(op.name, 'MatMul');
    assert.equal(op.args?.['node_name'], '/encoder/MatMul_3');
    assert.equal(op.args?.['op_type'], 'MatMul');
    const kernel = byCat(t, 'kernel').find((e) => e.args?.['correlation'] === d.correlation)!;
    assert.equal(kernel.name, d.kernel);
    assert.equal(kernel.args?.['node_name'], '/encoder/MatMul_3');
    assert.deepEqual(validateTrace(t), []);
    const bad = full();
    bad.dispatches[0]!.args = 'node' as unknown as Record<string, string>;
    assert.throws(() => buildTrace(bad), /dispatches\[0\]\.args is "node"; expected an object/);
  });

  it('formats every ts and dur as µs with exactly 3 decimals, relative to baseTimeNanoseconds', () => {
    const raw = text(full());
    const values = [...raw.matchAll(/"(ts|dur)":([^,}]+)/g)].map((m) => m[2]!);
    assert.ok(values.length > 40);
    for (const v of values) assert.match(v, /^\d+\.\d{3}$/);
    const t = JSON.parse(raw) as KinetoTrace;
    const step = named(t, 'ProfilerStep#2')[0]!;
    assert.equal(step.ts, relUs(1_000_000)); // 1000001000.5 µs
    assert.equal(step.dur, 100);
    const kernel = byCat(t, 'kernel')[0]!;
    assert.equal(kernel.ts, relUs(1_030_000));
    assert.equal(kernel.dur, 4);
  });

  it('names processes and threads like Kineto (labels, sort indexes, "stream 7 " with its space)', () => {
    const t = buildTrace(twoStepRecord());
    const meta = t.traceEvents.filter((e) => e.ph === 'M');
    const get = (name: string, pid: number): TraceEvent => meta.find((e) => e.name === name && e.pid === pid)!;
    assert.deepEqual(get('process_labels', 4242).args, { labels: 'CPU' });
    assert.deepEqual(get('process_labels', 0).args, { labels: 'GPU 0' });
    assert.deepEqual(get('process_sort_index', 4242).args, { sort_index: 4242 });
    assert.deepEqual(get('process_sort_index', 0).args, { sort_index: 5_000_000 });
    assert.deepEqual(get('thread_name', 4242).args, { name: 'thread 1 (node)' });
    assert.deepEqual(get('thread_name', 0).args, { name: 'stream 7 ' });
    assert.equal(get('thread_name', 0).tid, 7);
    assert.deepEqual(get('thread_sort_index', 0).args, { sort_index: 7 });
    const firstTs = Math.min(...t.traceEvents.filter((e) => e.ph !== 'M').map((e) => e.ts));
    for (const e of meta) assert.equal(e.ts, firstTs, 'M events sit at the capture start');
  });

  it('shapes M, X, i, s and f events with the keys torch’s trace uses, in the same order', () => {
    const ours = parsed(full()).traceEvents;
    const torch = torchFull()['traceEvents'] as Record<string, unknown>[];
    const shape = (e: Record<string, unknown>): string => Object.keys(e).join(',');
    for (const [ph, cat] of [
      ['M', undefined],
      ['X', 'cpu_op'],
      ['X', 'user_annotation'],
      ['i', 'cpu_instant_event'],
    ] as const) {
      const mine = ours.find((e) => e.ph === ph && e.cat === cat)!;
      const theirs = torch.find((e) => e['ph'] === ph && e['cat'] === cat)!;
      assert.equal(shape(mine as unknown as Record<string, unknown>), shape(theirs), `${ph} ${cat}`);
    }
    const gpuTrace = JSON.parse(new TextDecoder().decode(gunzipSync(readFileSync(fixture('torch/synthetic-gpu.pt.trace.json.gz')))));
    for (const ph of ['s', 'f']) {
      const mine = ours.find((e) => e.ph === ph)!;
      const theirs = (gpuTrace.traceEvents as Record<string, unknown>[]).find((e) => e['ph'] === ph)!;
      assert.equal(shape(mine as unknown as Record<string, unknown>), shape(theirs), ph);
    }
    const end = ours[ours.length - 1]!;
    assert.deepEqual(end, { ph: 'i', s: 'g', name: 'Record Window End', pid: '', tid: '', ts: relUs(1_200_000) });
  });

  it('turns each dispatch into the CUDA triple: cpu_op ⊃ launch → kernel, linked by External id and correlation', () => {
    const t = buildTrace(full());
    const ops = byCat(t, 'cpu_op');
    const launches = byCat(t, 'cuda_runtime');
    const kernels = byCat(t, 'kernel');
    assert.equal(ops.length, 5, 'four dispatch ops and the op around the copy');
    assert.equal(kernels.length, 4);
    for (const k of kernels) {
      const launch = launches.find((l) => l.args!['correlation'] === k.args!['correlation'])!;
      assert.ok(launch, 'launch with the kernel’s correlation');
      assert.equal(launch.args!['External id'], k.args!['External id']);
      const op = ops.find((o) => o.args!['External id'] === k.args!['External id'])!;
      assert.equal(op.name, k.name);
      assert.ok(op.ts <= launch.ts && launch.ts + launch.dur! <= op.ts + op.dur!, 'launch inside its op');
      assert.equal(k.pid, 0);
      assert.equal(k.tid, 7);
      assert.deepEqual(
        { device: k.args!['device'], stream: k.args!['stream'], queued: k.args!['queued'], grid: k.args!['grid'], block: k.args!['block'] },
        { device: 0, stream: 7, queued: 0, grid: [4, 2, 1], block: [8, 8, 1] },
      );
      const s = t.traceEvents.find((e) => e.ph === 's' && e.id === k.args!['correlation'])!;
      const f = t.traceEvents.find((e) => e.ph === 'f' && e.id === k.args!['correlation'])!;
      assert.deepEqual([s.pid, s.tid, s.ts, s.cat, s.name], [4242, 1, launch.ts, 'ac2g', 'ac2g']);
      assert.deepEqual([f.pid, f.tid, f.ts, f.bp], [0, 7, k.ts, 'e']);
    }
    assert.equal(launches.find((l) => l.args!['correlation'] === 1000)!.name, 'dispatchWorkgroups');
    assert.deepEqual(validateTrace(t), []);
  });

  it('writes copies as gpu_memcpy with Kineto’s names, bytes and bandwidth, launched by the WebGPU call', () => {
    const t = buildTrace(twoStepRecord());
    const [copy] = byCat(t, 'gpu_memcpy');
    assert.equal(copy!.name, 'Memcpy HtoD (Pageable -> Device)');
    assert.deepEqual(copy!.args, { 'External id': 90, device: 0, stream: 7, correlation: 990, bytes: 4096, 'memory bandwidth (GB/s)': 2.048 }); // 4096 B / 2000 ns
    const launch = byCat(t, 'cuda_runtime').find((l) => l.args!['correlation'] === 990)!;
    assert.equal(launch.name, 'writeBuffer');
    assert.deepEqual(launch.args, { 'External id': 90, correlation: 990 });
    const record = twoStepRecord();
    record.copies.push({ ...record.copies[0]!, externalId: 91, correlation: 991, kind: 'DtoH', gpuStartNs: 1_008_000, gpuEndNs: 1_008_000 });
    record.copies.push({ ...record.copies[0]!, externalId: 92, correlation: 992, kind: 'DtoD', gpuStartNs: 1_009_000, gpuEndNs: 1_009_500 });
    const t2 = buildTrace(record);
    const names = byCat(t2, 'gpu_memcpy').map((e) => e.name);
    assert.deepEqual(names, ['Memcpy HtoD (Pageable -> Device)', 'Memcpy DtoH (Device -> Pageable)', 'Memcpy DtoD (Device -> Device)']);
    const zero = byCat(t2, 'gpu_memcpy').find((e) => e.args!['correlation'] === 991)!;
    assert.equal(zero.dur, 0);
    assert.equal('memory bandwidth (GB/s)' in zero.args!, false, 'no bandwidth for a zero-length copy');
    assert.deepEqual(validateTrace(t2, { attributed: true }), []);
  });

  it('writes ProfilerStep#N and vLLM’s annotation as user_annotations, and a gpu_user_annotation over the step’s GPU work', () => {
    const t = buildTrace(full());
    const steps = t.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'user_annotation' && /^ProfilerStep\s*#\s*(\d+)$/.exec(e.name));
    assert.deepEqual(
      steps.map((s) => s.name),
      ['ProfilerStep#2', 'ProfilerStep#3'],
    );
    const ann = named(t, 'execute_context_1(7)_generation_0(0)')[0]!;
    assert.equal(ann.cat, 'user_annotation');
    assert.deepEqual([ann.ts, ann.dur], [relUs(1_001_000), 98]);
    const gpuAnn = byCat(t, 'gpu_user_annotation');
    assert.equal(gpuAnn.length, 2);
    assert.equal(gpuAnn[0]!.name, 'ProfilerStep#2');
    assert.equal(gpuAnn[0]!.args!['External id'], steps[0]!.args!['External id']);
    // Step #2's GPU work: memcpy at +5 µs .. kernel 2 ending at +65 µs; drawn 1 ns early, 2 ns longer.
    assert.equal(gpuAnn[0]!.ts, relUs(1_005_000 - 1));
    assert.equal(gpuAnn[0]!.dur, 60.002);
    assert.deepEqual([gpuAnn[0]!.pid, gpuAnn[0]!.tid], [0, 7]);
    const args = steps[0]!.args!;
    assert.equal(args['kernels'], 2);
    assert.equal(args['gpu_time_us'], 11); // 4 + 5 µs of kernels + 2 µs memcpy
    assert.equal(args['flops'], 131_072);
    assert.equal(args['bytes'], 24_576);
    assert.equal(args['achieved_gflop_per_s'], 14.563556); // 131072 flops / 9000 ns
    assert.equal(args['peak_allocated_bytes'], 8192);
  });

  it('writes no kernel, memcpy or flow without GPU timestamps, and says why', () => {
    const t = buildTrace(noTimestampRecord());
    assert.equal(byCat(t, 'kernel').length, 0);
    assert.equal(byCat(t, 'gpu_memcpy').length, 0);
    assert.equal(byCat(t, 'gpu_user_annotation').length, 0);
    assert.equal(t.traceEvents.filter((e) => e.ph === 's' || e.ph === 'f').length, 0);
    assert.equal(byCat(t, 'cpu_op').length, 5);
    assert.equal(byCat(t, 'cuda_runtime').length, 5);
    assert.equal(named(t, 'ProfilerStep#2')[0]!.args!['gpu_time_us'], 0);
    assert.match(t.wgprof!.notes.join('\n'), /4 of 4 dispatches have no GPU timestamps.*TIMESTAMP_QUERY_UNSUPPORTED/s);
    assert.deepEqual(t.deviceProperties.length, 1);
    assert.deepEqual(validateTrace(t), []);
  });

  it('omits flops for an unknown cost (never 0), and all cost args without with_flops', () => {
    const t = buildTrace(full());
    const ops = byCat(t, 'cpu_op');
    const matmul = ops.find((o) => o.name === 'matmul')!;
    assert.equal(matmul.args!['flops'], 65_536);
    assert.equal(matmul.args!['bytes'], 12_288);
    const softmax = ops.find((o) => o.name === 'softmax')!;
    assert.equal('flops' in softmax.args!, false);
    assert.equal('bytes' in softmax.args!, false);
    const plain = buildTrace(twoStepRecord());
    for (const op of byCat(plain, 'cpu_op')) assert.deepEqual(Object.keys(op.args!), ['External id']);
    assert.equal('flops' in named(plain, 'ProfilerStep#2')[0]!.args!, false);
  });

  it('adds Input Dims / Input type with record_shapes and Call stack with with_stack', () => {
    const first = (t: KinetoTrace): TraceEvent => byCat(t, 'cpu_op').find((o) => o.args!['External id'] === 100)!;
    const op = first(buildTrace(full()));
    assert.deepEqual(op.args!['Input Dims'], [
      [32, 32],
      [32, 32],
    ]);
    assert.deepEqual(op.args!['Input type'], ['float32', 'float32']);
    const record = full();
    record.dispatches[0]!.stack = ['inner (a.ts:1:2)', 'outer (b.ts:3:4)'];
    assert.equal(first(buildTrace(record)).args!['Call stack'], 'inner (a.ts:1:2);outer (b.ts:3:4)');
    record.meta.withStack = false;
    assert.equal('Call stack' in first(buildTrace(record)).args!, false);
  });

  it('writes [memory] instants exactly as Kineto, plus a counter track, only with with_memory', () => {
    const t = buildTrace(full());
    const mem = named(t, '[memory]');
    assert.equal(mem.length, 2);
    assert.deepEqual(mem[0], {
      ph: 'i',
      cat: 'cpu_instant_event',
      s: 't',
      name: '[memory]',
      pid: 4242,
      tid: 1,
      ts: relUs(1_001_500),
      args: { 'Total Reserved': 8192, 'Total Allocated': 8192, Bytes: 8192, 'Device Id': 0, 'Device Type': 1, Addr: 4096, finished: false },
    });
    assert.equal(mem[1]!.args!['Bytes'], -8192);
    const counters = t.traceEvents.filter((e) => e.ph === 'C');
    assert.deepEqual(
      counters.map((c) => [c.name, c.args!['bytes'], c.ts]),
      [
        ['GPU Memory Allocated', 8192, relUs(1_001_500)],
        ['GPU Memory Allocated', 0, relUs(1_150_000)],
      ],
    );
    // Step #3 starts with 8192 B allocated, freed mid-step: peak is the level it started at.
    assert.equal(named(t, 'ProfilerStep#3')[0]!.args!['peak_allocated_bytes'], 8192);
    const off = buildTrace(twoStepRecord());
    assert.equal(named(off, '[memory]').length, 0);
    assert.equal(off.traceEvents.filter((e) => e.ph === 'C').length, 0);
  });

  it('writes CPU spans (frontend, python_function) with External ids for ops and annotations', () => {
    const record = twoStepRecord();
    record.cpuSpans = [
      { name: 'tokenize', cat: 'user_annotation', startNs: 500_000, endNs: 600_000, args: { request: 'r1', tokens: 7 } },
      { name: 'engine.ts(12): step', cat: 'python_function', startNs: 1_010_000, endNs: 1_030_000, args: { 'Python id': 1, 'Python parent id': null } },
    ];
    const t = buildTrace(record);
    const tok = named(t, 'tokenize')[0]!;
    assert.equal(tok.cat, 'user_annotation');
    assert.equal(typeof tok.args!['External id'], 'number');
    assert.equal(tok.args!['request'], 'r1');
    const fn = named(t, 'engine.ts(12): step')[0]!;
    assert.deepEqual(fn.args, { 'Python id': 1, 'Python parent id': null });
    const ids = t.traceEvents
      .filter((e) => e.args?.['External id'] !== undefined && (e.cat === 'cpu_op' || e.cat === 'user_annotation'))
      .map((e) => e.args!['External id']);
    assert.equal(new Set(ids).size, ids.length, 'External ids are unique across ops and annotations');
    assert.deepEqual(validateTrace(t), []);
  });
});

describe('nesting', () => {
  it('clamps host spans that would overlap, and shifts overlapping GPU intervals, counting both', () => {
    const record = twoStepRecord();
    const [d0, d1, d2] = record.dispatches;
    d0!.launchEndNs = d0!.opEndNs + 5_000; // launch outlives its op
    d1!.opEndNs = 1_100_000 + 20_000; // op crosses into step #3
    d1!.launchEndNs = d1!.opEndNs;
    d2!.gpuStartNs = d1!.gpuEndNs! - 2_000; // kernel starts before the previous one ended
    d2!.gpuEndNs = d2!.gpuStartNs + 6_000;
    record.steps[0]!.endNs = 1_100_000 + 500; // steps overlap by 0.5 µs
    record.cpuSpans = [{ name: 'straddles annotation start', cat: 'cpu_op', startNs: 1_000_200, endNs: 1_002_000 }];
    const t = buildTrace(record);
    assert.deepEqual(validateTrace(t), []);
    const a = t.wgprof!.adjustments;
    assert.ok(a.hostSpansClamped >= 4, `host clamps: ${a.hostSpansClamped}`);
    assert.equal(a.gpuIntervalsShifted, 1);
    assert.equal(a.maxGpuShiftNs, 2_000);
    assert.match(t.wgprof!.notes.join('\n'), /shifted to start at its end/);
    const k2 = byCat(t, 'kernel').find((k) => k.args!['correlation'] === 1002)!;
    const k1 = byCat(t, 'kernel').find((k) => k.args!['correlation'] === 1001)!;
    assert.equal(k2.ts, k1.ts + k1.dur!, 'shifted to the previous end');
    assert.equal(k2.ts + k2.dur!, relUs(d2!.gpuEndNs), 'its end is kept');
  });

  it('breaks ties so parents come first (equal start and end: step > annotation > op > launch)', () => {
    const record = twoStepRecord();
    record.steps = [{ number: 0, startNs: 1_000_000, endNs: 1_010_000, annotation: 'a', annotationStartNs: 1_000_000, annotationEndNs: 1_010_000 }];
    record.dispatches = [{ ...record.dispatches[0]!, opStartNs: 1_000_000, opEndNs: 1_010_000, launchStartNs: 1_000_000, launchEndNs: 1_010_000 }];
    record.copies = [];
    const raw = text(record);
    const t = JSON.parse(raw) as KinetoTrace;
    const order = t.traceEvents.filter((e) => e.ph === 'X' && e.pid === 4242).map((e) => e.cat);
    assert.deepEqual(order, ['user_annotation', 'user_annotation', 'cpu_op', 'cuda_runtime']);
    assert.deepEqual(validateTrace(t), []);
  });

  it('keeps any random record strictly nested and valid (seeded fuzz)', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let round = 0; round < 25; round++) {
      const at = (): number => Math.floor(rand() * 400_000);
      const record = twoStepRecord({ withMemory: true, withFlops: true });
      record.steps = Array.from({ length: 3 }, (_, i) => {
        const s = at();
        return { number: i, startNs: s, endNs: s + at() / 2, annotation: `a${i}`, annotationStartNs: at(), annotationEndNs: at() };
      });
      record.dispatches = Array.from({ length: 30 }, (_, i) => {
        const s = at();
        const g = at();
        return {
          ...record.dispatches[0]!,
          externalId: i + 1,
          correlation: 500 + i,
          opStartNs: s,
          opEndNs: s + at() / 10,
          launchStartNs: at(),
          launchEndNs: at(),
          gpuStartNs: g,
          gpuEndNs: g + at() / 20,
        };
      });
      record.copies = Array.from({ length: 5 }, (_, i) => {
        const g = at();
        return { ...record.copies[0]!, externalId: 90 + i, correlation: 900 + i, launchStartNs: at(), launchEndNs: at(), gpuStartNs: g, gpuEndNs: g + 3_000 };
      });
      record.cpuSpans = Array.from({ length: 8 }, (_, i) => ({ name: `span${i}`, cat: 'python_function' as const, startNs: at(), endNs: at() }));
      const t = buildTrace(record);
      assert.deepEqual(validateTrace(t), [], `round ${round}`);
    }
  });
});

describe('serialization', () => {
  it('chunk size changes the chunking, never the content: chunks of about chunkChars', () => {
    for (const record of [full(), noTimestampRecord(), twoStepRecord()]) {
      const chunks = [...serializeTrace(record, { chunkChars: 1024 })];
      assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
      for (const c of chunks.slice(0, -1)) assert.ok(c.length < 1024 + 2048, `chunk of ${c.length}`);
      assert.deepEqual(JSON.parse(chunks.join('')), buildTrace(record));
    }
  });

  it('counts the events it wrote', () => {
    const chunks = serializeTrace(full());
    const all = [...chunks].join('');
    assert.equal(chunks.stats.events, (JSON.parse(all) as KinetoTrace).traceEvents.length);
    assert.equal(chunks.stats.chars, all.length);
  });

  it('is compact: no whitespace outside strings except the "rank": N space and newlines between events', () => {
    const raw = text(full())
      .replace('"rank": ', '"rank":')
      .replace(/"(?:[^"\\]|\\.)*"/g, '""');
    assert.equal(raw.replace(/\n/g, '').match(/\s/), null);
  });

  it('keeps names and args valid JSON whatever they contain (quotes, \\, newlines, controls, emoji, lone surrogates)', () => {
    for (const nasty of NASTY_STRINGS) {
      const record = full();
      record.meta.workerName = nasty;
      record.meta.extra = { note: nasty, [nasty]: 1 };
      record.steps[0]!.annotation = nasty;
      record.dispatches[0]!.kernel = nasty;
      record.dispatches[0]!.launch = nasty;
      record.dispatches[0]!.stack = [nasty, `at ${nasty} (x.ts:1:1)`];
      record.dispatches[0]!.inputTypes = [nasty];
      record.cpuSpans = [{ name: nasty, cat: 'cpu_op', startNs: 1_070_000, endNs: 1_071_000, args: { [nasty]: nasty, list: [nasty] } }];
      const raw = text(record, 1024);
      assert.equal((raw as string & { isWellFormed(): boolean }).isWellFormed(), true, 'no lone surrogates in the text');
      assert.equal(/[\u0000-\u0009\u000b-\u001f]/.test(raw), false, 'no raw control characters');
      const t = JSON.parse(raw) as KinetoTrace;
      assert.deepEqual(t, buildTrace(record));
      assert.deepEqual(validateTrace(t), [], JSON.stringify(nasty));
      const op = byCat(t, 'cpu_op').find((o) => o.args!['External id'] === 100)!;
      const repaired = (nasty as string & { toWellFormed(): string }).toWellFormed();
      assert.equal(op.args!['Call stack'], `${repaired};at ${repaired} (x.ts:1:1)`, 'args keep the exact text');
      assert.deepEqual(op.args!['Input type'], [repaired]);
    }
  });

  it('sanitizes event names as Kineto does', () => {
    const nameOf = (kernel: string): [string, string] => {
      const record = twoStepRecord();
      record.dispatches[0]!.kernel = kernel;
      const t = buildTrace(record);
      return [byCat(t, 'cpu_op').find((o) => o.args!['External id'] === 100)!.name, byCat(t, 'kernel')[0]!.name];
    };
    assert.deepEqual(nameOf('C:\\path\\k.wgsl'), ['C:/path/k.wgsl', 'C:/path/k.wgsl']);
    assert.deepEqual(nameOf('line1\nline2\r\n'), ['line1line2', 'line1line2']);
    assert.deepEqual(nameOf('bell\u0007'), ['unknown', 'unknown']);
    assert.deepEqual(nameOf('say "hi"'), ['say "hi"', 'say "hi"']);
    assert.deepEqual(nameOf('emoji 🚀'), ['emoji 🚀', 'emoji 🚀']);
    assert.deepEqual(nameOf('lone \ud800'), ['lone \ufffd', 'lone \ufffd']);
    assert.deepEqual(nameOf('kernel'), ['kernel', 'Kernel'], 'Kineto renames kernels called "kernel"');
  });
});

describe('bad records', () => {
  const expectInvalid = (mutate: (r: CaptureRecord) => void, pattern: RegExp): void => {
    const record = twoStepRecord();
    mutate(record);
    assert.throws(
      () => buildTrace(record),
      (error: unknown) => error instanceof WgprofError && error.code === 'TRACE_INVALID_RECORD' && pattern.test(error.message),
    );
    assert.throws(() => serializeTrace(record), WgprofError, 'serializeTrace checks eagerly, before any chunk');
  };

  it('names the field, the value and what was expected', () => {
    expectInvalid((r) => (r.dispatches[1]!.opStartNs = NaN), /dispatches\[1\]\.opStartNs is NaN; expected a finite number/);
    expectInvalid((r) => (r.dispatches[0]!.gpuEndNs = Infinity), /dispatches\[0\]\.gpuEndNs is Infinity/);
    expectInvalid((r) => (r.dispatches[0]!.correlation = 1.5), /dispatches\[0\]\.correlation is 1\.5; expected an integer/);
    expectInvalid((r) => (r.meta.streamId = 0), /meta\.streamId is 0; expected an integer >= 1/);
    expectInvalid((r) => (r.meta.pid = r.meta.deviceIndex), /meta\.pid is 0; expected a host pid different from meta\.deviceIndex/);
    expectInvalid((r) => ((r.meta as { timeOriginEpochNs: unknown }).timeOriginEpochNs = 5), /meta\.timeOriginEpochNs is 5; expected a positive bigint/);
    expectInvalid((r) => ((r.copies[0] as { kind: string }).kind = 'HtoH'), /copies\[0\]\.kind is "HtoH"/);
    expectInvalid((r) => ((r as { memory: unknown }).memory = null), /record\.memory is null; expected an array/);
    expectInvalid((r) => {
      r.meta.withMemory = true;
      r.memory[0]!.bytes = 1.5;
    }, /memory\[0\]\.bytes is 1\.5/);
  });
});

describe('validateTrace', () => {
  it('accepts real torch traces and reports torch’s with_stack overlaps (pytorch#174555)', async () => {
    const { parseTraceFile } = await import('../../src/report/index.js');
    assert.deepEqual(validateTrace(await parseTraceFile(fixture('torch/synthetic-gpu.pt.trace.json.gz'))), []);
    assert.deepEqual(validateTrace(await parseTraceFile(fixture('torch/torch-2.13-minimal.rank0.1795829618252646147.pt.trace.json.gz'))), []);
    const problems = validateTrace(await parseTraceFile(fixture('torch/torch-2.13-full-with-stack.rank0.1795829617273139504.pt.trace.json.gz')));
    assert.ok(problems.length > 0);
    assert.match(problems[0]!, /overlaps .* without nesting/);
  });

  it('reports each broken contract field', () => {
    const good = (): KinetoTrace => buildTrace(full());
    const expect = (mutate: (t: KinetoTrace) => void, pattern: RegExp): void => {
      const t = good();
      mutate(t);
      const problems = validateTrace(t);
      assert.ok(
        problems.some((p) => pattern.test(p)),
        `${pattern} not in ${JSON.stringify(problems)}`,
      );
    };
    const kernel = (t: KinetoTrace): TraceEvent => t.traceEvents.find((e) => e.cat === 'kernel')!;
    expect((t) => (kernel(t).args!['correlation'] = 424242), /no launch \(cuda_runtime\) has correlation 424242/);
    expect((t) => (kernel(t).args!['External id'] = 999), /External id 999 links to no cpu_op/);
    expect((t) => (kernel(t).args!['stream'] = 0), /HTA needs stream > 0/);
    expect((t) => delete kernel(t).args!['device'], /device is undefined/);
    expect((t) => (kernel(t).ts = 1.0005), /at most 3 decimals/);
    expect((t) => (kernel(t).dur = -1), /dur is -1/);
    expect((t) => delete kernel(t).cat, /X event without a cat/);
    expect((t) => (t.traceEvents.find((e) => e.name === 'ProfilerStep#2')!.name = 'ProfilerStep#two'), /ProfilerStep#<int>/);
    expect((t) => (t.traceEvents = t.traceEvents.filter((e) => e.ph !== 'f')), /flow 1000 has 1 start\(s\) and 0 end\(s\)/);
    expect((t) => (t.traceEvents.find((e) => e.ph === 'f')!.ts += 1), /not at its GPU activity/);
    expect((t) => (t.traceEvents.find((e) => e.name === '[memory]')!.args!['Bytes'] = '8192'), /Bytes is "8192"; expected an integer/);
    expect((t) => (t.deviceProperties[0]!.id = 3), /entry i must describe device i/);
    expect((t) => ((t as unknown as Record<string, unknown>)['schemaVersion'] = 2), /schemaVersion is 2/);
    expect((t) => (t.distributedInfo!.rank = -1), /distributedInfo\.rank is -1/);
    expect((t) => t.traceEvents.push({ ph: 'M', name: 'process_name', pid: 1, tid: 0, ts: 0, args: { name: 'x' } }), /last event is not "Record Window End"/);
    expect((t) => {
      const op = t.traceEvents.find((e) => e.cat === 'cpu_op')!;
      op.dur = op.dur! + 1000; // now ends after its step
    }, /overlaps .* without nesting/);
    assert.match(validateTrace([])[0]!, /legacy autograd format/);
  });
});
