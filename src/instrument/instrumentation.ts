/**
 * GPU instrumentation of ONE GPUDevice: per-dispatch records (kernel name, workgroups, bound
 * buffers, shapes/cost from hints, JS stack, CPU op and launch spans, GPU interval), copies, and
 * memory, captured inside a window (`setCapturing(true)` … `setCapturing(false)`), collected by
 * `flush()`.
 *
 * Wrapping strategy (STYLE §8: explicit and scoped, nothing on import)
 * - `attach(device)` defines OWN properties on that device object (createShaderModule,
 *   createComputePipeline[Async], createBindGroup, createCommandEncoder, and with `withMemory`
 *   createBuffer/createQuerySet/createTexture/destroy) and on its queue (submit, writeBuffer). No
 *   prototype is touched, so other devices see no change; `detach()` deletes (or restores) exactly
 *   those properties, so `device.createBuffer === GPUDevice.prototype.createBuffer` again. A module
 *   WeakMap refuses a second attach to the same device. Originals are looked up on the prototype at
 *   call time, so prototype patches made after attach (e.g. onnxruntime-web's writeBuffer fix in
 *   Node) still run.
 * - Command encoders created while capturing get own-property overrides of beginComputePass,
 *   copyBufferToBuffer and finish (state in a WeakMap, removed again at finish). Compute passes begun
 *   on them get own-property overrides too; the user keeps the real GPUComputePassEncoder object
 *   (instanceof still holds), whose overridden methods forward to the pass that currently receives
 *   commands.
 * - GPU timing, by device feature (mode written into the trace, STYLE §7):
 *   'inside-passes' (chromium-experimental-timestamp-query-inside-passes): writeTimestamp before and
 *   after each dispatch, passes untouched. 'pass-boundaries' (timestamp-query only): timestampWrites
 *   injected into passes that have none, and a pass with several dispatches is SPLIT: at each
 *   dispatch after the first, the real pass is ended and a new one begun with fresh timestampWrites,
 *   re-applying the pipeline, bind groups (with dynamic offsets), immediates and open debug groups.
 *   Passes with their own timestampWrites are left whole and untimed. 'none': no GPU times, and the
 *   trace says why.
 * - Query sets come from a pool (256 queries each); at `queue.submit` one extra command buffer
 *   resolves every set the submitted command buffers used into a pooled buffer and copies it to a
 *   pooled MAP_READ buffer, which is mapped asynchronously: no per-kernel wait, no
 *   onSubmittedWorkDone. A per-submit marker written with writeBuffer tells whether the submit ran
 *   (a pooled buffer would otherwise show the previous submit's ticks). `flush()` awaits the readbacks,
 *   fits the GPU→CPU clock (./clock.ts) and returns the records; errors from the detached map promises
 *   are collected and returned by flush, never thrown from a `.then`.
 *
 * Costs
 * - Outside the capture window: createCommandEncoder and writeBuffer do one flag check, submit one
 *   size check, then forward; nothing is allocated, no timestamp is injected. Object-creation calls
 *   (shader modules, pipelines, bind groups, and with withMemory buffers/query sets/textures) always
 *   record a little metadata (a WeakMap entry: module label and source, pipeline entry point, bind
 *   group binding sizes; with withMemory a pseudo address, a WeakRef and an own `destroy` per tracked
 *   object), so objects created before the window are still named and memory totals stay right.
 * - Inside the window, per dispatch: a few clock reads, one record object, a bound-size array; in
 *   'pass-boundaries' mode one extra compute pass (end + begin + state re-application), which
 *   perturbs GPU timings a little (each kernel then pays a pass boundary); per submit: one resolve
 *   command buffer, one marker write, one map.
 *
 * Limits
 * - Only work encoded on encoders created while capturing is recorded; encoders created before the
 *   window and used inside it are not instrumented. A dispatch hint (noteDispatch) applies to the
 *   next dispatch the instrumentation sees, so a hint followed by a dispatch it cannot see (such an
 *   encoder) would land on the next one: note hints only for work encoded inside the window.
 * - Buffers, query sets and textures created before attach are unknown (give `memoryBaselineBytes`).
 *   Objects garbage-collected without destroy() are freed through a FinalizationRegistry (late).
 * - Copies get no GPU interval (WebGPU has no timestamp around a copy outside a pass).
 * - dispatchWorkgroupsIndirect: workgroup counts come from the hint's kernel descriptor when given,
 *   else they are unknown and recorded as [0, 0, 0].
 * - Pass splitting re-applies the state WebGPU defines for compute passes (pipeline, bind groups,
 *   immediates, debug groups); state added by future extensions is not re-applied.
 * - A kernel whose begin and end ticks are equal (a quantized clock) gets no GPU interval: the data
 *   does not support any duration; TimestampInfo.note counts them.
 */

import type { ClockFit, CopyRecord, DispatchRecord, MemoryRecord, TimestampInfo } from '../trace/model.js';
import type { TimestampMode } from '../gpu/device.js';
import { timestampModeOf } from '../gpu/device.js';
import { detectQuantization } from '../gpu/timestamps.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { alignClock, mapInterval, type SubmitSample } from './clock.js';
import { setHintReceiver, type DispatchHint } from './hints.js';
import { MemoryTracker, textureBytes, type MemoryKind } from './memory.js';
import { QuerySetPool, ReadbackPool, RESOLVE_ALIGN, alignUp, destroyPair, type ReadbackPair } from './queries.js';
import { captureStack } from './stack.js';
import { parseWorkgroupSize } from './wgsl.js';

export interface InstrumentationOptions {
  /** GPU timestamps per dispatch (default: true when the device has "timestamp-query"). */
  timestamps?: boolean;
  /** `Input Dims`/`Input type` from the dispatch hint's kernel descriptor (default false). */
  recordShapes?: boolean;
  /** The JS stack at each dispatch (default false). */
  withStack?: boolean;
  /** Buffer/query set/texture allocations and frees (default false). */
  withMemory?: boolean;
  /** Kernel cost (FLOPs, bytes) from the hint's kernel descriptor (default false). */
  withFlops?: boolean;
  /** In 'pass-boundaries' mode, split passes with several dispatches for per-dispatch times (default true). */
  splitPasses?: boolean;
  /** CPU clock in ns (default `performance.now() * 1e6`). */
  clock?: () => number;
  /** Bytes already allocated on the device before attach (counted in memory totals). */
  memoryBaselineBytes?: number;
  /** Most frames kept per stack (default 32). */
  maxStackFrames?: number;
}

/** What happened to GPU timing in a flush window, in counts of dispatches (submits where named). */
export interface CaptureStats {
  /** Submits that carried timed work. */
  submits: number;
  /** Dispatches that got a GPU interval. */
  timedDispatches: number;
  /** Extra compute passes begun by pass splitting. */
  passSplits: number;
  /** In passes that had their own timestampWrites (pass-boundaries mode). */
  untimedUserTimestampWrites: number;
  /** In unsplit passes with several dispatches (splitPasses: false). */
  untimedBatched: number;
  /** Begin tick == end tick: shorter than the timestamp resolution. */
  zeroWidth: number;
  /** Ticks missing or running backwards. */
  invalidTicks: number;
  /** In submits the clock fit could not bracket. */
  unbracketed: number;
  /** In submits that did not run (e.g. a command buffer failed validation). */
  failedSubmits: number;
  /** Encoded but not submitted (or not finished) when flush() ran. */
  unsubmitted: number;
}

/** One queue.submit of instrumented work. */
export interface SubmitRecord {
  /** CPU ns just before the submit call. */
  cpuSubmitNs: number;
  /** CPU ns when its timestamp readback was observed complete; absent when the readback failed. */
  cpuDoneNs?: number;
  /** `correlation` of every dispatch it carried (timed or not), in encode order. */
  correlations: number[];
}

/** What `flush()` returns: the capture-side parts of a CaptureRecord, since the previous flush. */
export interface Captured {
  dispatches: DispatchRecord[];
  copies: CopyRecord[];
  memory: MemoryRecord[];
  timestamps: TimestampInfo;
  /** Absent when no submit had usable ticks. */
  clock?: ClockFit;
  stats: CaptureStats;
  /** Each submit that carried instrumented work, in order: its CPU bracket and its dispatches. */
  submits: SubmitRecord[];
  /** Failures inside detached work (readback maps, hint callbacks); empty when all went well. */
  errors: Error[];
}

/** Devices with an attached instrumentation (one per device). */
const attachedDevices = new WeakMap<GPUDevice, Instrumentation>();

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Method = Function;
type Proto = Record<string, Method>;

const MAP_READ = 0x0001;
/** Ticks kept for quantization detection. */
const MAX_TICK_SAMPLES = 4096;

interface QuerySlice {
  set: GPUQuerySet;
  used: number;
}

interface Timing {
  record: DispatchRecord;
  slice: QuerySlice;
  /** Begin query index; the end is index + 1. */
  index: number;
  begin?: bigint;
  end?: bigint;
  abandoned: boolean;
}

interface EncoderState {
  encoder: GPUCommandEncoder;
  slices: QuerySlice[];
  records: DispatchRecord[];
  timings: Timing[];
  openPass?: GPUComputePassEncoder;
  cb?: GPUCommandBuffer;
}

interface SubmitState {
  seq: bigint;
  cpuSubmitNs: number;
  cpuDoneNs?: number;
  timings: Timing[];
  records: DispatchRecord[];
  /** false: the marker did not come back, the submit did not run. */
  ran?: boolean;
}

type PassMode = 'split' | 'whole' | 'inside' | 'untimed';

interface BoundGroup {
  group: GPUBindGroup;
  offsets?: number[];
}

interface PassState {
  enc: EncoderState;
  /** The object the user holds (the first real pass). */
  first: GPUComputePassEncoder;
  /** The real pass that receives commands now (differs from `first` after a split). */
  current: GPUComputePassEncoder;
  label?: string;
  mode: PassMode;
  userTimestampWrites: boolean;
  slot?: { slice: QuerySlice; index: number };
  dispatchesInCurrent: number;
  records: DispatchRecord[];
  pipeline?: GPUComputePipeline;
  bindGroups: (BoundGroup | undefined)[];
  debugGroups: string[];
  immediates: [number, Uint8Array][];
  opStartNs?: number | undefined;
  lastDispatchEndNs?: number;
  overridden: string[];
}

interface PipelineInfo {
  module: GPUShaderModule;
  entryPoint?: string;
  constants?: Record<string, number>;
  workgroupSize?: [number, number, number] | null;
}

interface ModuleInfo {
  label?: string;
  code: string;
}

function emptyStats(): CaptureStats {
  return {
    submits: 0,
    timedDispatches: 0,
    passSplits: 0,
    untimedUserTimestampWrites: 0,
    untimedBatched: 0,
    zeroWidth: 0,
    invalidTicks: 0,
    unbracketed: 0,
    failedSubmits: 0,
    unsubmitted: 0,
  };
}

function validateOptions(options: InstrumentationOptions): void {
  const bools = ['timestamps', 'recordShapes', 'withStack', 'withMemory', 'withFlops', 'splitPasses'] as const;
  for (const key of bools) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new WgprofError('INVALID_OPTION', `Instrumentation option "${key}" must be a boolean; got ${JSON.stringify(value)}.`);
    }
  }
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw new WgprofError('INVALID_OPTION', `Instrumentation option "clock" must be a function returning ns; got ${typeof options.clock}.`);
  }
  const base = options.memoryBaselineBytes;
  if (base !== undefined && !(Number.isFinite(base) && base >= 0)) {
    throw new WgprofError('INVALID_OPTION', `Instrumentation option "memoryBaselineBytes" must be a number >= 0; got ${String(base)}.`);
  }
  const frames = options.maxStackFrames;
  if (frames !== undefined && !(Number.isInteger(frames) && frames >= 1)) {
    throw new WgprofError('INVALID_OPTION', `Instrumentation option "maxStackFrames" must be an integer >= 1; got ${String(frames)}.`);
  }
}

/** Byte count of a writeBuffer/setImmediates source range (offsets and sizes count elements for typed arrays). */
function sourceBytes(data: BufferSource | SharedArrayBuffer, dataOffset?: number, size?: number): number {
  const element = ArrayBuffer.isView(data) ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
  if (size !== undefined) return size * element;
  return data.byteLength - (dataOffset ?? 0) * element;
}

function sourceCopy(data: BufferSource | SharedArrayBuffer, dataOffset?: number, size?: number): Uint8Array {
  const element = ArrayBuffer.isView(data) ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
  const bytes = sourceBytes(data, dataOffset, size);
  const start = (dataOffset ?? 0) * element;
  const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset + start, bytes) : new Uint8Array(data, start, bytes);
  return view.slice();
}

function isBuffer(value: unknown): value is GPUBuffer {
  return typeof value === 'object' && value !== null && typeof (value as GPUBuffer).mapAsync === 'function';
}

/** Binding sizes of a bind group's buffer entries, in binding order. */
export function bindGroupBufferBytes(entries: Iterable<GPUBindGroupEntry>): number[] {
  const sized: [number, number][] = [];
  // A one-shot iterator was consumed by the real call: only arrays can be read again.
  if (!Array.isArray(entries)) return [];
  for (const entry of entries as GPUBindGroupEntry[]) {
    const resource = entry.resource as unknown;
    if (isBuffer(resource)) sized.push([entry.binding, resource.size]);
    else if (typeof resource === 'object' && resource !== null && isBuffer((resource as GPUBufferBinding).buffer)) {
      const binding = resource as GPUBufferBinding;
      sized.push([entry.binding, binding.size ?? binding.buffer.size - (binding.offset ?? 0)]);
    }
  }
  return sized.sort((a, b) => a[0] - b[0]).map(([, bytes]) => bytes);
}

export class Instrumentation {
  readonly options: Readonly<InstrumentationOptions>;
  private readonly clock: () => number;
  private readonly maxStackFrames: number;

  private device: GPUDevice | undefined;
  private queue: GPUQueue | undefined;
  private mode: TimestampMode = 'none';
  private modeNote: string | undefined;
  private capturingNow = false;
  private detached = false;

  /** Own properties we defined, with what was there before (undefined = nothing). */
  private readonly savedDevice = new Map<string, PropertyDescriptor | undefined>();
  private readonly savedQueue = new Map<string, PropertyDescriptor | undefined>();
  private deviceProto: Proto = {};
  private queueProto: Proto = {};
  private encoderProto: Proto | undefined;
  private passProto: Proto | undefined;

  private readonly modules = new WeakMap<GPUShaderModule, ModuleInfo>();
  private readonly pipelines = new WeakMap<GPUComputePipeline, PipelineInfo>();
  private readonly bindGroupBytes = new WeakMap<GPUBindGroup, number[]>();

  private readonly encoders = new WeakMap<GPUCommandEncoder, EncoderState>();
  private readonly openEncoders = new Set<EncoderState>();
  private readonly passes = new WeakMap<GPUComputePassEncoder, PassState>();
  private readonly commandBuffers = new WeakMap<GPUCommandBuffer, EncoderState>();
  /** Finished, instrumented command buffers not yet submitted. */
  private readonly unsubmitted = new Set<EncoderState>();

  private querySets: QuerySetPool | undefined;
  private readbacks: ReadbackPool | undefined;
  private readonly pending = new Set<Promise<void>>();
  private submits: SubmitState[] = [];
  private submitSeq = 0n;

  private nextId = 1;
  private dispatches: DispatchRecord[] = [];
  private copies: CopyRecord[] = [];
  private stats = emptyStats();
  private errors: Error[] = [];
  private pendingHint: DispatchHint | undefined;
  private readonly onHint = (hint: DispatchHint): void => {
    this.pendingHint = hint;
  };

  /** Raw ticks seen (for quantization detection) and the base relative ticks are measured from. */
  private readonly tickSamples: bigint[] = [];
  private tickBase: bigint | undefined;

  private memory: MemoryTracker;
  private readonly objectAddr = new WeakMap<object, number>();
  private readonly liveObjects = new Map<number, WeakRef<object>>();
  private readonly finalizer: FinalizationRegistry<number> | undefined;

  constructor(options: InstrumentationOptions = {}) {
    validateOptions(options);
    this.options = Object.freeze({ ...options });
    this.clock = options.clock ?? (() => performance.now() * 1e6);
    this.maxStackFrames = options.maxStackFrames ?? 32;
    this.memory = new MemoryTracker(options.memoryBaselineBytes ?? 0);
    this.finalizer =
      typeof FinalizationRegistry === 'function'
        ? new FinalizationRegistry<number>((addr) => {
            if (this.liveObjects.delete(addr)) this.memory.free(addr, this.clock(), this.capturingNow);
          })
        : undefined;
  }

  /** The timing mode in force ('none' before attach). */
  get timestampMode(): TimestampMode {
    return this.mode;
  }

  get capturing(): boolean {
    return this.capturingNow;
  }

  get attachedDevice(): GPUDevice | undefined {
    return this.device;
  }

  /** Query sets this instance has created (tests: none outside the capture window). */
  get querySetsCreated(): number {
    return this.querySets?.created ?? 0;
  }

  /** GPU bytes allocated now (tracked objects plus the baseline). */
  get allocatedBytes(): number {
    return this.memory.allocatedBytes;
  }

  /**
   * Ends a step for memory accounting: returns the peak of allocated bytes since the previous call
   * (or since attach), and starts the next step at the current total.
   */
  markStep(): number {
    return this.memory.markStep();
  }

  /** The instrumentation attached to a device, if any. */
  static of(device: GPUDevice): Instrumentation | undefined {
    return attachedDevices.get(device);
  }

  attach(device: GPUDevice): void {
    if (this.detached) {
      throw new WgprofError('INSTRUMENTATION_DETACHED', 'this Instrumentation was detached; create a new one to attach again.');
    }
    if (this.device) {
      throw new WgprofError(
        'ALREADY_ATTACHED',
        `this Instrumentation is already attached to device "${this.device.label}"; one instance instruments one device. ` +
          'Create another Instrumentation for the other device.',
      );
    }
    if (!device || typeof device.createCommandEncoder !== 'function' || !device.queue) {
      throw new WgprofError('INVALID_DEVICE', `attach() expects a GPUDevice; got ${device === null ? 'null' : typeof device}.`);
    }
    const existing = attachedDevices.get(device);
    if (existing) {
      throw new WgprofError(
        'ALREADY_ATTACHED',
        `device "${device.label}" already has an attached Instrumentation; detach() it first (one instrumentation per device).`,
      );
    }
    attachedDevices.set(device, this);
    this.device = device;
    this.queue = device.queue;
    this.deviceProto = Object.getPrototypeOf(device) as Proto;
    this.queueProto = Object.getPrototypeOf(this.queue) as Proto;
    this.chooseMode(device);
    const factory = {
      createQuerySet: (d: GPUQuerySetDescriptor) => this.deviceProto['createQuerySet']!.call(device, d) as GPUQuerySet,
      createBuffer: (d: GPUBufferDescriptor) => this.deviceProto['createBuffer']!.call(device, d) as GPUBuffer,
    };
    this.querySets = new QuerySetPool(factory);
    this.readbacks = new ReadbackPool(factory);
    this.installDevice(device);
    this.installQueue(this.queue);
  }

  /** Starts (true) or stops (false) the capture window. Work already encoded keeps its timing. */
  setCapturing(on: boolean): void {
    if (on && !this.device) {
      throw new WgprofError('NOT_ATTACHED', 'setCapturing(true) needs an attached device: call attach(device) first.');
    }
    if (on === this.capturingNow) return;
    this.capturingNow = on;
    if (this.device) setHintReceiver(this.device, on ? this.onHint : undefined);
    if (!on) this.pendingHint = undefined;
  }

  /** Restores the device; idempotent. Records captured so far stay available to flush(). */
  detach(): void {
    const device = this.device;
    if (!device) return;
    this.setCapturing(false);
    restore(device, this.savedDevice);
    if (this.queue) restore(this.queue, this.savedQueue);
    for (const enc of this.openEncoders) this.restoreEncoder(enc);
    this.openEncoders.clear();
    for (const [, ref] of this.liveObjects) {
      const obj = ref.deref();
      if (!obj) continue;
      if (Object.prototype.hasOwnProperty.call(obj, 'destroy')) delete (obj as { destroy?: unknown }).destroy;
      this.finalizer?.unregister(obj);
    }
    this.liveObjects.clear();
    this.querySets?.destroyIdle();
    this.readbacks?.destroyIdle();
    attachedDevices.delete(device);
    this.device = undefined;
    this.queue = undefined;
    this.detached = true;
  }

  /**
   * Awaits every pending readback, aligns GPU ticks onto the CPU clock, and returns what was captured
   * since the previous flush. Call setCapturing(false) first for complete data: work still being
   * encoded when flush runs comes without GPU intervals.
   */
  async flush(): Promise<Captured> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    const stats = this.stats;
    // Whatever was encoded but not submitted yet cannot be timed in this window.
    for (const enc of [...this.unsubmitted, ...this.openEncoders]) {
      for (const timing of enc.timings) {
        if (!timing.abandoned) stats.unsubmitted++;
        timing.abandoned = true;
      }
      // Its records are handed over now; a later submit must not list them again.
      enc.records = [];
    }
    for (const enc of this.unsubmitted) if (enc.cb) this.commandBuffers.delete(enc.cb);
    this.unsubmitted.clear();

    const clock = this.applyClock(this.submits, stats);
    const timestamps = this.timestampInfo(stats);
    const captured: Captured = {
      dispatches: this.dispatches,
      copies: this.copies,
      memory: this.memory.takeRecords(),
      timestamps,
      stats,
      submits: this.submits.map((submit) => {
        const out: SubmitRecord = { cpuSubmitNs: submit.cpuSubmitNs, correlations: submit.records.map((r) => r.correlation) };
        if (submit.cpuDoneNs !== undefined) out.cpuDoneNs = submit.cpuDoneNs;
        return out;
      }),
      errors: this.errors,
    };
    if (clock) captured.clock = clock;
    this.dispatches = [];
    this.copies = [];
    this.submits = [];
    this.stats = emptyStats();
    this.errors = [];
    return captured;
  }

  // ---- mode and notes -------------------------------------------------------------------------

  private chooseMode(device: GPUDevice): void {
    const available = timestampModeOf(device.features);
    if (this.options.timestamps === false) {
      this.mode = 'none';
      this.modeNote = 'GPU timestamps were turned off (timestamps: false); GPU kernel events are omitted.';
      return;
    }
    this.mode = available;
    if (available === 'none') {
      const hasInside = device.features.has('chromium-experimental-timestamp-query-inside-passes');
      this.modeNote =
        `TIMESTAMP_QUERY_UNSUPPORTED: device "${device.label}" lacks "timestamp-query"; GPU kernel events are omitted. ` +
        'Request the feature when creating the device (requestGpuDevice() does whenever the adapter offers it); ' +
        'headless Chromium without a GPU needs --enable-unsafe-webgpu.' +
        (hasInside
          ? ' The device has only chromium-experimental-timestamp-query-inside-passes (onnxruntime-web JSEP asks for just that one): ' +
            'hand it an adapter whose requestDevice adds "timestamp-query".'
          : '');
      log.warnOnce('instrument.no-timestamp-query', this.modeNote);
    }
  }

  private timestampInfo(stats: CaptureStats): TimestampInfo {
    const info: TimestampInfo = { mode: this.mode, quantized: null };
    const notes: string[] = [];
    if (this.modeNote) notes.push(this.modeNote);
    if (this.mode !== 'none') {
      const q = detectQuantization(this.tickSamples);
      info.quantized = q.quantized;
      if (q.quantized && q.quantumNs !== undefined) {
        info.quantumNs = q.quantumNs;
        const message =
          `GPU timestamps are quantized to ${q.quantumNs} ns (Dawn's timestamp_quantization, or the browser's timer ` +
          'coarsening; in Node requestGpuDevice() disables it, in Chromium launch with --enable-webgpu-developer-features); ' +
          `durations shorter than ${q.quantumNs} ns are unreliable.`;
        notes.push(message);
        log.warnOnce('instrument.quantized', message);
      }
      const untimed: [number, string][] = [
        [stats.zeroWidth, 'had equal begin and end ticks (shorter than the timestamp resolution) and have no GPU interval'],
        [stats.untimedUserTimestampWrites, 'ran in passes with their own timestampWrites and were not timed'],
        [stats.untimedBatched, 'shared an unsplit pass with other dispatches (splitPasses: false) and were not timed'],
        [stats.invalidTicks, 'came back with missing or backwards ticks'],
        [stats.unbracketed, 'were in submits whose ticks could not be placed between submit and completion'],
        [stats.failedSubmits, "were in submits whose timestamps never came back (the submit did not run: a command buffer failed validation, or the backend executes nothing, like Dawn's null backend)"],
        [stats.unsubmitted, 'were not submitted before flush()'],
      ];
      for (const [count, what] of untimed) if (count > 0) notes.push(`${count} dispatch(es) ${what}.`);
    }
    if (notes.length) info.note = notes.join(' ');
    return info;
  }

  // ---- device and queue -----------------------------------------------------------------------

  private installDevice(device: GPUDevice): void {
    const self = this;
    const proto = this.deviceProto;
    const define = (name: string, fn: Method) => override(device, name, fn, this.savedDevice);
    const original = (name: string): Method => (this.savedDevice.get(name)?.value as Method | undefined) ?? (proto[name] as Method);

    define('createShaderModule', function (this: GPUDevice, desc: GPUShaderModuleDescriptor) {
      const module = original('createShaderModule').apply(this, arguments) as GPUShaderModule;
      const info: ModuleInfo = { code: desc.code };
      if (desc.label) info.label = desc.label;
      self.modules.set(module, info);
      return module;
    });
    const notePipeline = (pipeline: GPUComputePipeline, desc: GPUComputePipelineDescriptor) => {
      const info: PipelineInfo = { module: desc.compute.module };
      if (desc.compute.entryPoint !== undefined) info.entryPoint = desc.compute.entryPoint;
      if (desc.compute.constants) info.constants = desc.compute.constants as Record<string, number>;
      this.pipelines.set(pipeline, info);
    };
    define('createComputePipeline', function (this: GPUDevice, desc: GPUComputePipelineDescriptor) {
      const pipeline = original('createComputePipeline').apply(this, arguments) as GPUComputePipeline;
      notePipeline(pipeline, desc);
      return pipeline;
    });
    define('createComputePipelineAsync', function (this: GPUDevice, desc: GPUComputePipelineDescriptor) {
      const promise = original('createComputePipelineAsync').apply(this, arguments) as Promise<GPUComputePipeline>;
      // Rejections pass through to the caller untouched; noting cannot throw.
      return promise.then((pipeline) => {
        notePipeline(pipeline, desc);
        return pipeline;
      });
    });
    define('createBindGroup', function (this: GPUDevice, desc: GPUBindGroupDescriptor) {
      const group = original('createBindGroup').apply(this, arguments) as GPUBindGroup;
      // Sizes now, not at dispatch: callers reuse and mutate descriptor objects between creations.
      self.bindGroupBytes.set(group, bindGroupBufferBytes(desc.entries));
      return group;
    });
    define('createCommandEncoder', function (this: GPUDevice) {
      const encoder = original('createCommandEncoder').apply(this, arguments) as GPUCommandEncoder;
      if (!self.capturingNow) return encoder;
      self.instrumentEncoder(encoder);
      return encoder;
    });
    if (this.options.withMemory) {
      define('createBuffer', function (this: GPUDevice, desc: GPUBufferDescriptor) {
        const buffer = original('createBuffer').apply(this, arguments) as GPUBuffer;
        self.track(buffer, 'buffer', buffer.size, desc.label);
        return buffer;
      });
      define('createQuerySet', function (this: GPUDevice, desc: GPUQuerySetDescriptor) {
        const set = original('createQuerySet').apply(this, arguments) as GPUQuerySet;
        // Every query type stores 8 bytes per query (timestamps: u64 ticks; occlusion: u64 counts).
        self.track(set, 'querySet', desc.count * 8, desc.label);
        return set;
      });
      define('createTexture', function (this: GPUDevice, desc: GPUTextureDescriptor) {
        const texture = original('createTexture').apply(this, arguments) as GPUTexture;
        const bytes = textureBytes(desc);
        if (bytes !== undefined) self.track(texture, 'texture', bytes, desc.label);
        else log.warnOnce(`instrument.texture-format.${desc.format}`, `memory: texture format "${desc.format}" has no known size; its textures are not counted.`);
        return texture;
      });
      define('destroy', function (this: GPUDevice) {
        // Destroying the device frees everything it owns.
        self.memory.freeAll(self.clock(), self.capturingNow);
        self.liveObjects.clear();
        return original('destroy').apply(this, arguments);
      });
    }
  }

  private installQueue(queue: GPUQueue): void {
    const self = this;
    const proto = this.queueProto;
    const original = (name: string): Method => (this.savedQueue.get(name)?.value as Method | undefined) ?? (proto[name] as Method);
    override(
      queue,
      'submit',
      function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
        if (self.unsubmitted.size === 0) return original('submit').apply(this, arguments);
        return self.submit(this, buffers, original('submit'));
      },
      this.savedQueue,
    );
    override(
      queue,
      'writeBuffer',
      function (this: GPUQueue, _buffer: GPUBuffer, _offset: number, data: BufferSource, dataOffset?: number, size?: number) {
        if (!self.capturingNow) return original('writeBuffer').apply(this, arguments);
        const launchStartNs = self.clock();
        const result = original('writeBuffer').apply(this, arguments);
        const launchEndNs = self.clock();
        self.recordCopy('HtoD', sourceBytes(data, dataOffset, size), 'writeBuffer', launchStartNs, launchEndNs);
        return result;
      },
      this.savedQueue,
    );
  }

  private recordCopy(kind: CopyRecord['kind'], bytes: number, launch: string, launchStartNs: number, launchEndNs: number): void {
    const id = this.nextId++;
    this.copies.push({ externalId: id, correlation: id, kind, bytes, launch, launchStartNs, launchEndNs });
  }

  // ---- memory ---------------------------------------------------------------------------------

  private track(obj: GPUBuffer | GPUQuerySet | GPUTexture, kind: MemoryKind, bytes: number, label: string | undefined): void {
    const addr = this.memory.alloc(kind, bytes, label || undefined, this.clock(), this.capturingNow);
    this.objectAddr.set(obj, addr);
    this.liveObjects.set(addr, new WeakRef(obj));
    this.finalizer?.register(obj, addr, obj);
    Object.defineProperty(obj, 'destroy', { value: this.destroyTracked, configurable: true, writable: true, enumerable: false });
  }

  /** Shared by every tracked object (one function, no per-object closure). */
  private readonly destroyTracked = ((self: Instrumentation) =>
    function destroy(this: GPUBuffer | GPUQuerySet | GPUTexture): undefined {
      const addr = self.objectAddr.get(this);
      if (addr !== undefined) {
        self.objectAddr.delete(this);
        self.liveObjects.delete(addr);
        self.finalizer?.unregister(this);
        delete (this as { destroy?: unknown }).destroy;
        self.memory.free(addr, self.clock(), self.capturingNow);
      }
      return (Object.getPrototypeOf(this) as { destroy(): undefined }).destroy.call(this);
    })(this);

  // ---- encoders -------------------------------------------------------------------------------

  private instrumentEncoder(encoder: GPUCommandEncoder): void {
    if (!this.encoderProto) this.encoderProto = Object.getPrototypeOf(encoder) as Proto;
    const enc: EncoderState = { encoder, slices: [], records: [], timings: [] };
    this.encoders.set(encoder, enc);
    this.openEncoders.add(enc);
    const fns = this.encoderFns;
    for (const name of ENCODER_METHODS) {
      Object.defineProperty(encoder, name, { value: fns[name], configurable: true, writable: true, enumerable: false });
    }
  }

  private restoreEncoder(enc: EncoderState): void {
    if (enc.openPass) this.restorePass(enc.openPass);
    for (const name of ENCODER_METHODS) delete (enc.encoder as unknown as Record<string, unknown>)[name];
  }

  private readonly encoderFns: Record<(typeof ENCODER_METHODS)[number], Method> = ((self: Instrumentation) => ({
    beginComputePass: function beginComputePass(this: GPUCommandEncoder, desc?: GPUComputePassDescriptor) {
      const proto = self.encoderProto!;
      const enc = self.encoders.get(this);
      if (!enc || !self.capturingNow) return proto['beginComputePass']!.apply(this, arguments);
      return self.beginPass(enc, desc);
    },
    copyBufferToBuffer: function copyBufferToBuffer(this: GPUCommandEncoder) {
      const proto = self.encoderProto!;
      if (!self.capturingNow) return proto['copyBufferToBuffer']!.apply(this, arguments);
      const launchStartNs = self.clock();
      const result = proto['copyBufferToBuffer']!.apply(this, arguments);
      const launchEndNs = self.clock();
      // (src, dst, size?) or (src, srcOffset, dst, dstOffset, size?)
      const long = typeof arguments[1] === 'number';
      const src = arguments[0] as GPUBuffer;
      const dst = (long ? arguments[2] : arguments[1]) as GPUBuffer;
      const srcOffset = long ? (arguments[1] as number) : 0;
      const size = (long ? arguments[4] : arguments[2]) as number | undefined;
      const bytes = size ?? src.size - srcOffset;
      self.recordCopy(dst.usage & MAP_READ ? 'DtoH' : 'DtoD', bytes, 'copyBufferToBuffer', launchStartNs, launchEndNs);
      return result;
    },
    finish: function finish(this: GPUCommandEncoder) {
      const proto = self.encoderProto!;
      const cb = proto['finish']!.apply(this, arguments) as GPUCommandBuffer;
      const enc = self.encoders.get(this);
      if (enc) {
        self.encoders.delete(this);
        self.openEncoders.delete(enc);
        self.restoreEncoder(enc);
        if (enc.records.length > 0 || enc.slices.length > 0) {
          enc.cb = cb;
          self.commandBuffers.set(cb, enc);
          self.unsubmitted.add(enc);
        }
      }
      return cb;
    },
  }))(this);

  private allocPair(enc: EncoderState): { slice: QuerySlice; index: number } {
    const pool = this.querySets!;
    let slice = enc.slices[enc.slices.length - 1];
    if (!slice || slice.used + 2 > pool.queriesPerSet) {
      slice = { set: pool.acquire(), used: 0 };
      enc.slices.push(slice);
    }
    const index = slice.used;
    slice.used += 2;
    return { slice, index };
  }

  // ---- passes ---------------------------------------------------------------------------------

  private beginPass(enc: EncoderState, desc: GPUComputePassDescriptor | undefined): GPUComputePassEncoder {
    const encoderProto = this.encoderProto!;
    const userTimestampWrites = Boolean(desc?.timestampWrites);
    let mode: PassMode;
    if (this.mode === 'none') mode = 'untimed';
    else if (this.mode === 'inside-passes') mode = 'inside';
    else if (userTimestampWrites) mode = 'untimed';
    else mode = this.options.splitPasses === false ? 'whole' : 'split';

    let realDesc = desc;
    let slot: { slice: QuerySlice; index: number } | undefined;
    if (mode === 'split' || mode === 'whole') {
      slot = this.allocPair(enc);
      realDesc = { ...desc, timestampWrites: { querySet: slot.slice.set, beginningOfPassWriteIndex: slot.index, endOfPassWriteIndex: slot.index + 1 } };
    }
    const pass = encoderProto['beginComputePass']!.call(enc.encoder, realDesc) as GPUComputePassEncoder;
    if (!this.passProto) this.passProto = Object.getPrototypeOf(pass) as Proto;
    if (mode === 'inside' && typeof this.passProto['writeTimestamp'] !== 'function') {
      // The feature is on the device but this runtime's pass has no writeTimestamp: fall back for good.
      this.mode = 'pass-boundaries';
      log.warnOnce('instrument.no-writeTimestamp', 'the device reports inside-pass timestamps but compute passes lack writeTimestamp(); using pass-boundary timestamps.');
      this.restorePassMethods(pass, []);
      pass.end();
      return this.beginPass(enc, desc);
    }
    const st: PassState = {
      enc,
      first: pass,
      current: pass,
      mode,
      userTimestampWrites,
      dispatchesInCurrent: 0,
      records: [],
      bindGroups: [],
      debugGroups: [],
      immediates: [],
      overridden: [],
    };
    if (desc?.label) st.label = desc.label;
    if (slot) st.slot = slot;
    this.passes.set(pass, st);
    enc.openPass = pass;
    // Only a splitting pass needs every method forwarded (the real pass changes under the user).
    const names = mode === 'split' ? this.passMethodNames() : PASS_CORE_METHODS;
    const fns = this.passFns;
    for (const name of names) {
      const fn = fns[name] ?? this.forwarder(name);
      Object.defineProperty(pass, name, { value: fn, configurable: true, writable: true, enumerable: false });
      st.overridden.push(name);
    }
    return pass;
  }

  private passMethodNamesCache: string[] | undefined;
  private passMethodNames(): string[] {
    if (!this.passMethodNamesCache) {
      const proto = this.passProto!;
      const names = new Set<string>(PASS_CORE_METHODS);
      for (const name of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, name);
        if (name !== 'constructor' && d && typeof d.value === 'function') names.add(name);
      }
      this.passMethodNamesCache = [...names];
    }
    return this.passMethodNamesCache;
  }

  private readonly forwarders = new Map<string, Method>();
  private forwarder(name: string): Method {
    let fn = this.forwarders.get(name);
    if (!fn) {
      const self = this;
      fn = function (this: GPUComputePassEncoder) {
        const st = self.passes.get(this);
        return self.passProto![name]!.apply(st ? st.current : this, arguments);
      };
      this.forwarders.set(name, fn);
    }
    return fn;
  }

  private restorePass(pass: GPUComputePassEncoder): void {
    const st = this.passes.get(pass);
    this.restorePassMethods(pass, st?.overridden ?? []);
    if (st) {
      this.passes.delete(pass);
      if (st.enc.openPass === pass) delete st.enc.openPass;
    }
  }

  private restorePassMethods(pass: GPUComputePassEncoder, names: readonly string[]): void {
    for (const name of names) delete (pass as unknown as Record<string, unknown>)[name];
  }

  private markOpStart(st: PassState): void {
    if (st.opStartNs === undefined && this.capturingNow) st.opStartNs = this.clock();
  }

  private readonly passFns: Record<string, Method> = ((self: Instrumentation) => ({
    setPipeline: function setPipeline(this: GPUComputePassEncoder, pipeline: GPUComputePipeline) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['setPipeline']!.apply(this, arguments);
      self.markOpStart(st);
      st.pipeline = pipeline;
      return self.passProto!['setPipeline']!.apply(st.current, arguments);
    },
    setBindGroup: function setBindGroup(this: GPUComputePassEncoder, index: number, group: GPUBindGroup | null | undefined, offsets?: Iterable<number> | Uint32Array, start?: number, length?: number) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['setBindGroup']!.apply(this, arguments);
      self.markOpStart(st);
      if (!group) st.bindGroups[index] = undefined;
      else {
        const bound: BoundGroup = { group };
        // Dynamic offsets are re-applied after a split: keep a copy (the caller may reuse its array).
        if (offsets !== undefined && st.mode === 'split') {
          bound.offsets = offsets instanceof Uint32Array && start !== undefined ? [...offsets.subarray(start, start + (length ?? 0))] : [...offsets];
        }
        st.bindGroups[index] = bound;
      }
      return self.passProto!['setBindGroup']!.apply(st.current, arguments);
    },
    setImmediates: function setImmediates(this: GPUComputePassEncoder, rangeOffset: number, data: BufferSource, dataOffset?: number, size?: number) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['setImmediates']!.apply(this, arguments);
      self.markOpStart(st);
      if (st.mode === 'split') st.immediates.push([rangeOffset, sourceCopy(data, dataOffset, size)]);
      return self.passProto!['setImmediates']!.apply(st.current, arguments);
    },
    pushDebugGroup: function pushDebugGroup(this: GPUComputePassEncoder, label: string) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['pushDebugGroup']!.apply(this, arguments);
      st.debugGroups.push(label);
      return self.passProto!['pushDebugGroup']!.apply(st.current, arguments);
    },
    popDebugGroup: function popDebugGroup(this: GPUComputePassEncoder) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['popDebugGroup']!.apply(this, arguments);
      st.debugGroups.pop();
      return self.passProto!['popDebugGroup']!.apply(st.current, arguments);
    },
    dispatchWorkgroups: function dispatchWorkgroups(this: GPUComputePassEncoder, x: number, y?: number, z?: number) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['dispatchWorkgroups']!.apply(this, arguments);
      return self.dispatch(st, dispatchWorkgroups, 'dispatchWorkgroups', arguments, [x, y ?? 1, z ?? 1]);
    },
    dispatchWorkgroupsIndirect: function dispatchWorkgroupsIndirect(this: GPUComputePassEncoder) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['dispatchWorkgroupsIndirect']!.apply(this, arguments);
      return self.dispatch(st, dispatchWorkgroupsIndirect, 'dispatchWorkgroupsIndirect', arguments, undefined);
    },
    end: function end(this: GPUComputePassEncoder) {
      const st = self.passes.get(this);
      if (!st) return self.passProto!['end']!.apply(this, arguments);
      const result = self.passProto!['end']!.apply(st.current, arguments);
      self.endPass(st);
      return result;
    },
  }))(this);

  private endPass(st: PassState): void {
    if (st.mode === 'whole' && st.slot) {
      // One timestamp pair per pass: it times a dispatch only when the pass had exactly one.
      const only = st.records[0];
      if (st.records.length === 1 && only) st.enc.timings.push({ record: only, slice: st.slot.slice, index: st.slot.index, abandoned: false });
      else if (st.records.length > 1) this.stats.untimedBatched += st.records.length;
    }
    this.restorePass(st.first);
  }

  /** Ends the current real pass and begins the next one with fresh timestampWrites and the same state. */
  private splitPass(st: PassState): void {
    const passProto = this.passProto!;
    const cur = st.current;
    for (let i = 0; i < st.debugGroups.length; i++) passProto['popDebugGroup']!.call(cur);
    passProto['end']!.call(cur);
    const slot = this.allocPair(st.enc);
    const desc: GPUComputePassDescriptor = {
      timestampWrites: { querySet: slot.slice.set, beginningOfPassWriteIndex: slot.index, endOfPassWriteIndex: slot.index + 1 },
    };
    if (st.label !== undefined) desc.label = st.label;
    const next = this.encoderProto!['beginComputePass']!.call(st.enc.encoder, desc) as GPUComputePassEncoder;
    for (const label of st.debugGroups) passProto['pushDebugGroup']!.call(next, label);
    if (st.pipeline) passProto['setPipeline']!.call(next, st.pipeline);
    st.bindGroups.forEach((bound, index) => {
      if (!bound) return;
      if (bound.offsets) passProto['setBindGroup']!.call(next, index, bound.group, bound.offsets);
      else passProto['setBindGroup']!.call(next, index, bound.group);
    });
    for (const [rangeOffset, bytes] of st.immediates) passProto['setImmediates']!.call(next, rangeOffset, bytes);
    st.current = next;
    st.slot = slot;
    st.dispatchesInCurrent = 0;
    this.stats.passSplits++;
  }

  private dispatch(st: PassState, entry: Method, launch: string, args: IArguments, workgroups: [number, number, number] | undefined): unknown {
    const passProto = this.passProto!;
    const opStartNs = st.opStartNs ?? st.lastDispatchEndNs;
    if (st.mode === 'split' && st.dispatchesInCurrent > 0) this.splitPass(st);
    let pair: { slice: QuerySlice; index: number } | undefined;
    if (st.mode === 'inside') {
      pair = this.allocPair(st.enc);
      passProto['writeTimestamp']!.call(st.current, pair.slice.set, pair.index);
    }
    const launchStartNs = this.clock();
    const result = passProto[launch]!.apply(st.current, args);
    const launchEndNs = this.clock();
    if (pair) passProto['writeTimestamp']!.call(st.current, pair.slice.set, pair.index + 1);
    st.dispatchesInCurrent++;
    st.opStartNs = undefined;
    st.lastDispatchEndNs = launchEndNs;

    const hint = this.pendingHint;
    this.pendingHint = undefined;
    const id = this.nextId++;
    const record: DispatchRecord = {
      externalId: id,
      correlation: id,
      kernel: this.kernelName(st.pipeline, hint),
      launch,
      opStartNs: opStartNs ?? launchStartNs,
      opEndNs: launchEndNs,
      launchStartNs,
      launchEndNs,
      workgroups: workgroups ?? this.hintWorkgroups(hint) ?? [0, 0, 0],
    };
    const size = hint ? (hint.kernel.workgroupSize as [number, number, number]) : this.parsedWorkgroupSize(st.pipeline);
    if (size) record.workgroupSize = [size[0], size[1], size[2]];
    const bound = this.boundBytes(st);
    if (bound.length) record.boundBufferBytes = bound;
    if (hint) this.applyHint(record, hint);
    if (this.options.withStack) record.stack = captureStack(entry, this.maxStackFrames);
    this.dispatches.push(record);
    st.records.push(record);
    st.enc.records.push(record);

    if (st.mode === 'split' && st.slot) st.enc.timings.push({ record, slice: st.slot.slice, index: st.slot.index, abandoned: false });
    else if (pair) st.enc.timings.push({ record, slice: pair.slice, index: pair.index, abandoned: false });
    else if (st.mode === 'untimed' && st.userTimestampWrites && this.mode !== 'none') this.stats.untimedUserTimestampWrites++;
    return result;
  }

  private hintWorkgroups(hint: DispatchHint | undefined): [number, number, number] | undefined {
    if (!hint) return undefined;
    try {
      const [x, y, z] = hint.kernel.dispatch(hint.shape);
      return [x, y, z];
    } catch (error) {
      this.hintError(hint, 'dispatch', error);
      return undefined;
    }
  }

  private applyHint(record: DispatchRecord, hint: DispatchHint): void {
    if (this.options.recordShapes && hint.kernel.inputs) {
      try {
        const io = hint.kernel.inputs(hint.shape);
        record.inputDims = io.dims;
        record.inputTypes = io.types;
      } catch (error) {
        this.hintError(hint, 'inputs', error);
      }
    }
    if (this.options.withFlops && hint.kernel.cost) {
      try {
        record.cost = hint.kernel.cost(hint.shape);
      } catch (error) {
        this.hintError(hint, 'cost', error);
      }
    }
  }

  private hintError(hint: DispatchHint, method: string, error: unknown): void {
    this.errors.push(
      new WgprofError('HINT_FAILED', `kernel "${hint.kernel.name}": ${method}(shape) threw ${errorMessage(error)}; the dispatch was recorded without it.`, {
        cause: error,
      }),
    );
  }

  private kernelName(pipeline: GPUComputePipeline | undefined, hint: DispatchHint | undefined): string {
    if (pipeline?.label) return pipeline.label;
    if (hint?.kernel.label) return hint.kernel.label;
    const info = pipeline ? this.pipelines.get(pipeline) : undefined;
    const moduleLabel = info ? this.modules.get(info.module)?.label ?? info.module.label : undefined;
    return moduleLabel || 'unlabeled_pipeline';
  }

  private parsedWorkgroupSize(pipeline: GPUComputePipeline | undefined): [number, number, number] | undefined {
    const info = pipeline ? this.pipelines.get(pipeline) : undefined;
    if (!info) return undefined;
    if (info.workgroupSize === undefined) {
      const code = this.modules.get(info.module)?.code;
      info.workgroupSize = (code !== undefined ? parseWorkgroupSize(code, info.entryPoint, info.constants) : undefined) ?? null;
    }
    return info.workgroupSize ?? undefined;
  }

  private boundBytes(st: PassState): number[] {
    const out: number[] = [];
    for (const bound of st.bindGroups) {
      if (!bound) continue;
      const sizes = this.bindGroupBytes.get(bound.group);
      if (sizes) out.push(...sizes);
    }
    return out;
  }

  // ---- submit and readback --------------------------------------------------------------------

  private submit(queue: GPUQueue, buffers: Iterable<GPUCommandBuffer>, submitOriginal: Method): undefined {
    const list = Array.isArray(buffers) ? (buffers as GPUCommandBuffer[]) : [...buffers];
    const states: EncoderState[] = [];
    for (const cb of list) {
      const enc = this.commandBuffers.get(cb);
      if (!enc) continue;
      this.commandBuffers.delete(cb);
      this.unsubmitted.delete(enc);
      states.push(enc);
    }
    if (states.length === 0) return submitOriginal.call(queue, list) as undefined;
    const records = states.flatMap((enc) => enc.records);
    if (states.every((enc) => enc.slices.length === 0)) {
      // Nothing to time (mode 'none', or only passes with their own timestampWrites): no readback.
      this.submits.push({ seq: 0n, cpuSubmitNs: this.clock(), timings: [], records });
      return submitOriginal.call(queue, list) as undefined;
    }
    const device = this.device!;

    // Layout: each used query slice at a 256-aligned offset, then the 8-byte submit marker.
    const offsets = new Map<QuerySlice, number>();
    let bytes = 0;
    for (const enc of states) {
      for (const slice of enc.slices) {
        offsets.set(slice, bytes);
        bytes += alignUp(slice.used * 8, RESOLVE_ALIGN);
      }
    }
    const markerOffset = bytes;
    bytes += RESOLVE_ALIGN;
    const pair = this.readbacks!.acquire(bytes);
    const seq = ++this.submitSeq;
    this.queueProto['writeBuffer']!.call(queue, pair.resolve, markerOffset, new BigUint64Array([seq]));
    const encoder = this.deviceProto['createCommandEncoder']!.call(device, { label: 'wgprof.resolve' }) as GPUCommandEncoder;
    for (const [slice, offset] of offsets) encoder.resolveQuerySet(slice.set, 0, slice.used, pair.resolve, offset);
    encoder.copyBufferToBuffer(pair.resolve, 0, pair.read, 0, bytes);
    const resolveCb = encoder.finish();

    const timings = states.flatMap((enc) => enc.timings);
    const submit: SubmitState = { seq, cpuSubmitNs: this.clock(), timings, records };
    submitOriginal.call(queue, [...list, resolveCb]);
    // The resolve for these sets is now queued ahead of any later use, so they can be reused at once.
    for (const enc of states) for (const slice of enc.slices) this.releaseQuerySet(slice.set);

    const done = pair.read.mapAsync(0x0001 /* GPUMapMode.READ */, 0, bytes).then(
      () => this.onMapped(submit, pair, offsets, markerOffset, bytes),
      (error: unknown) => {
        this.errors.push(new WgprofError('READBACK_FAILED', `timestamp readback of submit ${seq} failed: ${errorMessage(error)}; its dispatches have no GPU interval.`, { cause: error }));
        this.releasePair(pair, true);
      },
    );
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
    this.stats.submits++;
    this.submits.push(submit);
    return undefined;
  }

  private onMapped(submit: SubmitState, pair: ReadbackPair, offsets: Map<QuerySlice, number>, markerOffset: number, bytes: number): void {
    try {
      submit.cpuDoneNs = this.clock();
      const ticks = new BigUint64Array(pair.read.getMappedRange(0, bytes));
      submit.ran = ticks[markerOffset / 8] === submit.seq;
      if (submit.ran) {
        for (const timing of submit.timings) {
          const base = offsets.get(timing.slice);
          if (base === undefined) continue;
          const begin = ticks[base / 8 + timing.index];
          const end = ticks[base / 8 + timing.index + 1];
          if (begin !== undefined) timing.begin = begin;
          if (end !== undefined) timing.end = end;
        }
      }
      pair.read.unmap();
      this.releasePair(pair, false);
    } catch (error) {
      submit.ran = false;
      this.errors.push(new WgprofError('READBACK_FAILED', `reading the timestamps of submit ${submit.seq} failed: ${errorMessage(error)}.`, { cause: error }));
      this.releasePair(pair, true);
    }
  }

  private releaseQuerySet(set: GPUQuerySet): void {
    if (this.detached) set.destroy();
    else this.querySets!.release(set);
  }

  private releasePair(pair: ReadbackPair, broken: boolean): void {
    if (this.detached || broken) destroyPair(pair);
    else this.readbacks!.release(pair);
  }

  /** Fits the clock over this window's submits and writes GPU intervals into the dispatch records. */
  private applyClock(submits: readonly SubmitState[], stats: CaptureStats): ClockFit | undefined {
    const samples: SubmitSample[] = [];
    const sampleTimings: Timing[][] = [];
    for (const submit of submits) {
      const live = submit.timings.filter((t) => !t.abandoned);
      if (live.length === 0) continue;
      if (submit.ran !== true || submit.cpuDoneNs === undefined) {
        stats.failedSubmits += live.length;
        continue;
      }
      const valid: Timing[] = [];
      for (const t of live) {
        if (t.begin === undefined || t.end === undefined || t.begin === 0n || t.end < t.begin) stats.invalidTicks++;
        else valid.push(t);
      }
      if (valid.length === 0) continue;
      for (const t of valid) {
        if (this.tickSamples.length < MAX_TICK_SAMPLES) this.tickSamples.push(t.begin!, t.end!);
        this.tickBase ??= t.begin!;
      }
      const base = this.tickBase!;
      let first = Infinity;
      let last = -Infinity;
      for (const t of valid) {
        first = Math.min(first, Number(t.begin! - base));
        last = Math.max(last, Number(t.end! - base));
      }
      samples.push({ cpuSubmitNs: submit.cpuSubmitNs, cpuDoneNs: submit.cpuDoneNs, firstTick: first, lastTick: last });
      sampleTimings.push(valid);
    }
    if (samples.length === 0) return undefined;
    const quantumNs = detectQuantization(this.tickSamples).quantumNs ?? 0;
    const options: { tickUncertaintyNs: number; tickBase?: bigint } = { tickUncertaintyNs: quantumNs };
    if (this.tickBase !== undefined) options.tickBase = this.tickBase;
    const alignment = alignClock(samples, options);
    const base = this.tickBase!;
    samples.forEach((sample, i) => {
      for (const t of sampleTimings[i] ?? []) {
        if (t.begin === t.end) {
          stats.zeroWidth++;
          continue;
        }
        const mapped = alignment ? mapInterval(alignment, i, sample, Number(t.begin! - base), Number(t.end! - base)) : undefined;
        if (!mapped) {
          stats.unbracketed++;
          continue;
        }
        t.record.gpuStartNs = mapped.startNs;
        t.record.gpuEndNs = mapped.endNs;
        stats.timedDispatches++;
      }
    });
    return alignment?.fit;
  }
}

const ENCODER_METHODS = ['beginComputePass', 'copyBufferToBuffer', 'finish'] as const;
const PASS_CORE_METHODS: readonly string[] = ['setPipeline', 'setBindGroup', 'dispatchWorkgroups', 'dispatchWorkgroupsIndirect', 'end'];

/** Defines `name` as an own, non-enumerable property of `target`, remembering what was there. */
function override(target: object, name: string, fn: Method, saved: Map<string, PropertyDescriptor | undefined>): void {
  saved.set(name, Object.getOwnPropertyDescriptor(target, name));
  Object.defineProperty(target, name, { value: fn, configurable: true, writable: true, enumerable: false });
}

function restore(target: object, saved: Map<string, PropertyDescriptor | undefined>): void {
  for (const [name, descriptor] of saved) {
    if (descriptor) Object.defineProperty(target, name, descriptor);
    else delete (target as Record<string, unknown>)[name];
  }
  saved.clear();
}
