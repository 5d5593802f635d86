// Instrumentation on dawn.node (SwiftShader): real kernels, pass splitting, user timestampWrites,
// copies, memory, hints, and detach. Shapes are tiny: SwiftShader on two shared cores.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineKernel, ceilDiv } from '../../kernels/define.js';
import { requestGpuDevice, type GpuRuntime } from '../../src/gpu/device.js';
import { Instrumentation, noteDispatch, type Captured } from '../../src/instrument/index.js';
import { HEAP_BYTES } from '../../src/instrument/instrumentation.js';
import { buildTrace } from '../../src/trace/index.js';
import { validateTrace } from '../../src/report/index.js';
import type { CaptureRecord } from '../../src/capture/model.js';
import { WgprofError } from '../../src/util/errors.js';
import { baseMeta } from '../unit/fixtures/trace-records.js';
import { resetWarnOnce, setLogSink } from '../../src/util/log.js';

const N = 256;
const PARAM_STRIDE = 256; // minUniformBufferOffsetAlignment

const SCALE_WGSL = /* wgsl */ `
struct Params { a: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&y)) { y[id.x] = params.a * x[id.x]; }
}`;

// The workgroup size is an override constant: the instrumentation reads it from the initializer. The
// values pass through workgroup memory sized by it (WG f32 = 128 bytes), which the instrumentation
// reads from the source too.
const ADD_ONE_WGSL = /* wgsl */ `
override WG: u32 = 32;
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
var<workgroup> staged: array<f32, WG>;
@compute @workgroup_size(WG)
fn add_one(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let inRange = id.x < arrayLength(&dst);
  if (inRange) { staged[lane] = src[id.x]; }
  workgroupBarrier();
  if (inRange) { dst[id.x] = staged[lane] + 1.0; }
}`;

const scaleKernel = defineKernel<{ n: number }>({
  name: 'wg_scale',
  label: 'wg_scale',
  source: SCALE_WGSL,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ n }) => [ceilDiv(n, 64), 1, 1],
  cost: ({ n }) => ({ flops: n, bytesRead: 4 * n + 4, bytesWritten: 4 * n }),
  inputs: ({ n }) => ({ dims: [[n], [1]], types: ['float32', 'float32'] }),
});

const USAGE_RW = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

interface Kit {
  device: GPUDevice;
  scale: GPUComputePipeline;
  addOne: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

function makeKit(device: GPUDevice): Kit {
  const layout = device.createBindGroupLayout({
    label: 'wg_scale',
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: 16 } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ],
  });
  const scale = device.createComputePipeline({
    label: 'wg_scale',
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: device.createShaderModule({ label: 'wg_scale', code: SCALE_WGSL }), entryPoint: 'main' },
  });
  // No pipeline label: the kernel is named after the shader module (as with onnxruntime-web's native EP).
  const addOne = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ label: 'wg_add_one', code: ADD_ONE_WGSL }), entryPoint: 'add_one' },
  });
  return { device, scale, addOne, layout };
}

async function readBuffer(device: GPUDevice, source: GPUBuffer, bytes: number): Promise<Float32Array> {
  const read = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(source, 0, read, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(read.getMappedRange().slice(0));
  read.destroy();
  return out;
}

/** One encoder, one pass, `count` add-one dispatches src → dst, submitted. */
function runAddOne(kit: Kit, src: GPUBuffer, dst: GPUBuffer, count = 1, passDesc?: GPUComputePassDescriptor): void {
  const { device, addOne } = kit;
  const group = device.createBindGroup({
    layout: addOne.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: src } },
      { binding: 1, resource: { buffer: dst } },
    ],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass(passDesc);
  pass.setPipeline(addOne);
  pass.setBindGroup(0, group);
  for (let i = 0; i < count; i++) pass.dispatchWorkgroups(ceilDiv(N, 32));
  pass.end();
  device.queue.submit([encoder.finish()]);
}

function timed(captured: Captured) {
  return captured.dispatches.filter((d) => d.gpuStartNs !== undefined);
}

describe('Instrumentation on dawn.node', () => {
  let runtime: GpuRuntime;
  let kit: Kit;
  const x = Float32Array.from({ length: N }, (_, i) => (i % 13) - 6);

  before(async () => {
    runtime = await requestGpuDevice();
    kit = makeKit(runtime.device);
  });
  after(() => runtime?.destroy());

  test('records every dispatch with labels, sizes, shapes, GPU intervals inside their submits, and leaves results unchanged', async () => {
    const { device } = runtime;
    const inst = new Instrumentation({ recordShapes: true, withFlops: true, withMemory: true });
    inst.attach(device);
    try {
      // Pipelines made after attach: their shader-module labels are known (names for unlabeled pipelines).
      const kit = makeKit(device);
      device.pushErrorScope('validation');
      inst.setCapturing(true);
      const params = device.createBuffer({ label: 'params', size: 2 * PARAM_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      const xBuf = device.createBuffer({ label: 'x', size: 4 * N, usage: USAGE_RW });
      const yBuf = device.createBuffer({ label: 'y', size: 4 * N, usage: USAGE_RW });
      const zBuf = device.createBuffer({ label: 'z', size: 4 * N, usage: USAGE_RW });
      const wBuf = device.createBuffer({ label: 'w', size: 4 * N, usage: USAGE_RW });
      const yCopy = device.createBuffer({ label: 'y_copy', size: 4 * N, usage: USAGE_RW });
      const zRead = device.createBuffer({ label: 'z_read', size: 4 * N, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const userQueries = device.createQuerySet({ label: 'user_queries', type: 'timestamp', count: 2 });
      const paramData = new Float32Array((2 * PARAM_STRIDE) / 4);
      paramData[0] = 2;
      paramData[PARAM_STRIDE / 4] = 3;
      device.queue.writeBuffer(params, 0, paramData);
      device.queue.writeBuffer(xBuf, 0, x);

      const scaleGroup = device.createBindGroup({
        label: 'wg_scale',
        layout: kit.layout,
        entries: [
          { binding: 0, resource: { buffer: params, size: 16 } },
          { binding: 1, resource: { buffer: xBuf } },
          { binding: 2, resource: { buffer: yBuf } },
        ],
      });
      const addGroup = (src: GPUBuffer, dst: GPUBuffer) =>
        device.createBindGroup({
          layout: kit.addOne.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: src } },
            { binding: 1, resource: { buffer: dst } },
          ],
        });
      const yToZ = addGroup(yBuf, zBuf);
      const zToW = addGroup(zBuf, wBuf);

      // Submit 1: ONE pass, three dispatches that depend on each other (split twice), a dynamic offset
      // that changes between them, then a pass with the user's own timestampWrites, then copies.
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass({ label: 'chain' });
      pass.setPipeline(kit.scale);
      pass.setBindGroup(0, scaleGroup, [0]);
      noteDispatch(device, scaleKernel, { n: N });
      pass.dispatchWorkgroups(ceilDiv(N, 64)); // y = 2x
      pass.setPipeline(kit.addOne);
      pass.setBindGroup(0, yToZ);
      pass.dispatchWorkgroups(ceilDiv(N, 32)); // z = y + 1 = 2x + 1
      pass.setPipeline(kit.scale);
      pass.setBindGroup(0, scaleGroup, [PARAM_STRIDE]);
      pass.dispatchWorkgroups(ceilDiv(N, 64)); // y = 3x
      pass.end();
      const userPass = encoder.beginComputePass({ timestampWrites: { querySet: userQueries, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
      userPass.setPipeline(kit.addOne);
      userPass.setBindGroup(0, zToW);
      userPass.dispatchWorkgroups(ceilDiv(N, 32)); // w = z + 1 = 2x + 2
      userPass.dispatchWorkgroups(ceilDiv(N, 32));
      userPass.end();
      encoder.copyBufferToBuffer(yBuf, 0, yCopy, 0, 4 * N);
      encoder.copyBufferToBuffer(zBuf, zRead);
      device.queue.submit([encoder.finish()]);

      // Submit 2: one more dispatch (w = y + 1 = 3x + 1), so the clock fit has two brackets.
      runAddOne(kit, yBuf, wBuf);
      inst.setCapturing(false);
      const captured = await inst.flush();
      const error = await device.popErrorScope();
      assert.equal(error, null, `validation error: ${error?.message}`);

      // Results equal the CPU reference: instrumentation changed nothing.
      await zRead.mapAsync(GPUMapMode.READ);
      const z = new Float32Array(zRead.getMappedRange().slice(0));
      zRead.unmap();
      assert.deepEqual(
        z,
        x.map((v) => 2 * v + 1),
      );
      assert.deepEqual(
        await readBuffer(device, yCopy, 4 * N),
        x.map((v) => 3 * v),
      );
      assert.deepEqual(
        await readBuffer(device, wBuf, 4 * N),
        x.map((v) => 3 * v + 1),
      );

      // One record per dispatch, named after the pipeline, else the shader module.
      const d = captured.dispatches;
      assert.deepEqual(
        d.map((r) => r.kernel),
        ['wg_scale', 'wg_add_one', 'wg_scale', 'wg_add_one', 'wg_add_one', 'wg_add_one'],
      );
      assert.deepEqual(
        d.map((r) => r.workgroups),
        [
          [4, 1, 1],
          [8, 1, 1],
          [4, 1, 1],
          [8, 1, 1],
          [8, 1, 1],
          [8, 1, 1],
        ],
      );
      assert.deepEqual(d[0]?.workgroupSize, [64, 1, 1]);
      assert.deepEqual(d[1]?.workgroupSize, [32, 1, 1]);
      assert.deepEqual(d[2]?.workgroupSize, [64, 1, 1]);
      // Workgroup memory, parsed from each pipeline's WGSL: none declared is 0 bytes, known.
      assert.deepEqual(
        d.map((r) => r.workgroupMemoryBytes),
        [0, 128, 0, 128, 128, 128],
      );
      assert.deepEqual(d[0]?.boundBufferBytes, [16, 4 * N, 4 * N]);
      assert.deepEqual(d[1]?.boundBufferBytes, [4 * N, 4 * N]);
      // The hint gave shapes and cost to the first dispatch only; unknown cost stays absent.
      assert.deepEqual(d[0]?.inputDims, [[N], [1]]);
      assert.deepEqual(d[0]?.inputTypes, ['float32', 'float32']);
      assert.deepEqual(d[0]?.cost, { flops: N, bytesRead: 4 * N + 4, bytesWritten: 4 * N });
      for (const r of d.slice(1)) {
        assert.equal(r.cost, undefined);
        assert.equal(r.inputDims, undefined);
      }
      // Ids increase; the CPU op contains the launch; ops do not overlap.
      for (let i = 0; i < d.length; i++) {
        const r = d[i]!;
        assert.equal(r.externalId, r.correlation);
        assert.equal(r.launch, 'dispatchWorkgroups');
        assert.ok(r.opStartNs <= r.launchStartNs && r.launchStartNs <= r.launchEndNs && r.launchEndNs <= r.opEndNs);
        if (i > 0) assert.ok(d[i - 1]!.opEndNs <= r.opStartNs && d[i - 1]!.externalId < r.externalId);
      }

      // GPU intervals: the split pass's three and submit 2's one; the user-timestamped pass is untimed.
      assert.equal(captured.timestamps.mode, 'pass-boundaries');
      assert.equal(captured.stats.passSplits, 2);
      assert.equal(captured.stats.untimedUserTimestampWrites, 2);
      assert.deepEqual(
        timed(captured).map((r) => r.correlation),
        [d[0], d[1], d[2], d[5]].map((r) => r!.correlation),
      );
      assert.equal(d[3]?.gpuStartNs, undefined);
      assert.match(captured.timestamps.note ?? '', /2 dispatch\(es\) ran in passes with their own timestampWrites/);
      const t = timed(captured);
      for (let i = 0; i < t.length; i++) {
        assert.ok(t[i]!.gpuEndNs! > t[i]!.gpuStartNs!, 'positive GPU duration');
        if (i > 0) assert.ok(t[i - 1]!.gpuEndNs! <= t[i]!.gpuStartNs!, 'GPU intervals in submission order, no overlap');
      }
      assert.equal(captured.submits.length, 2);
      for (const submit of captured.submits) {
        assert.ok(submit.cpuDoneNs !== undefined);
        for (const correlation of submit.correlations) {
          const r = d.find((rec) => rec.correlation === correlation)!;
          if (r.gpuStartNs === undefined) continue;
          assert.ok(r.gpuStartNs >= submit.cpuSubmitNs && r.gpuEndNs! <= submit.cpuDoneNs!, 'kernel inside [submit, done]');
          assert.ok(r.gpuStartNs >= r.launchEndNs, 'kernel starts after its launch');
        }
      }
      assert.deepEqual(
        captured.submits.map((s) => s.correlations.length),
        [5, 1],
      );
      assert.equal(captured.clock?.method, 'submit-completion-bracket');
      assert.equal(captured.clock?.scale, 1);
      // Two workload submits and the clock pings at both window edges (8 each by default).
      assert.equal(captured.clock?.samples, 2 + 2 * 8);
      assert.ok((captured.clock?.uncertaintyNs ?? -1) >= 0);
      assert.equal(captured.timestamps.quantized, false);
      assert.deepEqual(captured.errors, []);

      // Copies: two writeBuffers (HtoD, never timed: queue operations outside the command stream), a
      // DtoD and a readback (DtoH), both bracketed by timestamps in submit 1.
      assert.deepEqual(
        captured.copies.map((c) => [c.kind, c.launch, c.bytes]),
        [
          ['HtoD', 'writeBuffer', 2 * PARAM_STRIDE],
          ['HtoD', 'writeBuffer', 4 * N],
          ['DtoD', 'copyBufferToBuffer', 4 * N],
          ['DtoH', 'copyBufferToBuffer', 4 * N],
        ],
      );
      for (const c of captured.copies.slice(0, 2)) assert.equal(c.gpuStartNs, undefined);
      assert.equal(captured.stats.timedCopies + captured.stats.untimedCopies, 2);
      const submit1 = captured.submits[0]!;
      for (const c of captured.copies.slice(2)) {
        if (c.gpuStartNs === undefined) continue;
        assert.ok(c.gpuEndNs! > c.gpuStartNs, 'positive copy duration');
        assert.ok(c.gpuStartNs >= d[2]!.gpuEndNs! && c.gpuEndNs! <= submit1.cpuDoneNs!, 'copy after the split pass, inside submit 1');
      }

      // Memory: 7 buffers and the user's query set, with running totals; our own query sets are not counted.
      const allocs = captured.memory.filter((m) => m.bytes > 0);
      assert.deepEqual(
        allocs.map((m) => [m.kind, m.label, m.bytes]),
        [
          ['buffer', 'params', 2 * PARAM_STRIDE],
          ['buffer', 'x', 4 * N],
          ['buffer', 'y', 4 * N],
          ['buffer', 'z', 4 * N],
          ['buffer', 'w', 4 * N],
          ['buffer', 'y_copy', 4 * N],
          ['buffer', 'z_read', 4 * N],
          ['querySet', 'user_queries', 16],
        ],
      );
      let running = 0;
      for (const m of captured.memory) {
        running += m.bytes;
        assert.equal(m.totalAllocatedBytes, running);
        assert.equal(m.totalReservedBytes, m.totalAllocatedBytes);
      }
      assert.equal(new Set(allocs.map((m) => m.addr)).size, allocs.length, 'distinct pseudo addresses');

      // Frees outside the window change the totals but write no records.
      const before = inst.allocatedBytes;
      for (const b of [params, xBuf, yBuf, zBuf, wBuf, yCopy, zRead]) b.destroy();
      userQueries.destroy();
      assert.equal(inst.allocatedBytes, before - 2 * PARAM_STRIDE - 6 * 4 * N - 16);
      // The peak includes readBuffer()'s temporary 4·N-byte buffer, alive next to all the others.
      assert.equal(inst.markStep(), before + 4 * N, 'peak of the step');
      assert.equal(inst.markStep(), 0, 'the next step starts at the current total');
      assert.deepEqual((await inst.flush()).memory, []);
    } finally {
      inst.detach();
    }
  });

  test('inside the window, destroy() writes a negative memory record with the running total', async () => {
    const { device } = runtime;
    const inst = new Instrumentation({ withMemory: true, memoryBaselineBytes: 1000 });
    inst.attach(device);
    try {
      inst.setCapturing(true);
      const a = device.createBuffer({ label: 'a', size: 1024, usage: GPUBufferUsage.STORAGE });
      const b = device.createBuffer({ label: 'b', size: 512, usage: GPUBufferUsage.STORAGE });
      a.destroy();
      a.destroy(); // a second destroy is legal in WebGPU and must not count twice
      b.destroy();
      inst.setCapturing(false);
      const { memory } = await inst.flush();
      assert.deepEqual(
        memory.map((m) => [m.label, m.bytes, m.totalAllocatedBytes]),
        [
          ['a', 1024, 2024],
          ['b', 512, 2536],
          ['a', -1024, 1512],
          ['b', -512, 1000],
        ],
      );
      assert.equal(memory[0]?.addr, memory[2]?.addr);
      assert.equal(inst.markStep(), 2536);
    } finally {
      inst.detach();
    }
  });

  test('each window is collected apart: work of a window reopened before the first was collected stays out of it', async () => {
    const { device } = runtime;
    const inst = new Instrumentation();
    inst.attach(device);
    try {
      const src = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      inst.setCapturing(true);
      runAddOne(kit, src, dst, 2);
      const first = inst.endWindow()!;
      // A restart before the first window is collected (the profiler's auto-stop, then /start_profile).
      inst.setCapturing(true);
      runAddOne(kit, src, dst, 3);
      const second = inst.endWindow()!;
      // Collected out of order: each has exactly its own dispatches, each timed within its submit.
      const b = await second.collect();
      const a = await first.collect();
      assert.equal(a.dispatches.length, 2);
      assert.equal(b.dispatches.length, 3);
      assert.ok(Math.max(...a.dispatches.map((d) => d.externalId)) < Math.min(...b.dispatches.map((d) => d.externalId)));
      assert.equal(timed(a).length, 2);
      assert.equal(timed(b).length, 3);
      assert.equal(a.submits.length, 1);
      assert.equal(b.submits.length, 1);
      await assert.rejects(first.collect(), (e: unknown) => e instanceof WgprofError && e.code === 'WINDOW_COLLECTED');
      assert.equal(inst.endWindow(), undefined, 'no window is open');
      src.destroy();
      dst.destroy();
    } finally {
      inst.detach();
    }
  });

  test('outside the capture window nothing is recorded, encoders are not touched, no query set is created', async () => {
    const { device } = runtime;
    const inst = new Instrumentation({ withMemory: true });
    inst.attach(device);
    try {
      const src = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      device.queue.writeBuffer(src, 0, x);
      const encoder = device.createCommandEncoder();
      const proto = Object.getPrototypeOf(encoder) as GPUCommandEncoder;
      assert.equal(encoder.beginComputePass, proto.beginComputePass);
      assert.equal(encoder.finish, proto.finish);
      encoder.finish();
      runAddOne(kit, src, dst, 3);
      const captured = await inst.flush();
      assert.deepEqual([captured.dispatches, captured.copies, captured.memory, captured.submits], [[], [], [], []]);
      assert.equal(inst.querySetsCreated, 0);
      assert.deepEqual(
        await readBuffer(device, dst, 4 * N),
        x.map((v) => v + 1),
      );
      src.destroy();
      dst.destroy();
    } finally {
      inst.detach();
    }
  });

  test("a captured pass is a GPUComputePassEncoder with exactly the runtime pass's methods, and its label", async () => {
    const { device } = runtime;
    const inst = new Instrumentation();
    inst.attach(device);
    try {
      device.pushErrorScope('validation');
      const methods = (pass: object) => {
        const names: string[] = [];
        for (const name in pass) if (typeof (pass as Record<string, unknown>)[name] === 'function') names.push(name);
        const all = new Set<string>();
        for (let p = Object.getPrototypeOf(pass) as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
          for (const name of Object.getOwnPropertyNames(p))
            if (name !== 'constructor' && typeof (pass as Record<string, unknown>)[name] === 'function') all.add(name);
        }
        return [...new Set([...names, ...all])].sort();
      };
      const plainEncoder = device.createCommandEncoder();
      const plain = plainEncoder.beginComputePass({ label: 'plain' });
      inst.setCapturing(true);
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass({ label: 'captured' });
      assert.ok(pass instanceof (plain.constructor as new () => GPUComputePassEncoder), "instanceof the runtime's class");
      assert.equal(pass.constructor, plain.constructor);
      assert.deepEqual(methods(pass), methods(plain));
      assert.equal(pass.label, 'captured', 'the label accessor reads the real pass');
      assert.ok(!Object.getOwnPropertyNames(pass).includes('label'), 'no own label shadows the accessor');
      pass.label = 'renamed';
      assert.equal(pass.label, 'renamed', 'and writes it');
      pass.end();
      const unlabeled = encoder.beginComputePass();
      assert.equal(unlabeled.label, '');
      unlabeled.end();
      plain.end();
      plainEncoder.finish();
      device.queue.submit([encoder.finish()]);
      inst.setCapturing(false);
      await inst.flush();
      assert.equal(await device.popErrorScope(), null);
    } finally {
      inst.detach();
    }
  });

  test('with splitPasses: false a multi-dispatch pass stays whole and untimed; a one-dispatch pass is timed', async () => {
    const { device } = runtime;
    const inst = new Instrumentation({ splitPasses: false });
    inst.attach(device);
    try {
      const src = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      inst.setCapturing(true);
      runAddOne(kit, src, dst, 3);
      runAddOne(kit, src, dst, 1);
      inst.setCapturing(false);
      const captured = await inst.flush();
      assert.equal(captured.dispatches.length, 4);
      assert.equal(captured.stats.passSplits, 0);
      assert.equal(captured.stats.untimedBatched, 3);
      assert.deepEqual(
        timed(captured).map((r) => r.correlation),
        [captured.dispatches[3]!.correlation],
      );
      src.destroy();
      dst.destroy();
    } finally {
      inst.detach();
    }
  });

  test('timestamps: false records CPU spans only, says so, and creates no query set', async () => {
    const { device } = runtime;
    const inst = new Instrumentation({ timestamps: false });
    inst.attach(device);
    try {
      const src = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      inst.setCapturing(true);
      runAddOne(kit, src, dst, 2);
      inst.setCapturing(false);
      const captured = await inst.flush();
      assert.equal(captured.dispatches.length, 2);
      assert.equal(timed(captured).length, 0);
      assert.equal(captured.timestamps.mode, 'none');
      assert.match(captured.timestamps.note ?? '', /timestamps: false/);
      assert.equal(captured.clock, undefined);
      assert.equal(inst.querySetsCreated, 0);
      src.destroy();
      dst.destroy();
    } finally {
      inst.detach();
    }
  });

  test('withStack records the caller frames, innermost first, without wgprof frames', async () => {
    const { device } = runtime;
    const inst = new Instrumentation({ withStack: true, maxStackFrames: 4 });
    inst.attach(device);
    try {
      const src = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      inst.setCapturing(true);
      runAddOne(kit, src, dst, 1);
      inst.setCapturing(false);
      const [record] = (await inst.flush()).dispatches;
      const stack = record?.stack ?? [];
      assert.ok(stack.length >= 1 && stack.length <= 4, JSON.stringify(stack));
      assert.match(stack[0] ?? '', /^runAddOne .*instrument\.test\.ts:\d+:\d+\)$/);
      assert.ok(
        stack.every((frame) => !/src[\\/]instrument[\\/]/.test(frame)),
        JSON.stringify(stack),
      );
      src.destroy();
      dst.destroy();
    } finally {
      inst.detach();
    }
  });

  test("withStack keeps V8's async chain: a kernel dispatched from an awaited helper names the helper's caller", async () => {
    const { device } = runtime;
    const inst = new Instrumentation({ withStack: true });
    inst.attach(device);
    try {
      const src = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      async function uploadThenAddOne(): Promise<void> {
        await device.queue.onSubmittedWorkDone();
        runAddOne(kit, src, dst, 1);
      }
      async function refreshPredictions(): Promise<void> {
        await uploadThenAddOne();
      }
      inst.setCapturing(true);
      await refreshPredictions();
      inst.setCapturing(false);
      const [record] = (await inst.flush()).dispatches;
      const stack = record?.stack ?? [];
      assert.match(stack[0] ?? '', /^runAddOne /, JSON.stringify(stack));
      assert.ok(
        stack.some((frame) => /^uploadThenAddOne /.test(frame)),
        JSON.stringify(stack),
      );
      assert.ok(
        stack.some((frame) => /^async refreshPredictions /.test(frame)),
        `the awaiting caller is on the stack: ${JSON.stringify(stack)}`,
      );
      src.destroy();
      dst.destroy();
    } finally {
      inst.detach();
    }
  });

  test('a hint whose cost() throws is reported by flush() and the dispatch is still recorded', async () => {
    const { device } = runtime;
    const broken = defineKernel<{ n: number }>({
      ...scaleKernel,
      name: 'broken_cost',
      cost: () => {
        throw new Error('no cost model');
      },
    });
    const inst = new Instrumentation({ withFlops: true, recordShapes: false });
    inst.attach(device);
    try {
      const src = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      inst.setCapturing(true);
      const dst = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      noteDispatch(device, broken, { n: N });
      runAddOne(kit, src, dst, 1);
      inst.setCapturing(false);
      const captured = await inst.flush();
      assert.equal(captured.dispatches.length, 1);
      assert.equal(captured.dispatches[0]?.cost, undefined);
      assert.equal(captured.dispatches[0]?.inputDims, undefined, 'recordShapes is off');
      assert.equal(captured.errors.length, 1);
      assert.equal((captured.errors[0] as WgprofError).code, 'HINT_FAILED');
      assert.match(captured.errors[0]?.message ?? '', /broken_cost.*no cost model/);
      src.destroy();
      dst.destroy();
    } finally {
      inst.detach();
    }
  });

  test('detach restores the device exactly; other devices are never touched; double attach is refused', async () => {
    const { device } = runtime;
    const other = await requestGpuDevice({ backend: 'null' });
    try {
      const names = ['createBuffer', 'createCommandEncoder', 'createBindGroup', 'createShaderModule', 'createComputePipeline', 'destroy'] as const;
      const snapshot = (d: GPUDevice) => [
        ...names.map((n) => d[n]),
        d.queue.submit,
        d.queue.writeBuffer,
        Object.getOwnPropertyNames(d).join(','),
        Object.getOwnPropertyNames(d.queue).join(','),
      ];
      const before = snapshot(device);
      const otherBefore = snapshot(other.device);
      const inst = new Instrumentation({ withMemory: true });
      inst.attach(device);
      assert.notEqual(device.createCommandEncoder, before[1], 'attached: wrapped');
      assert.deepEqual(snapshot(other.device), otherBefore, 'the other device is untouched');
      assert.throws(
        () => new Instrumentation().attach(device),
        (e: unknown) => e instanceof WgprofError && e.code === 'ALREADY_ATTACHED',
      );
      assert.throws(
        () => inst.attach(other.device),
        (e: unknown) => e instanceof WgprofError && e.code === 'ALREADY_ATTACHED',
      );
      inst.setCapturing(true);
      const buffer = device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE });
      assert.ok(Object.prototype.hasOwnProperty.call(buffer, 'destroy'));
      inst.detach();
      assert.deepEqual(snapshot(device), before, 'detach restored every method');
      assert.equal(Object.prototype.hasOwnProperty.call(buffer, 'destroy'), false, 'tracked objects restored');
      assert.equal(inst.capturing, false);
      inst.detach(); // idempotent
      assert.throws(
        () => inst.attach(device),
        (e: unknown) => e instanceof WgprofError && e.code === 'INSTRUMENTATION_DETACHED',
      );
      // A fresh instance can attach again after detach.
      const again = new Instrumentation();
      again.attach(device);
      again.detach();
      buffer.destroy();
    } finally {
      other.destroy();
    }
  });

  test('setCapturing(true) before attach and bad options are refused with clear errors', () => {
    assert.throws(
      () => new Instrumentation().setCapturing(true),
      (e: unknown) => e instanceof WgprofError && e.code === 'NOT_ATTACHED',
    );
    assert.throws(
      () => new Instrumentation({ clock: 5 as unknown as () => number }),
      (e: unknown) => e instanceof WgprofError && e.code === 'INVALID_OPTION' && /"clock"/.test(e.message),
    );
    assert.throws(
      () => new Instrumentation({ withStack: 'yes' as unknown as boolean }),
      (e: unknown) => e instanceof WgprofError && /"withStack".*"yes"/.test(e.message),
    );
  });
});

describe('copyBufferToBuffer GPU timing on dawn.node', () => {
  test('a 1 MiB copy between two dispatches gets a GPU interval between them, and the trace a gpu_memcpy', async () => {
    const runtime = await requestGpuDevice();
    const { device } = runtime;
    const inst = new Instrumentation();
    inst.attach(device);
    try {
      const kit = makeKit(device);
      const COPY_BYTES = 1 << 20;
      const x = Float32Array.from({ length: N }, (_, i) => (i % 7) - 3);
      const big = Uint32Array.from({ length: COPY_BYTES / 4 }, (_, i) => (i * 2654435761) >>> 0);
      const xBuf = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const yBuf = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const zBuf = device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const src = device.createBuffer({ size: COPY_BYTES, usage: USAGE_RW });
      const dst = device.createBuffer({ size: COPY_BYTES, usage: USAGE_RW });
      device.queue.writeBuffer(xBuf, 0, x);
      device.queue.writeBuffer(src, 0, big);
      const group = (a: GPUBuffer, b: GPUBuffer) =>
        device.createBindGroup({
          layout: kit.addOne.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: a } },
            { binding: 1, resource: { buffer: b } },
          ],
        });
      const xToY = group(xBuf, yBuf);
      const yToZ = group(yBuf, zBuf);

      device.pushErrorScope('validation');
      inst.setCapturing(true);
      device.queue.writeBuffer(xBuf, 0, x); // HtoD inside the window: a launch, never a GPU interval
      const encoder = device.createCommandEncoder();
      let pass = encoder.beginComputePass();
      pass.setPipeline(kit.addOne);
      pass.setBindGroup(0, xToY);
      pass.dispatchWorkgroups(ceilDiv(N, 32)); // y = x + 1
      pass.end();
      encoder.copyBufferToBuffer(src, 0, dst, 0, COPY_BYTES);
      pass = encoder.beginComputePass();
      pass.setPipeline(kit.addOne);
      pass.setBindGroup(0, yToZ);
      pass.dispatchWorkgroups(ceilDiv(N, 32)); // z = y + 1
      pass.end();
      device.queue.submit([encoder.finish()]);
      inst.setCapturing(false);
      const captured = await inst.flush();
      const error = await device.popErrorScope();
      assert.equal(error, null, `validation error: ${error?.message}`);

      // Results equal the CPU reference: the bracket passes changed nothing.
      assert.deepEqual(
        await readBuffer(device, zBuf, 4 * N),
        x.map((v) => v + 2),
      );
      const copied = await readBuffer(device, dst, COPY_BYTES);
      assert.deepEqual(new Uint32Array(copied.buffer), big);

      assert.deepEqual(captured.errors, []);
      assert.deepEqual(
        captured.copies.map((c) => [c.kind, c.launch, c.bytes]),
        [
          ['HtoD', 'writeBuffer', 4 * N],
          ['DtoD', 'copyBufferToBuffer', COPY_BYTES],
        ],
      );
      const [write, copy] = captured.copies;
      assert.equal(write!.gpuStartNs, undefined);
      const [d0, d1] = captured.dispatches;
      assert.equal(captured.stats.timedCopies, 1);
      assert.equal(captured.stats.untimedCopies, 0);
      assert.ok(d0?.gpuEndNs !== undefined && d1?.gpuStartNs !== undefined, 'both dispatches timed');
      assert.ok(copy?.gpuStartNs !== undefined && copy.gpuEndNs !== undefined, 'the copy is timed');
      assert.ok(copy.gpuEndNs > copy.gpuStartNs, 'positive copy duration');
      const submit = captured.submits[0]!;
      assert.equal(captured.submits.length, 1);
      assert.ok(copy.gpuStartNs >= submit.cpuSubmitNs && copy.gpuEndNs <= submit.cpuDoneNs!, 'inside its submit window');
      assert.ok(d0.gpuEndNs <= copy.gpuStartNs, 'after the first dispatch');
      assert.ok(copy.gpuEndNs <= d1.gpuStartNs, 'before the second dispatch');

      // The trace: one gpu_memcpy, linked to its launch by correlation and an ac2g flow.
      const first = Math.min(...captured.copies.map((c) => c.launchStartNs), ...captured.dispatches.map((r) => r.opStartNs));
      const record: CaptureRecord = {
        meta: baseMeta({ timestamps: captured.timestamps, clock: captured.clock! }),
        steps: [{ number: 1, startNs: first - 1_000, endNs: submit.cpuDoneNs! + 1_000 }],
        cpuSpans: [],
        dispatches: captured.dispatches,
        copies: captured.copies,
        memory: [],
      };
      const trace = buildTrace(record);
      assert.deepEqual(validateTrace(trace), []);
      const memcpys = trace.traceEvents.filter((e) => e.cat === 'gpu_memcpy');
      assert.equal(memcpys.length, 1);
      const memcpy = memcpys[0]!;
      assert.equal(memcpy.name, 'Memcpy DtoD (Device -> Device)');
      const launch = trace.traceEvents.find((e) => e.cat === 'cuda_runtime' && e.name === 'copyBufferToBuffer');
      assert.ok(launch);
      assert.equal(memcpy.args?.['correlation'], launch.args?.['correlation']);
      assert.equal(memcpy.args?.['bytes'], COPY_BYTES);
      assert.ok((memcpy.args?.['memory bandwidth (GB/s)'] as number) > 0);
      const flows = trace.traceEvents.filter((e) => e.cat === 'ac2g' && e.id === launch.args?.['correlation']);
      assert.deepEqual(flows.map((e) => e.ph).sort(), ['f', 's']);
      // writeBuffer: the runtime event only.
      assert.equal(trace.traceEvents.filter((e) => e.cat === 'cuda_runtime' && e.name === 'writeBuffer').length, 1);
    } finally {
      inst.detach();
      runtime.destroy();
    }
  });
});

describe('Instrumentation on the null backend', () => {
  test('everything runs; dispatches are recorded (timestamps there are meaningless)', async () => {
    const runtime = await requestGpuDevice({ backend: 'null' });
    const warnings: string[] = [];
    const restoreSink = setLogSink((level, message) => level === 'warn' && warnings.push(message));
    resetWarnOnce();
    try {
      const kit = makeKit(runtime.device);
      const inst = new Instrumentation({ withMemory: true, withStack: true });
      inst.attach(runtime.device);
      runtime.device.pushErrorScope('validation');
      inst.setCapturing(true);
      const src = runtime.device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = runtime.device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      runAddOne(kit, src, dst, 3);
      runAddOne(kit, src, dst, 1);
      inst.setCapturing(false);
      const captured = await inst.flush();
      assert.equal(await runtime.device.popErrorScope(), null);
      assert.equal(captured.dispatches.length, 4);
      assert.equal(captured.stats.passSplits, 2);
      assert.equal(captured.submits.length, 2);
      // Whatever the null backend returns as ticks, any interval we keep lies inside its submit.
      for (const submit of captured.submits) {
        for (const c of submit.correlations) {
          const r = captured.dispatches.find((d) => d.correlation === c)!;
          if (r.gpuStartNs !== undefined) assert.ok(r.gpuStartNs >= submit.cpuSubmitNs && r.gpuEndNs! <= submit.cpuDoneNs!);
        }
      }
      inst.detach();
    } finally {
      restoreSink();
      runtime.destroy();
    }
  });

  test('capturedBytes: the memory budget estimate grows with what the open window holds and drops when it closes', async () => {
    const runtime = await requestGpuDevice({ backend: 'null' });
    try {
      const kit = makeKit(runtime.device);
      const src = runtime.device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const dst = runtime.device.createBuffer({ size: 4 * N, usage: USAGE_RW });
      const bare = new Instrumentation({});
      bare.attach(runtime.device);
      runAddOne(kit, src, dst, 2);
      assert.equal(bare.capturedBytes, 0, 'nothing held outside a window');
      bare.setCapturing(true);
      runAddOne(kit, src, dst, 2);
      assert.equal(bare.capturedBytes, 2 * HEAP_BYTES.dispatch);
      runAddOne(kit, src, dst, 3);
      assert.equal(bare.capturedBytes, 5 * HEAP_BYTES.dispatch);
      const handle = bare.endWindow();
      assert.equal(bare.capturedBytes, 0, 'a closed window no longer counts, even before it is collected');
      assert.equal((await handle!.collect()).dispatches.length, 5);
      bare.detach();
      const full = new Instrumentation({ withStack: true, recordShapes: true, withFlops: true });
      full.attach(runtime.device);
      full.setCapturing(true);
      runAddOne(kit, src, dst, 2);
      assert.equal(full.capturedBytes, 2 * (HEAP_BYTES.dispatch + HEAP_BYTES.stack + HEAP_BYTES.shapes + HEAP_BYTES.cost));
      await full.flush();
      full.detach();
    } finally {
      runtime.destroy();
    }
  });
});
