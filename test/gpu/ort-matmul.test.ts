// The matmul bench's ORT path on dawn.node (test/bench/matmul-ort.ts): onnxruntime-web's native WebGPU EP
// running on our device computes C = A·B like the CPU reference, our matmul kernel does too, and the
// timestamp injection times ORT's passes. One odd shape (17×29×23: no dimension a multiple of a tile).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requestGpuDevice } from '../../src/gpu/device.js';
import type { GpuRuntime } from '../../src/gpu/device.js';
import {
  checkBindings,
  installOrtNode,
  MATMUL_BINDINGS,
  matmulReference,
  matmulTolerance,
  maxAbsDiff,
  OrtMatMul,
  OUR_MATMUL,
  OurMatMul,
  PassTimer,
} from '../bench/matmul-ort.js';
import type { OrtNodeScope } from '../bench/matmul-ort.js';
import { parseBenchArgs } from '../bench/main.js';
import { buildMatMulModel, floatInitializer, ONNX_OPSET } from '../bench/onnx-models.js';
import { distribution, pairedRatios, seededFloats } from '../bench/util.js';
import onnxProto from 'onnx-proto';

const shape = { m: 17, k: 29, n: 23 };
const a = seededFloats(shape.m * shape.k, 1);
const b = seededFloats(shape.k * shape.n, 2);
const expected = matmulReference(a, b, shape);
const tolerance = matmulTolerance(shape);

describe('matmul: ORT native WebGPU EP and ours on one dawn.node device', () => {
  let runtime: GpuRuntime;
  let scope: OrtNodeScope;
  let ort: OrtMatMul;
  let timer: PassTimer;

  before(async () => {
    runtime = await requestGpuDevice({ label: 'test.ort-matmul' });
    scope = await installOrtNode(runtime);
    // Before the session: the timer names passes by the shader modules of pipelines created while installed.
    timer = PassTimer.install(runtime.device);
    ort = await OrtMatMul.create(scope.ort, runtime.device, shape, b);
  });

  after(async () => {
    await ort?.release();
    timer?.uninstall();
    scope?.restore();
    runtime?.destroy();
  });

  it('the CPU reference is C = A·B (checked on a 2×3·3×2 by hand)', () => {
    const c = matmulReference(Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(7, 8, 9, 10, 11, 12), { m: 2, k: 3, n: 2 });
    assert.deepEqual([...c], [58, 64, 139, 154]);
  });

  it('ORT MatMul on our device equals the CPU reference, with no validation error', async () => {
    runtime.device.pushErrorScope('validation');
    const c = await ort.run(a);
    const error = await runtime.device.popErrorScope();
    assert.equal(error, null, error?.message);
    assert.equal(c.length, shape.m * shape.n);
    const diff = maxAbsDiff(c, expected);
    assert.ok(diff <= tolerance, `max |ORT - reference| = ${diff} > ${tolerance}`);
  });

  it('our matmul kernel equals the CPU reference, and its pass is timed', async () => {
    const { device } = runtime;
    device.pushErrorScope('validation');
    let result: Awaited<ReturnType<OurMatMul['run']>>;
    try {
      const ours = await OurMatMul.create(device, OUR_MATMUL.descriptor, OUR_MATMUL.bindings, shape, b);
      result = await ours.run(a, true);
      ours.destroy();
    } finally {
      // Popped even when create() throws, so a failure here does not leave the scope to the next test.
      const error = await device.popErrorScope();
      assert.equal(error, null, error?.message);
    }
    const { c, durNs } = result;
    assert.ok(c);
    const diff = maxAbsDiff(c, expected);
    assert.ok(diff <= tolerance, `max |ours - reference| = ${diff} > ${tolerance}`);
    assert.ok(durNs !== undefined && durNs > 0, `GPU duration ${String(durNs)} ns`);
  });

  it('PassTimer times the MatMul pass of an ORT run and leaves the result unchanged', async () => {
    timer.arm();
    const c = await ort.run(a);
    const passes = await timer.collect();
    assert.ok(maxAbsDiff(c, expected) <= tolerance);
    assert.ok(passes.length >= 1, 'at least one timed pass');
    assert.ok(
      passes.every((p) => p.durNs > 0),
      `durations ${passes.map((p) => p.durNs).join(', ')} ns`,
    );
    assert.ok(passes.flatMap((p) => p.programs).includes('MatMul'), `programs ${passes.flatMap((p) => p.programs).join(', ')}`);
    // Disarmed: a later run is not timed.
    await ort.run(a);
    timer.arm();
    assert.deepEqual(await timer.collect(), []);
  });

  it('PassTimer refuses to report a window in which a pass carried its own timestampWrites', async () => {
    const { device } = runtime;
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    try {
      timer.arm();
      const encoder = device.createCommandEncoder();
      encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }).end();
      device.queue.submit([encoder.finish()]);
      await assert.rejects(timer.collect(), /already had timestampWrites/);
    } finally {
      querySet.destroy();
    }
  });

  it('a second PassTimer cannot be installed while one is', () => {
    assert.throws(() => PassTimer.install(runtime.device), /already installed/);
  });

  it('ORT rejects an input of the wrong size with an error', async () => {
    await assert.rejects(ort.run(seededFloats(shape.m * shape.k - 1, 3)), /size|length|dims/i);
  });
});

describe('matmul bench harness checks (no GPU)', () => {
  it('checkBindings accepts the kernel as written and rejects a changed layout', () => {
    checkBindings(OUR_MATMUL.descriptor.source, MATMUL_BINDINGS);
    const swapped = OUR_MATMUL.descriptor.source.replace('@binding(1) var<storage, read> a', '@binding(1) var<storage, read> x');
    assert.notEqual(swapped, OUR_MATMUL.descriptor.source);
    assert.throws(() => checkBindings(swapped, MATMUL_BINDINGS), /bindings changed.*1=x/);
  });

  it('maxAbsDiff treats NaN and a length mismatch as infinitely wrong', () => {
    assert.equal(maxAbsDiff([1, 2], [1, 2.5]), 0.5);
    assert.equal(maxAbsDiff([1, NaN], [1, 2]), Infinity);
    assert.equal(maxAbsDiff([1], [1, 2]), Infinity);
  });

  it('buildMatMulModel encodes one MatMul node with B as a raw-data initializer', () => {
    const model = onnxProto.onnx.ModelProto.decode(buildMatMulModel({ m: 2, k: 3, n: 4 }, { b: seededFloats(12, 5) }));
    assert.equal(Number(model.irVersion), 8);
    assert.equal(Number(model.opsetImport[0]?.version), ONNX_OPSET);
    const graph = model.graph;
    assert.ok(graph);
    assert.deepEqual(
      graph.node?.map((n) => n.opType),
      ['MatMul'],
    );
    const init = graph.initializer?.[0];
    assert.deepEqual(init?.dims?.map(Number), [3, 4]);
    assert.equal(init?.rawData?.byteLength, 12 * 4);
    assert.deepEqual(
      graph.input?.map((i) => i.name),
      ['A'],
    );
  });

  it('model builders reject a bad shape and a mis-sized initializer', () => {
    assert.throws(() => buildMatMulModel({ m: 0, k: 3, n: 4 }), /"m" must be a positive integer; got 0/);
    assert.throws(() => floatInitializer('W', [2, 2], new Float32Array(3)), /hold 4 floats but 3/);
  });

  it('distribution keeps every sample in order and computes order statistics', () => {
    const d = distribution([4, 1, 3, 2], 'us');
    assert.deepEqual(d.samples, [4, 1, 3, 2]);
    assert.deepEqual([d.min, d.median, d.p90, d.max, d.mean], [1, 2.5, 4, 4, 2.5]);
    assert.deepEqual(pairedRatios([2, 3], [4, 3]), [0.5, 1]);
    assert.throws(() => distribution([], 'us'), /no samples/);
    assert.throws(() => distribution([1, NaN], 'us'), /not a finite number/);
    assert.throws(() => pairedRatios([1], [0]), /denominator must be a positive/);
  });

  it('bench arguments: engine brings the matmul comparison along; unknown names are errors', () => {
    assert.deepEqual(parseBenchArgs(['engine']).benches, ['engine', 'matmul']);
    assert.deepEqual(parseBenchArgs([]).benches, ['engine', 'matmul', 'profiler', 'trace', 'instrument', 'timing', 'browser']);
    assert.equal(parseBenchArgs(['matmul', '--iterations=5']).iterations, 5);
    assert.throws(() => parseBenchArgs(['engin']), /unknown argument "engin"/);
    assert.throws(() => parseBenchArgs(['--iterations=0']), /positive integer/);
  });
});
