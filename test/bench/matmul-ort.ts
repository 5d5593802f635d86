// Our matmul kernel vs onnxruntime-web's MatMul (native WebGPU EP), on the very same GPUDevice, same
// shapes, same math (C[M,N] = A[M,K]·B[K,N], f32, row-major, B a weight), timed by GPU timestamp queries.
//
// Why Node + dawn.node and the native EP (`onnxruntime-web/webgpu`): it is the only combination where ORT
// accepts a device we hand it (EP option `device`; reference/webgpu-runtime-notes.md §2c), so both sides
// share one adapter, one device and one queue, and their runs can be interleaved in one process. JSEP
// ignores a handed-in device. Node needs three shims (notes §3), installed and removed by
// `installOrtNode`: `navigator.gpu` (ORT's availability check), a `queue.writeBuffer` that copies
// SharedArrayBuffer data (dawn.node rejects it; ORT's wasm memory is shared), and V8's --liftoff-only
// (else the first run waits 50–75 s on TurboFan compiling ORT's 27 MB wasm).
//
// ORT's GPU time comes from timestamp injection (notes §2d): while armed, every compute pass ORT begins
// gets `timestampWrites`, every encoder resolves its queries at `finish()`. With profiling off the native EP
// put one MatMul dispatch in one pass on this graph; the pass count is recorded, and the run's GPU time is
// the sum over its passes. Our side is one pass with `timestampWrites` around one dispatch: the same unit.

import type * as OrtModule from 'onnxruntime-web/webgpu';
import type { KernelDescriptor } from '../../kernels/define.js';
import { matmul, matmulParams } from '../../kernels/matmul.js';
import type { GpuRuntime } from '../../src/gpu/device.js';
import { installNodeShims } from '../../src/ort/device.js';
import { buildMatMulModel } from './onnx-models.js';
import type { MatMulShape } from './onnx-models.js';
import { benchEnvironment, distribution, formatNumber, formatRatio, formatTable, pairedRatios, ratio, seededFloats } from './util.js';
import type { BenchEnvironment, Distribution } from './util.js';

export type { MatMulShape } from './onnx-models.js';
export type Ort = typeof OrtModule;

/** The issue's shapes: a square 256³ and a GPT-2-decode-shaped projection (M=1, K=768, N=3072). */
export const MATMUL_BENCH_SHAPES: readonly MatMulShape[] = [
  { m: 256, k: 256, n: 256 },
  { m: 1, k: 768, n: 3072 },
];

export function shapeLabel({ m, k, n }: MatMulShape): string {
  return `${m}x${k}x${n}`;
}

// ---------------------------------------------------------------------------------------------------------
// CPU reference

/** C = A·B in f64 accumulation, rounded to f32 once per element. */
export function matmulReference(a: Float32Array, b: Float32Array, { m, k, n }: MatMulShape): Float32Array {
  if (a.length !== m * k || b.length !== k * n) {
    throw new Error(`matmulReference: A has ${a.length} floats (want M*K = ${m * k}), B has ${b.length} (want K*N = ${k * n})`);
  }
  const c = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      const bRow = p * n;
      for (let j = 0; j < n; j++) row[j]! += aip * b[bRow + j]!;
    }
    c.set(row, i * n);
  }
  return c;
}

/** max |x - y|; Infinity on a NaN or a length mismatch (so a `<= tolerance` check fails). */
export function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) return Infinity;
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (Number.isNaN(d)) return Infinity;
    if (d > max) max = d;
  }
  return max;
}

/**
 * Tolerance for f32 results against the f64 reference with inputs in [-1, 1): the f32 sum of K products
 * drifts by about K·2^-24·(typical partial sum); 1e-6·K covers it with margin, while a wrong kernel (a
 * missed tile, a bad index) is off by O(1).
 */
export function matmulTolerance({ k }: MatMulShape): number {
  return 1e-6 * k;
}

// ---------------------------------------------------------------------------------------------------------
// onnxruntime-web (native WebGPU EP) on a dawn.node device

export interface OrtNodeScope {
  ort: Ort;
  /** Flags and shims in effect, recorded with results. */
  flags: string[];
  /** Removes the navigator and writeBuffer shims. Release ORT sessions first: they still use writeBuffer. */
  restore(): void;
}

let ortModule: Promise<Ort> | undefined;

/**
 * Prepares Node for onnxruntime-web's native WebGPU EP on `runtime` and loads it. ORT's availability check
 * calls `navigator.gpu.requestAdapter()`; our stub answers with `runtime.adapter`, so the check looks at the
 * adapter the device came from. The device itself is handed to each session (`ortSessionOptions`).
 */
export async function installOrtNode(runtime: GpuRuntime): Promise<OrtNodeScope> {
  // The shims wgprof/ort installs for its own device (liftoff, navigator.gpu, writeBuffer copying SharedArrayBuffer data).
  const shims = await installNodeShims(runtime.adapter, runtime.device);
  const flags = [...(shims?.flags ?? [])];
  ortModule ??= import('onnxruntime-web/webgpu');
  const ort = await ortModule;
  // ORT's CPU side runs single-threaded: its worker threads would only compete with SwiftShader's for the
  // cores; GPU timestamps do not include CPU time either way.
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'warning';
  flags.push('ort.env.wasm.numThreads=1');
  return { ort, flags, restore: () => shims?.restore() };
}

/** Session options that put every node on the native WebGPU EP running on `device`. */
export function ortSessionOptions(device: GPUDevice): OrtModule.InferenceSession.SessionOptions {
  return {
    executionProviders: [{ name: 'webgpu', device }],
    graphOptimizationLevel: 'all',
  };
}

/** An ORT session holding one MatMul node with B as a weight: `run(a)` returns C. */
export class OrtMatMul {
  private constructor(
    readonly ort: Ort,
    readonly session: OrtModule.InferenceSession,
    readonly shape: MatMulShape,
  ) {}

  static async create(ort: Ort, device: GPUDevice, shape: MatMulShape, b: Float32Array): Promise<OrtMatMul> {
    const model = buildMatMulModel(shape, { b });
    const session = await ort.InferenceSession.create(model, ortSessionOptions(device));
    return new OrtMatMul(ort, session, shape);
  }

  async run(a: Float32Array): Promise<Float32Array> {
    const { m, k } = this.shape;
    const outputs = await this.session.run({ A: new this.ort.Tensor('float32', a, [m, k]) });
    const c = outputs['C'];
    if (!c) throw new Error(`ORT MatMul ${shapeLabel(this.shape)}: the session returned no output "C" (got ${Object.keys(outputs).join(', ')})`);
    return c.data as Float32Array;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Timestamp injection into someone else's compute passes

/** One compute pass timed by injection. */
export interface TimedPass {
  durNs: number;
  /** Dispatches recorded in the pass. */
  dispatches: number;
  /** Shader module label of each dispatch's pipeline ('' when unlabelled). */
  programs: string[];
  /** Workgroup counts of each direct dispatch ([] for an indirect one). */
  workgroups: number[][];
}

interface PassRecord {
  dispatches: number;
  programs: string[];
  workgroups: number[][];
  /** The program of the pipeline set last. */
  program: string;
}

interface EncoderState {
  /** Query sets of QUERIES_PER_SET slots; pass p uses set ⌊p/16⌋, slots 2(p mod 16), +1. */
  querySets: GPUQuerySet[];
  passes: PassRecord[];
}

interface PendingReadback {
  readBuffer: GPUBuffer;
  resolveBuffer: GPUBuffer;
  querySets: GPUQuerySet[];
  passes: PassRecord[];
}

/** 32 timestamps = 256 bytes: each set resolves to an offset that meets resolveQuerySet's 256-byte alignment. */
const QUERIES_PER_SET = 32;
const PASSES_PER_SET = QUERIES_PER_SET / 2;
const RESOLVE_STRIDE_BYTES = QUERIES_PER_SET * 8;

/**
 * Adds `timestampWrites` to every compute pass begun while armed that has none, resolves them when the
 * encoder finishes, and reads them back in `collect()`. Prototype patches, installed by `install()` and
 * removed by `uninstall()`; pipelines created while installed are mapped to their shader module's label.
 * Only one PassTimer may be installed at a time.
 */
export class PassTimer {
  private static active: PassTimer | undefined;
  private armed = false;
  private readonly encoders = new WeakMap<GPUCommandEncoder, EncoderState>();
  private readonly passRecords = new WeakMap<GPUComputePassEncoder, PassRecord>();
  private readonly pipelinePrograms = new WeakMap<GPUComputePipeline, string>();
  private pending: PendingReadback[] = [];
  /** Passes that already carried timestampWrites while armed (someone else's profiling): not ours to time. */
  private foreignTimedPasses = 0;
  private readonly restores: (() => void)[] = [];

  private constructor(private readonly device: GPUDevice) {}

  static install(device: GPUDevice): PassTimer {
    if (PassTimer.active) throw new Error('PassTimer.install: a PassTimer is already installed; uninstall() it first');
    if (!device.features.has('timestamp-query')) {
      throw new Error('PassTimer.install: the device lacks "timestamp-query"; request it (requestGpuDevice does when the adapter offers it)');
    }
    const timer = new PassTimer(device);
    timer.patch();
    PassTimer.active = timer;
    return timer;
  }

  uninstall(): void {
    for (const restore of this.restores.splice(0).reverse()) restore();
    for (const p of this.pending.splice(0)) destroyReadback(p);
    if (PassTimer.active === this) PassTimer.active = undefined;
  }

  /** Starts timing passes (call right before the work to be timed). */
  arm(): void {
    if (this.armed) throw new Error('PassTimer.arm: already armed; collect() the previous window first');
    this.armed = true;
    this.foreignTimedPasses = 0;
  }

  /**
   * Stops timing and reads back the passes of the armed window, in encoder-finish order. Call after the
   * timed work was submitted (ORT's `run()` with CPU outputs resolves after reading C back, so it was).
   */
  async collect(): Promise<TimedPass[]> {
    this.armed = false;
    const pending = this.pending.splice(0);
    const foreign = this.foreignTimedPasses;
    const out: TimedPass[] = [];
    try {
      for (const p of pending) {
        await p.readBuffer.mapAsync(GPUMapMode.READ);
        const ticks = new BigUint64Array(p.readBuffer.getMappedRange().slice(0));
        p.readBuffer.unmap();
        p.passes.forEach((pass, i) => {
          const base = Math.floor(i / PASSES_PER_SET) * QUERIES_PER_SET + 2 * (i % PASSES_PER_SET);
          const begin = ticks[base] ?? 0n;
          const end = ticks[base + 1] ?? 0n;
          if (begin === 0n || end < begin) {
            throw new Error(
              `PassTimer.collect: pass ${i} has timestamps ${begin}..${end}; its encoder was finished but not submitted ` +
                'before collect(), or the GPU did not write them',
            );
          }
          out.push({ durNs: Number(end - begin), dispatches: pass.dispatches, programs: pass.programs, workgroups: pass.workgroups });
        });
      }
    } finally {
      for (const p of pending) destroyReadback(p);
    }
    if (foreign > 0) {
      throw new Error(
        `PassTimer.collect: ${foreign} pass(es) already had timestampWrites (ORT profiling on?); their GPU time is missing. Turn enableProfiling off`,
      );
    }
    return out;
  }

  private patch(): void {
    const timer = this;
    const device = this.device;
    const replace = <T extends object, K extends keyof T>(proto: T, key: K, make: (original: T[K]) => T[K]) => {
      const original = proto[key];
      proto[key] = make(original);
      this.restores.push(() => {
        proto[key] = original;
      });
    };
    const programOf = (descriptor: GPUComputePipelineDescriptor) => descriptor.compute.module.label ?? '';

    replace(
      GPUDevice.prototype,
      'createComputePipeline',
      (original) =>
        function createComputePipeline(this: GPUDevice, descriptor: GPUComputePipelineDescriptor) {
          const pipeline = original.call(this, descriptor);
          timer.pipelinePrograms.set(pipeline, programOf(descriptor));
          return pipeline;
        },
    );
    replace(
      GPUDevice.prototype,
      'createComputePipelineAsync',
      (original) =>
        async function createComputePipelineAsync(this: GPUDevice, descriptor: GPUComputePipelineDescriptor) {
          const pipeline = await original.call(this, descriptor);
          timer.pipelinePrograms.set(pipeline, programOf(descriptor));
          return pipeline;
        },
    );
    replace(
      GPUCommandEncoder.prototype,
      'beginComputePass',
      (original) =>
        function beginComputePass(this: GPUCommandEncoder, descriptor?: GPUComputePassDescriptor) {
          if (!timer.armed) return original.call(this, descriptor);
          if (descriptor?.timestampWrites) {
            timer.foreignTimedPasses++;
            return original.call(this, descriptor);
          }
          let state = timer.encoders.get(this);
          if (!state) {
            state = { querySets: [], passes: [] };
            timer.encoders.set(this, state);
          }
          const index = state.passes.length;
          if (index % PASSES_PER_SET === 0) {
            state.querySets.push(device.createQuerySet({ label: 'bench.pass-timer', type: 'timestamp', count: QUERIES_PER_SET }));
          }
          const querySet = state.querySets[state.querySets.length - 1]!;
          const slot = 2 * (index % PASSES_PER_SET);
          const record: PassRecord = { dispatches: 0, programs: [], workgroups: [], program: '' };
          state.passes.push(record);
          const pass = original.call(this, {
            ...descriptor,
            timestampWrites: { querySet, beginningOfPassWriteIndex: slot, endOfPassWriteIndex: slot + 1 },
          });
          timer.passRecords.set(pass, record);
          return pass;
        },
    );
    replace(
      GPUComputePassEncoder.prototype,
      'setPipeline',
      (original) =>
        function setPipeline(this: GPUComputePassEncoder, pipeline: GPUComputePipeline) {
          const record = timer.passRecords.get(this);
          if (record) record.program = timer.pipelinePrograms.get(pipeline) ?? '';
          return original.call(this, pipeline);
        },
    );
    const countDispatch = (pass: GPUComputePassEncoder, workgroups: number[]) => {
      const record = timer.passRecords.get(pass);
      if (record) {
        record.dispatches++;
        record.programs.push(record.program);
        record.workgroups.push(workgroups);
      }
    };
    replace(
      GPUComputePassEncoder.prototype,
      'dispatchWorkgroups',
      (original) =>
        function dispatchWorkgroups(this: GPUComputePassEncoder, x: number, y?: number, z?: number) {
          countDispatch(this, [x, y ?? 1, z ?? 1]);
          return original.call(this, x, y, z);
        },
    );
    replace(
      GPUComputePassEncoder.prototype,
      'dispatchWorkgroupsIndirect',
      (original) =>
        function dispatchWorkgroupsIndirect(this: GPUComputePassEncoder, indirectBuffer: GPUBuffer, indirectOffset: number) {
          countDispatch(this, []);
          return original.call(this, indirectBuffer, indirectOffset);
        },
    );
    replace(
      GPUCommandEncoder.prototype,
      'finish',
      (original) =>
        function finish(this: GPUCommandEncoder, descriptor?: GPUCommandBufferDescriptor) {
          const state = timer.encoders.get(this);
          if (state) {
            timer.encoders.delete(this);
            const sizeBytes = state.querySets.length * RESOLVE_STRIDE_BYTES;
            const resolveBuffer = device.createBuffer({
              label: 'bench.pass-timer.resolve',
              size: sizeBytes,
              usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
            });
            const readBuffer = device.createBuffer({
              label: 'bench.pass-timer.read',
              size: sizeBytes,
              usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
            });
            state.querySets.forEach((querySet, i) => {
              const used = Math.min(QUERIES_PER_SET, 2 * (state.passes.length - i * PASSES_PER_SET));
              this.resolveQuerySet(querySet, 0, used, resolveBuffer, i * RESOLVE_STRIDE_BYTES);
            });
            this.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, sizeBytes);
            timer.pending.push({ readBuffer, resolveBuffer, querySets: state.querySets, passes: state.passes });
          }
          return original.call(this, descriptor);
        },
    );
  }
}

function destroyReadback(p: PendingReadback): void {
  p.readBuffer.destroy();
  p.resolveBuffer.destroy();
  for (const q of p.querySets) q.destroy();
}

// ---------------------------------------------------------------------------------------------------------
// Our matmul: the kernels helper's descriptor in a minimal harness

/**
 * What the harness needs beyond the descriptor: the kernel's group-0 bindings (by number and WGSL variable
 * name, checked against the source so a layout change fails loudly) and how to fill the dims uniform.
 */
export interface MatMulBindings {
  params: { binding: number; name: string };
  a: { binding: number; name: string };
  b: { binding: number; name: string };
  c: { binding: number; name: string };
  /** Bindings the layout has but plain C = A·B does not read (e.g. a bias behind a constant): bound to a dummy buffer. */
  unused: { binding: number; name: string }[];
  paramsData(shape: MatMulShape): Uint32Array<ArrayBuffer>;
}

/** kernels/matmul.wgsl: Params{m, n, k, _pad} at 0, a 1, b 2, bias 3 (not read by the `matmul` variant), c 4. */
export const MATMUL_BINDINGS: MatMulBindings = {
  params: { binding: 0, name: 'params' },
  a: { binding: 1, name: 'a' },
  b: { binding: 2, name: 'b' },
  c: { binding: 4, name: 'c' },
  unused: [{ binding: 3, name: 'bias' }],
  // A copy: typed to own an ArrayBuffer, as writeBuffer wants.
  paramsData: (shape) => new Uint32Array(matmulParams(shape)),
};

/** Throws unless every binding in `bindings` is declared in `source` as `@group(0) @binding(N) var<...> name`. */
export function checkBindings(source: string, bindings: MatMulBindings): void {
  const declared = new Map<number, string>();
  for (const match of source.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var(?:<[^>]*>)?\s+(\w+)/g)) {
    declared.set(Number(match[1]), match[2]!);
  }
  const wanted = [bindings.params, bindings.a, bindings.b, bindings.c, ...bindings.unused];
  const wrong = wanted.filter(({ binding, name }) => declared.get(binding) !== name);
  if (wrong.length || declared.size !== wanted.length) {
    throw new Error(
      `matmul bench: the kernel's bindings changed; expected ${wanted.map((w) => `${w.binding}=${w.name}`).join(', ')}, ` +
        `the WGSL declares ${[...declared].map(([b, n]) => `${b}=${n}`).join(', ')}. Update MATMUL_BINDINGS in test/bench/matmul-ort.ts`,
    );
  }
}

/** Our matmul on one device for one shape: buffers, pipeline and bind group made once; B uploaded once. */
export class OurMatMul {
  readonly pipeline: GPUComputePipeline;
  private readonly bindGroup: GPUBindGroup;
  private readonly bufferA: GPUBuffer;
  private readonly bufferB: GPUBuffer;
  private readonly bufferC: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly dummy: GPUBuffer;
  private readonly querySet: GPUQuerySet | undefined;
  private readonly resolve: GPUBuffer | undefined;
  private readonly workgroups: [number, number, number];

  private constructor(
    readonly device: GPUDevice,
    readonly kernel: KernelDescriptor<MatMulShape>,
    readonly shape: MatMulShape,
    pipeline: GPUComputePipeline,
    bindings: MatMulBindings,
    b: Float32Array<ArrayBuffer>,
  ) {
    const { m, k, n } = shape;
    this.pipeline = pipeline;
    const storage = (label: string, floats: number, extra: number) =>
      device.createBuffer({ label: `${kernel.label}.${label}`, size: floats * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extra });
    this.bufferA = storage('a', m * k, 0);
    this.bufferB = storage('b', k * n, 0);
    this.bufferC = storage('c', m * n, GPUBufferUsage.COPY_SRC);
    const paramsData = bindings.paramsData(shape);
    this.params = device.createBuffer({
      label: `${kernel.label}.params`,
      size: paramsData.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(this.params, 0, paramsData);
    device.queue.writeBuffer(this.bufferB, 0, b);
    this.dummy = storage('unused', 4, 0);
    this.bindGroup = device.createBindGroup({
      label: kernel.label,
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: bindings.params.binding, resource: { buffer: this.params } },
        { binding: bindings.a.binding, resource: { buffer: this.bufferA } },
        { binding: bindings.b.binding, resource: { buffer: this.bufferB } },
        { binding: bindings.c.binding, resource: { buffer: this.bufferC } },
        ...bindings.unused.map(({ binding }) => ({ binding, resource: { buffer: this.dummy } })),
      ],
    });
    this.workgroups = kernel.dispatch(shape);
    if (device.features.has('timestamp-query')) {
      this.querySet = device.createQuerySet({ label: `${kernel.label}.timestamps`, type: 'timestamp', count: 2 });
      this.resolve = device.createBuffer({ label: `${kernel.label}.resolve`, size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    }
  }

  /** Compiles the pipeline (async, so SwiftShader's seconds of compile do not block the event loop). */
  static async create(
    device: GPUDevice,
    kernel: KernelDescriptor<MatMulShape>,
    bindings: MatMulBindings,
    shape: MatMulShape,
    b: Float32Array<ArrayBuffer>,
  ): Promise<OurMatMul> {
    checkBindings(kernel.source, bindings);
    const module = device.createShaderModule({ label: kernel.label, code: kernel.source });
    const [x, y, z] = kernel.workgroupSize;
    const pipeline = await device.createComputePipelineAsync({
      label: kernel.label,
      layout: 'auto',
      compute: { module, entryPoint: kernel.entryPoint, constants: { WG_X: x, WG_Y: y, WG_Z: z, ...kernel.constants } },
    });
    return new OurMatMul(device, kernel, shape, pipeline, bindings, b);
  }

  /** Uploads A, runs one dispatch in one timed pass; returns its GPU ns and, when asked, C. */
  async run(a: Float32Array<ArrayBuffer>, readC = false): Promise<{ durNs: number | undefined; c: Float32Array | undefined }> {
    const { device, shape } = this;
    device.queue.writeBuffer(this.bufferA, 0, a);
    const encoder = device.createCommandEncoder({ label: this.kernel.label });
    const pass = encoder.beginComputePass(
      this.querySet
        ? { label: this.kernel.label, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
        : { label: this.kernel.label },
    );
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(...this.workgroups);
    pass.end();
    let ticks: GPUBuffer | undefined;
    if (this.querySet && this.resolve) {
      ticks = device.createBuffer({ label: `${this.kernel.label}.ticks`, size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      encoder.copyBufferToBuffer(this.resolve, 0, ticks, 0, 16);
    }
    let readback: GPUBuffer | undefined;
    if (readC) {
      const sizeBytes = shape.m * shape.n * 4;
      readback = device.createBuffer({ label: `${this.kernel.label}.readback`, size: sizeBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      encoder.copyBufferToBuffer(this.bufferC, 0, readback, 0, sizeBytes);
    }
    device.queue.submit([encoder.finish()]);
    let durNs: number | undefined;
    let c: Float32Array | undefined;
    try {
      if (ticks) {
        await ticks.mapAsync(GPUMapMode.READ);
        const [begin = 0n, end = 0n] = new BigUint64Array(ticks.getMappedRange().slice(0));
        ticks.unmap();
        durNs = Number(end - begin);
      }
      if (readback) {
        await readback.mapAsync(GPUMapMode.READ);
        c = new Float32Array(readback.getMappedRange().slice(0));
        readback.unmap();
      }
    } finally {
      ticks?.destroy();
      readback?.destroy();
    }
    return { durNs, c };
  }

  destroy(): void {
    for (const b of [this.bufferA, this.bufferB, this.bufferC, this.params, this.dummy, this.resolve]) b?.destroy();
    this.querySet?.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The bench

export interface MatmulBenchOptions {
  /** The GPU runtime to use (default: `requestGpuDevice()`, destroyed at the end). */
  runtime?: GpuRuntime;
  shapes?: readonly MatMulShape[];
  /** Timed runs per implementation per shape (interleaved ours/ORT, alternating who goes first). */
  iterations?: number;
  /** Untimed runs per implementation per shape first, the correctness check included (pipeline compiles, ORT's first-run setup). */
  warmup?: number;
  /** Our matmul kernel and its bindings (default: OUR_MATMUL). */
  kernel?: { descriptor: KernelDescriptor<MatMulShape>; bindings: MatMulBindings };
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

export interface MatmulCheck {
  /** max |ours - CPU reference|. */
  oursMaxAbsDiff: number;
  /** max |ORT - CPU reference|. */
  ortMaxAbsDiff: number;
  /** max |ours - ORT|. */
  oursVsOrtMaxAbsDiff: number;
  tolerance: number;
}

export interface MatmulShapeResult {
  shape: MatMulShape;
  label: string;
  flops: number;
  check: MatmulCheck;
  /** GPU µs per run of our kernel (one dispatch). */
  oursUs: Distribution;
  /** GPU µs per ORT run: the sum over the compute passes of the run. */
  ortUs: Distribution;
  /** median(ours) / median(ORT): the headline number (< 1: ours is faster). */
  ratio: number;
  /** ours[i] / ORT[i] over the interleaved pairs. */
  pairedRatio: Distribution;
  ours: { workgroupSize: [number, number, number]; workgroups: [number, number, number]; dispatchesPerRun: number };
  ort: { passesPerRun: number; dispatchesPerRun: number; programs: string[]; workgroups: number[][] };
}

export interface MatmulBenchResult {
  bench: 'matmul-vs-ort';
  method: string;
  ortVersion: string;
  ortBackend: string;
  flags: string[];
  iterations: number;
  warmup: number;
  environment: BenchEnvironment;
  shapes: MatmulShapeResult[];
}

/** Our plain C = A·B kernel (kernels/matmul.ts) and its bindings. */
export const OUR_MATMUL = { descriptor: matmul, bindings: MATMUL_BINDINGS } as const;

export async function benchMatmulVsOrt(options: MatmulBenchOptions = {}): Promise<MatmulBenchResult> {
  const shapes = options.shapes ?? MATMUL_BENCH_SHAPES;
  const iterations = options.iterations ?? 20;
  const warmup = options.warmup ?? 2;
  const progress = options.progress ?? (() => {});
  const kernel = options.kernel ?? OUR_MATMUL;
  const ownsRuntime = !options.runtime;
  const runtime = options.runtime ?? (await (await import('../../src/gpu/device.js')).requestGpuDevice({ label: 'bench.matmul-vs-ort' }));
  const { device } = runtime;
  if (!device.features.has('timestamp-query')) {
    throw new Error(`matmul bench: the device lacks "timestamp-query" (adapter ${runtime.facts.description}); GPU times cannot be measured`);
  }
  const scope = await installOrtNode(runtime);
  const timer = PassTimer.install(device);
  const results: MatmulShapeResult[] = [];
  try {
    for (const [s, shape] of shapes.entries()) {
      const label = shapeLabel(shape);
      const a = seededFloats(shape.m * shape.k, 1000 + s);
      const b = seededFloats(shape.k * shape.n, 2000 + s);
      const expected = matmulReference(a, b, shape);
      progress(`${label}: compiling`);
      const ours = await OurMatMul.create(device, kernel.descriptor, kernel.bindings, shape, b);
      const ort = await OrtMatMul.create(scope.ort, device, shape, b);
      try {
        // Correctness first: the same math on both sides, or the ratio means nothing. This is warm-up run 1.
        device.pushErrorScope('validation');
        let oursC: Float32Array;
        let ortC: Float32Array;
        try {
          oursC = (await ours.run(a, true)).c!;
          ortC = await ort.run(a);
        } finally {
          const validation = await device.popErrorScope();
          // A validation error explains whatever the run threw: it wins.
          // eslint-disable-next-line no-unsafe-finally
          if (validation) throw new Error(`matmul bench ${label}: WebGPU validation error: ${validation.message}`);
        }
        const check: MatmulCheck = {
          oursMaxAbsDiff: maxAbsDiff(oursC, expected),
          ortMaxAbsDiff: maxAbsDiff(ortC, expected),
          oursVsOrtMaxAbsDiff: maxAbsDiff(oursC, ortC),
          tolerance: matmulTolerance(shape),
        };
        if (!(check.oursMaxAbsDiff <= check.tolerance) || !(check.ortMaxAbsDiff <= check.tolerance)) {
          throw new Error(
            `matmul bench ${label}: results differ from the CPU reference (ours ${check.oursMaxAbsDiff}, ORT ${check.ortMaxAbsDiff}, ` +
              `tolerance ${check.tolerance}); not timing a wrong kernel`,
          );
        }
        for (let w = 1; w < warmup; w++) {
          await ours.run(a);
          await ort.run(a);
        }
        progress(`${label}: timing ${iterations} interleaved runs each`);
        const oursUs: number[] = [];
        const ortUs: number[] = [];
        let ortPasses = 0;
        let ortDispatches = 0;
        let ortWorkgroups: number[][] = [];
        const programs = new Set<string>();
        const timeOurs = async () => {
          const { durNs } = await ours.run(a);
          oursUs.push(durNs! / 1000);
        };
        const timeOrt = async () => {
          timer.arm();
          await ort.run(a);
          const passes = await timer.collect();
          if (passes.length === 0) throw new Error(`matmul bench ${label}: ORT ran no compute pass in a run; nothing to time`);
          ortPasses = passes.length;
          ortDispatches = passes.reduce((sum, p) => sum + p.dispatches, 0);
          ortWorkgroups = passes.flatMap((p) => p.workgroups);
          for (const p of passes) for (const name of p.programs) programs.add(name);
          ortUs.push(passes.reduce((sum, p) => sum + p.durNs, 0) / 1000);
        };
        for (let i = 0; i < iterations; i++) {
          // Alternate who goes first so that drift (thermal, other processes) falls on both sides evenly.
          if (i % 2 === 0) {
            await timeOurs();
            await timeOrt();
          } else {
            await timeOrt();
            await timeOurs();
          }
        }
        const oursDist = distribution(oursUs, 'us');
        const ortDist = distribution(ortUs, 'us');
        results.push({
          shape,
          label,
          flops: 2 * shape.m * shape.n * shape.k,
          check,
          oursUs: oursDist,
          ortUs: ortDist,
          ratio: ratio(oursDist.median, ortDist.median),
          pairedRatio: distribution(pairedRatios(oursUs, ortUs), 'ratio'),
          ours: { workgroupSize: [...kernel.descriptor.workgroupSize], workgroups: kernel.descriptor.dispatch(shape), dispatchesPerRun: 1 },
          ort: { passesPerRun: ortPasses, dispatchesPerRun: ortDispatches, programs: [...programs], workgroups: ortWorkgroups },
        });
      } finally {
        ours.destroy();
        await ort.release();
      }
    }
  } finally {
    timer.uninstall();
    scope.restore();
    if (ownsRuntime) runtime.destroy();
  }
  return {
    bench: 'matmul-vs-ort',
    method:
      'Node + dawn.node, one GPUDevice shared by both sides (ORT native WebGPU EP via the EP option `device`); ' +
      'GPU time from timestamp queries: ours = timestampWrites on our one-dispatch pass, ORT = timestampWrites injected into ' +
      'each of its compute passes, summed per run; runs interleaved, warm-up excluded; C = A·B f32 checked against a CPU reference first',
    ortVersion: scope.ort.env.versions.web ?? scope.ort.env.versions.common,
    ortBackend: 'onnxruntime-web/webgpu (native C++ WebGPU EP)',
    flags: scope.flags,
    iterations,
    warmup,
    environment: await benchEnvironment(runtime.facts),
    shapes: results,
  };
}

/** The bench's table: per shape, median GPU µs for each side, the ratio, and the paired ratios' spread. */
export function formatMatmulBench(result: MatmulBenchResult): string {
  const rows = result.shapes.map((r) => [
    r.label,
    `${formatNumber(r.oursUs.median)} (${formatNumber(r.oursUs.min)}-${formatNumber(r.oursUs.max)})`,
    `${formatNumber(r.ortUs.median)} (${formatNumber(r.ortUs.min)}-${formatNumber(r.ortUs.max)})`,
    formatRatio(r.ratio),
    `${formatRatio(r.pairedRatio.min)} / ${formatRatio(r.pairedRatio.median)} / ${formatRatio(r.pairedRatio.max)}`,
    r.check.oursVsOrtMaxAbsDiff.toExponential(1),
    r.ort.programs.join(',') || '?',
  ]);
  const adapter = result.environment.adapter;
  return [
    `matmul: ours vs onnxruntime-web ${result.ortVersion} (${result.ortBackend}), GPU µs per run, median (min-max), n=${result.iterations}, warm-up ${result.warmup}`,
    `adapter: ${adapter ? `${adapter.vendor} ${adapter.architecture} ${adapter.description} (${adapter.backend}, timestamps ${adapter.timestampMode})` : 'unknown'}`,
    formatTable(['M x K x N', 'ours us', 'ORT us', 'ours/ORT', 'paired min/med/max', '|ours-ORT|', 'ORT programs'], rows),
  ].join('\n');
}
