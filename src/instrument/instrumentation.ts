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
 *   shared prototype is touched, so other devices see no change; `detach()` deletes (or restores)
 *   exactly those properties, so `device.createBuffer === GPUDevice.prototype.createBuffer` again. A
 *   module WeakMap refuses a second attach to the same device. Originals are looked up on the
 *   prototype at call time, so prototype patches made after attach (e.g. onnxruntime-web's
 *   writeBuffer fix in Node) still run.
 * - Command encoders created while capturing get their prototype swapped (one Object.setPrototypeOf)
 *   for an instrumented one built once per native prototype: `Object.create(GPUCommandEncoder.prototype)`
 *   plus beginComputePass, copyBufferToBuffer and finish. The user keeps the real encoder (nothing is
 *   defined on it); finish() and detach() put the native prototype back.
 * - A compute pass begun on such an encoder is handed to the user as an object of a class built once
 *   per native pass prototype, whose prototype chain runs through GPUComputePassEncoder.prototype
 *   (instanceof holds). It carries the pass's state as plain fields and forwards every method and
 *   accessor to the real pass that receives commands now (a new one after each split). The real pass
 *   object itself is never touched. Defining and deleting own methods on every pass instead cost
 *   several µs per pass (dictionary-mode objects); this costs one small object per pass.
 * - GPU timing, by device feature (mode written into the trace, STYLE §7):
 *   'inside-passes' (chromium-experimental-timestamp-query-inside-passes): writeTimestamp before and
 *   after each dispatch, passes untouched. 'pass-boundaries' (timestamp-query only): timestampWrites
 *   injected into passes that have none, and a pass with several dispatches is SPLIT: at each
 *   dispatch after the first, the real pass is ended and a new one begun with fresh timestampWrites,
 *   re-applying the pipeline, bind groups (with dynamic offsets), immediates and open debug groups.
 *   Passes with their own timestampWrites are left whole and untimed. 'none': no GPU times, and the
 *   trace says why.
 * - Copies: while capturing with timestamps (either mode), copyBufferToBuffer on a captured encoder
 *   is bracketed by two empty compute passes in the same command stream: one writing its
 *   endOfPassWriteIndex just before the copy, one writing its beginningOfPassWriteIndex just after.
 *   The copy's GPU interval is [end of the pass before, beginning of the pass after] (an upper bound
 *   that includes the two pass boundaries); equal ticks, invalid ticks or a submit that did not run
 *   give none, as for dispatches (CaptureStats.timedCopies/untimedCopies). A copy encoded while a pass
 *   is open (a validation error of the caller's) is not bracketed. Cost: two extra empty passes per copy.
 * - Query sets come from a pool (256 queries each); at `queue.submit` one extra command buffer
 *   resolves every set the submitted command buffers used into a pooled buffer and copies it to a
 *   pooled MAP_READ buffer, which is mapped asynchronously: no per-kernel wait, no
 *   onSubmittedWorkDone. A per-submit marker written with writeBuffer tells whether the submit ran
 *   (a pooled buffer would otherwise show the previous submit's ticks). `flush()` awaits the readbacks,
 *   fits the GPU→CPU clock (./clock.ts) and returns the records; errors from the detached map promises
 *   are collected and returned by flush, never thrown from a `.then`.
 *
 * Costs (measured with test/bench/profiler.ts and test/bench/instrument.ts on dawn.node's null backend)
 * - Outside the capture window: createCommandEncoder and writeBuffer do one flag check, submit one
 *   size check, then forward; nothing is allocated, no timestamp is injected. Object-creation calls
 *   (shader modules, pipelines, bind groups, and with withMemory buffers/query sets/textures) always
 *   record a little metadata (a WeakMap entry: module label and source, pipeline entry point, bind
 *   group binding sizes; with withMemory a pseudo address, a WeakRef and an own `destroy` per tracked
 *   object), so objects created before the window are still named and memory totals stay right.
 * - Inside the window, per pass: one small object (the pass the user holds); per dispatch: three
 *   clock reads and one entry in a columnar log (typed arrays and dense arrays, no object: the
 *   DispatchRecords are built by flush), and with `withStack` an unformatted V8 stack capture (the
 *   frames are formatted into strings by flush: formatting, not capturing, is the expensive part; the
 *   capture itself still costs a few µs per dispatch). In 'pass-boundaries' mode every pass gets
 *   timestampWrites (about 1 µs of dawn.node's time per pass), and a pass with several dispatches
 *   costs one extra compute pass per extra dispatch (end + begin + state re-application), which
 *   perturbs GPU timings a little (each kernel then pays a pass boundary). Per submit: one marker
 *   write, one small resolve + copy command buffer, one map.
 *
 * Limits
 * - Only work encoded on encoders created while capturing is recorded; encoders created before the
 *   window and used inside it are not instrumented. A dispatch hint (noteDispatch) applies to the
 *   next dispatch the instrumentation sees, so a hint followed by a dispatch it cannot see (such an
 *   encoder) would land on the next one: note hints only for work encoded inside the window.
 * - A method the caller defines as an OWN property of an encoder shadows the instrumented prototype
 *   (WebGPU code does not do this; onnxruntime-web patches prototypes, which we honour). A captured
 *   pass is not the runtime's own object: WebGPU takes passes nowhere as arguments, so only identity
 *   checks against the runtime's pass could tell (none can be written: the user never sees it).
 *   Its forwarders are built from the methods the pass prototype has at the first captured pass; a
 *   method added to that prototype later is inherited unforwarded (it gets our object as `this`).
 * - Buffers, query sets and textures created before attach are unknown (give `memoryBaselineBytes`).
 *   Objects garbage-collected without destroy() are freed through a FinalizationRegistry (late).
 * - queue.writeBuffer (HtoD) gets no GPU interval: it is a queue operation that runs before the
 *   submit's command buffers, outside any command stream a timestamp could be written in.
 * - dispatchWorkgroupsIndirect: workgroup counts come from the hint's kernel descriptor when given,
 *   else they are unknown and recorded as [0, 0, 0].
 * - Pass splitting re-applies the state WebGPU defines for compute passes (pipeline, bind groups,
 *   immediates, debug groups); state added by future extensions is not re-applied.
 * - A kernel whose begin and end ticks are equal (a quantized clock) gets no GPU interval: the data
 *   does not support any duration; TimestampInfo.note counts them.
 * - Stacks are formatted at flush, with the Error.prepareStackTrace in force then; until then each
 *   keeps its frames' functions and receivers alive.
 */

import type { ClockFit, CopyRecord, DispatchRecord, MemoryRecord, TimestampInfo } from '../capture/model.js';
import type { TimestampMode } from '../gpu/device.js';
import { timestampModeOf } from '../gpu/device.js';
import { detectQuantization } from '../gpu/timestamps.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { alignClock, mapInterval, type SubmitSample } from './clock.js';
import { setHintReceiver, type DispatchHint } from './hints.js';
import { DispatchLog } from './dispatch-log.js';
import { MemoryTracker, textureBytes, type MemoryKind } from './memory.js';
import { QuerySetPool, ReadbackPool, RESOLVE_ALIGN, alignUp, destroyPair, type ReadbackPair } from './queries.js';
import { V8Error, formatStack, stackTraceLimitFor, type StackHolder } from './stack.js';
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
  /** copyBufferToBuffer calls that got a GPU interval (bracketed by timestamps). */
  timedCopies: number;
  /**
   * Bracketed copyBufferToBuffer calls that got none (zero-width or invalid ticks, a submit that did
   * not run or could not be bracketed, not submitted before flush). Not counted in the dispatch fields.
   */
  untimedCopies: number;
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
const RESOLVE_ENCODER: GPUCommandEncoderDescriptor = { label: 'wgprof.resolve' };
/** V8's Error.captureStackTrace (Node, Chromium); undefined elsewhere. */
const captureStackTrace = V8Error.captureStackTrace;

/** The pass methods with their own wrapper; every other pass method gets a forwarder. */
const PASS_CORE_METHODS: ReadonlySet<string> = new Set([
  'setPipeline',
  'setBindGroup',
  'setImmediates',
  'pushDebugGroup',
  'popDebugGroup',
  'dispatchWorkgroups',
  'dispatchWorkgroupsIndirect',
  'end',
]);

interface QuerySlice {
  set: GPUQuerySet;
  used: number;
  /** Byte offset of its ticks in the readback of the submit that carried it (set at submit). */
  offset: number;
}

/** A bracketed copyBufferToBuffer: its record and the query pair (end of the pass before, begin of the pass after). */
interface CopyTiming {
  record: CopyRecord;
  slice: QuerySlice;
  index: number;
}

/** The empty passes around a timed copy (labels show in GPU captures such as RenderDoc or PIX). */
const COPY_BEFORE_LABEL = 'wgprof.copy-begin';
const COPY_AFTER_LABEL = 'wgprof.copy-end';

class EncoderState {
  readonly slices: QuerySlice[] = [];
  /** The slice new query pairs come from (the last of `slices`). */
  slice: QuerySlice | undefined = undefined;
  /** Sequence numbers (in the DispatchLog) of its dispatches, in encode order. */
  records: number[] = [];
  /** Those of them that own a query pair. */
  readonly timed: number[] = [];
  /** Its bracketed copies (cleared when a flush hands them over unsubmitted). */
  copies: CopyTiming[] = [];
  openPass: PassState | undefined = undefined;
  cb: GPUCommandBuffer | undefined = undefined;

  constructor(
    readonly inst: Instrumentation,
    readonly encoder: GPUCommandEncoder,
    /** The encoder's own prototype, put back by finish(). */
    readonly native: Proto,
  ) {}
}

interface SubmitState {
  seq: bigint;
  cpuSubmitNs: number;
  cpuDoneNs?: number;
  /** Sequence numbers of the dispatches it carried (timed or not), and of the timed ones. */
  records: number[];
  timed: number[];
  /** Its bracketed copies. */
  copies: CopyTiming[];
  /** false: the marker did not come back, the submit did not run. */
  ran?: boolean;
  /** A copy of the resolved ticks (only when the submit ran). */
  ticks?: BigUint64Array;
}

type PassMode = 'split' | 'whole' | 'inside' | 'untimed';

type HintInputs = { dims: number[][]; types: string[] };

/**
 * What the user holds while a pass is captured: an object of a class built once per native pass
 * prototype (see buildPassClass), whose prototype chain runs through that native prototype (so
 * `instanceof GPUComputePassEncoder` holds), carrying the pass's state as plain fields and forwarding
 * every call to the real pass that receives commands now. State lookups are field reads; native calls
 * go straight to the real pass.
 */
interface PassState {
  readonly inst: Instrumentation;
  readonly enc: EncoderState;
  /** The real pass's prototype (the originals are looked up on it at call time). */
  readonly native: Proto;
  /** The real pass that receives commands now (a new one after each split). */
  current: GPUComputePassEncoder;
  /**
   * The descriptor's label, for the passes a split begins. (Not `label`: the user's `pass.label`
   * must reach the real pass through the forwarded accessor.)
   */
  readonly descLabel: string | undefined;
  readonly mode: PassMode;
  readonly userTimestampWrites: boolean;
  /** Ended, or its encoder finished or detached: calls only forward from then on. */
  closed: boolean;
  /** The pair in the current real pass's timestampWrites ('split', 'whole'). */
  slotSlice: QuerySlice | undefined;
  slotIndex: number;
  /** 'inside': the begin index of the current dispatch's pair. */
  insideIndex: number;
  dispatchesInCurrent: number;
  dispatches: number;
  /** Sequence number of its first dispatch; -1 before it. */
  firstDispatch: number;
  pipeline: GPUComputePipeline | undefined;
  readonly groups: (GPUBindGroup | undefined)[];
  /** Dynamic offsets per group index, copied ('split' only: re-applied after a split); created on first use. */
  offsets: (number[] | undefined)[] | undefined;
  /** Sizes of the bound buffers, valid until the next setBindGroup. */
  bound: readonly number[] | undefined;
  boundValid: boolean;
  /** Open debug groups and immediates ('split' only), created on first use: most passes have none. */
  debugGroups: string[] | undefined;
  immediates: [number, Uint8Array][] | undefined;
  /** CPU ns of the op's first state call; NaN while none (a number field stays unboxed). */
  opStartNs: number;
  /** CPU ns the previous dispatch of this pass ended; NaN before the first. */
  lastDispatchEndNs: number;
}

type PassClass = new (
  inst: Instrumentation,
  enc: EncoderState,
  pass: GPUComputePassEncoder,
  mode: PassMode,
  userTimestampWrites: boolean,
  label: string | undefined,
  slotSlice: QuerySlice | undefined,
  slotIndex: number,
) => PassState;

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

/** A CaptureStats with every count at zero (fakes in tests start from it too). */
export function emptyCaptureStats(): CaptureStats {
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
    timedCopies: 0,
    untimedCopies: 0,
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
  // The options the hot path reads, as plain booleans.
  private readonly withStack: boolean;
  private readonly recordShapes: boolean;
  private readonly withFlops: boolean;
  private readonly splitPasses: boolean;
  /** Error.stackTraceLimit while capturing a stack. */
  private readonly stackLimit: number;

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

  private readonly modules = new WeakMap<GPUShaderModule, ModuleInfo>();
  private readonly pipelines = new WeakMap<GPUComputePipeline, PipelineInfo>();
  private readonly bindGroupBytes = new WeakMap<GPUBindGroup, number[]>();

  private readonly openEncoders = new Set<EncoderState>();
  private readonly commandBuffers = new WeakMap<GPUCommandBuffer, EncoderState>();
  /** Finished, instrumented command buffers not yet submitted. */
  private readonly unsubmitted = new Set<EncoderState>();

  private querySets: QuerySetPool | undefined;
  private readbacks: ReadbackPool | undefined;
  private readonly pending = new Set<Promise<void>>();
  private submits: SubmitState[] = [];
  private submitSeq = 0n;
  /** The per-submit marker's bytes (writeBuffer copies them at the call). */
  private readonly marker = new BigUint64Array(1);

  private nextId = 1;
  private readonly log = new DispatchLog<QuerySlice, StackHolder, HintInputs, DispatchRecord['cost']>();
  private copies: CopyRecord[] = [];
  private stats = emptyCaptureStats();
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
    this.withStack = options.withStack === true;
    this.recordShapes = options.recordShapes === true;
    this.withFlops = options.withFlops === true;
    this.splitPasses = options.splitPasses !== false;
    this.stackLimit = stackTraceLimitFor(this.maxStackFrames);
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
    const log = this.log;
    for (const enc of [...this.unsubmitted, ...this.openEncoders]) {
      // Handed over now without GPU times (a later submit skips them: the log no longer holds them).
      for (const seq of enc.timed) if (log.holds(seq)) stats.unsubmitted++;
      stats.untimedCopies += enc.copies.length;
      enc.records = [];
      enc.copies = [];
    }
    for (const enc of this.unsubmitted) if (enc.cb) this.commandBuffers.delete(enc.cb);
    this.unsubmitted.clear();

    const dispatches: DispatchRecord[] = [];
    for (let i = 0; i < log.length; i++) dispatches.push(this.buildRecord(i));
    const clock = this.applyClock(this.submits, dispatches, stats);
    const timestamps = this.timestampInfo(stats);
    const captured: Captured = {
      dispatches,
      copies: this.copies,
      memory: this.memory.takeRecords(),
      timestamps,
      stats,
      submits: this.submits.map((submit) => {
        const correlations: number[] = [];
        for (const seq of submit.records) if (log.holds(seq)) correlations.push(log.ids[seq - log.base]!);
        const out: SubmitRecord = { cpuSubmitNs: submit.cpuSubmitNs, correlations };
        if (submit.cpuDoneNs !== undefined) out.cpuDoneNs = submit.cpuDoneNs;
        return out;
      }),
      errors: this.errors,
    };
    if (clock) captured.clock = clock;
    log.clear();
    this.copies = [];
    this.submits = [];
    this.stats = emptyCaptureStats();
    this.errors = [];
    return captured;
  }

  /** The DispatchRecord of log entry `i`: arrays copied, the stack formatted. */
  private buildRecord(i: number): DispatchRecord {
    const log = this.log;
    const id = log.ids[i]!;
    const t = i * 3;
    const c = i * 3;
    const record: DispatchRecord = {
      externalId: id,
      correlation: id,
      kernel: log.kernels[i]!,
      launch: log.launches[i]!,
      opStartNs: log.times[t]!,
      opEndNs: log.times[t + 2]!,
      launchStartNs: log.times[t + 1]!,
      launchEndNs: log.times[t + 2]!,
      workgroups: [log.counts[c]!, log.counts[c + 1]!, log.counts[c + 2]!],
    };
    const size = log.workgroupSizes[i];
    if (size) record.workgroupSize = [size[0] ?? 1, size[1] ?? 1, size[2] ?? 1];
    const bound = log.bound[i];
    if (bound && bound.length > 0) record.boundBufferBytes = bound.slice();
    const inputs = log.inputs[i];
    if (inputs) {
      record.inputDims = inputs.dims;
      record.inputTypes = inputs.types;
    }
    const cost = log.costs[i];
    if (cost !== undefined) record.cost = cost;
    const stack = log.stacks[i];
    if (stack !== undefined) record.stack = formatStack(stack, this.maxStackFrames);
    return record;
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
    // What was there before (an own property, rarely) or else the prototype's method at call time.
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
    const ownCreateEncoder = Object.getOwnPropertyDescriptor(device, 'createCommandEncoder')?.value as Method | undefined;
    define('createCommandEncoder', function (this: GPUDevice) {
      const encoder = (ownCreateEncoder ?? proto['createCommandEncoder']!).apply(this, arguments) as GPUCommandEncoder;
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
    // Own properties there before attach (rare) are captured now, so the hot path does no Map lookup.
    const ownSubmit = Object.getOwnPropertyDescriptor(queue, 'submit')?.value as Method | undefined;
    const ownWriteBuffer = Object.getOwnPropertyDescriptor(queue, 'writeBuffer')?.value as Method | undefined;
    override(
      queue,
      'submit',
      function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
        const submit = ownSubmit ?? proto['submit']!;
        if (self.unsubmitted.size === 0) return submit.apply(this, arguments);
        return self.submit(this, buffers, submit);
      },
      this.savedQueue,
    );
    override(
      queue,
      'writeBuffer',
      function (this: GPUQueue, _buffer: GPUBuffer, _offset: number, data: BufferSource, dataOffset?: number, size?: number) {
        const writeBuffer = ownWriteBuffer ?? proto['writeBuffer']!;
        if (!self.capturingNow) return writeBuffer.apply(this, arguments);
        const launchStartNs = self.clock();
        const result = writeBuffer.apply(this, arguments);
        const launchEndNs = self.clock();
        self.recordCopy('HtoD', sourceBytes(data, dataOffset, size), 'writeBuffer', launchStartNs, launchEndNs);
        return result;
      },
      this.savedQueue,
    );
  }

  private recordCopy(kind: CopyRecord['kind'], bytes: number, launch: string, launchStartNs: number, launchEndNs: number): CopyRecord {
    const id = this.nextId++;
    const record: CopyRecord = { externalId: id, correlation: id, kind, bytes, launch, launchStartNs, launchEndNs };
    this.copies.push(record);
    return record;
  }

  /**
   * Encodes an empty compute pass that writes one timestamp: at its end (`end: true`, the pass before
   * a copy) or at its beginning (the pass after). Timestamps are written only at pass boundaries (or
   * inside passes), never around a copy, so the copy is bracketed by two such passes in the same
   * command stream; both timestamp-query modes support timestampWrites.
   */
  private copyBracket(enc: EncoderState, slice: QuerySlice, index: number, end: boolean): void {
    const timestampWrites: GPUComputePassTimestampWrites = end
      ? { querySet: slice.set, endOfPassWriteIndex: index }
      : { querySet: slice.set, beginningOfPassWriteIndex: index };
    const pass = enc.native['beginComputePass']!.call(enc.encoder, { label: end ? COPY_BEFORE_LABEL : COPY_AFTER_LABEL, timestampWrites }) as GPUComputePassEncoder;
    (Object.getPrototypeOf(pass) as Proto)['end']!.call(pass);
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
    const native = Object.getPrototypeOf(encoder) as Proto;
    const enc = new EncoderState(this, encoder, native);
    encoderStates.set(encoder, enc);
    lastEncoder = enc;
    this.openEncoders.add(enc);
    Object.setPrototypeOf(encoder, encoderProtoFor(native));
  }

  /** Puts the native prototypes back on the encoder and its open pass (finish, detach). */
  private restoreEncoder(enc: EncoderState): void {
    if (enc.openPass) this.closePass(enc.openPass);
    if (Object.getPrototypeOf(enc.encoder) !== enc.native) Object.setPrototypeOf(enc.encoder, enc.native);
    encoderStates.delete(enc.encoder);
    if (lastEncoder === enc) lastEncoder = undefined;
  }

  private finishEncoder(enc: EncoderState, cb: GPUCommandBuffer): void {
    this.openEncoders.delete(enc);
    this.restoreEncoder(enc);
    if (enc.records.length > 0 || enc.slices.length > 0) {
      enc.cb = cb;
      this.commandBuffers.set(cb, enc);
      this.unsubmitted.add(enc);
    }
  }

  /** A begin/end query pair in the encoder's current slice (`enc.slice` afterwards); returns the begin index. */
  private allocPair(enc: EncoderState): number {
    const pool = this.querySets!;
    let slice = enc.slice;
    if (slice === undefined || slice.used + 2 > pool.queriesPerSet) {
      slice = { set: pool.acquire(), used: 0, offset: 0 };
      enc.slices.push(slice);
      enc.slice = slice;
    }
    const index = slice.used;
    slice.used += 2;
    return index;
  }

  // ---- passes ---------------------------------------------------------------------------------

  private beginPass(enc: EncoderState, desc: GPUComputePassDescriptor | undefined): GPUComputePassEncoder {
    const userTimestampWrites = desc != null && desc.timestampWrites != null;
    let mode: PassMode;
    if (this.mode === 'none') mode = 'untimed';
    else if (this.mode === 'inside-passes') mode = 'inside';
    else if (userTimestampWrites) mode = 'untimed';
    else mode = this.splitPasses ? 'split' : 'whole';

    let realDesc = desc;
    let slotSlice: QuerySlice | undefined;
    let slotIndex = 0;
    if (mode === 'split' || mode === 'whole') {
      slotIndex = this.allocPair(enc);
      slotSlice = enc.slice!;
      realDesc = withTimestampWrites(desc, { querySet: slotSlice.set, beginningOfPassWriteIndex: slotIndex, endOfPassWriteIndex: slotIndex + 1 });
    }
    const pass = enc.native['beginComputePass']!.call(enc.encoder, realDesc) as GPUComputePassEncoder;
    const native = Object.getPrototypeOf(pass) as Proto;
    if (mode === 'inside' && typeof native['writeTimestamp'] !== 'function') {
      // The feature is on the device but this runtime's pass has no writeTimestamp: fall back for good.
      this.mode = 'pass-boundaries';
      log.warnOnce('instrument.no-writeTimestamp', 'the device reports inside-pass timestamps but compute passes lack writeTimestamp(); using pass-boundary timestamps.');
      native['end']!.call(pass);
      return this.beginPass(enc, desc);
    }
    const Pass = passClassFor(native);
    const st = new Pass(this, enc, pass, mode, userTimestampWrites, desc?.label || undefined, slotSlice, slotIndex);
    enc.openPass = st;
    return st as unknown as GPUComputePassEncoder;
  }

  /** Stops recording a pass (end, its encoder's finish, detach): from then on its calls only forward. */
  private closePass(st: PassState): void {
    st.closed = true;
    if (st.enc.openPass === st) st.enc.openPass = undefined;
  }

  private endPass(st: PassState): void {
    if (st.mode === 'whole' && st.slotSlice !== undefined) {
      // One timestamp pair per pass: it times a dispatch only when the pass had exactly one.
      const only = st.firstDispatch;
      // (A record a flush already handed over stays untimed: it is never changed afterwards.)
      if (st.dispatches === 1 && this.log.holds(only)) {
        this.log.setTiming(only, st.slotSlice, st.slotIndex);
        st.enc.timed.push(only);
      } else if (st.dispatches > 1) this.stats.untimedBatched += st.dispatches;
    }
    this.closePass(st);
  }

  /** Ends the current real pass and begins the next one with fresh timestampWrites and the same state. */
  private splitPass(st: PassState): void {
    const native = st.native;
    const cur = st.current;
    const debugGroups = st.debugGroups ?? [];
    for (let i = 0; i < debugGroups.length; i++) native['popDebugGroup']!.call(cur);
    native['end']!.call(cur);
    const index = this.allocPair(st.enc);
    const slice = st.enc.slice!;
    const desc: GPUComputePassDescriptor = {
      timestampWrites: { querySet: slice.set, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 },
    };
    if (st.descLabel !== undefined) desc.label = st.descLabel;
    const next = st.enc.native['beginComputePass']!.call(st.enc.encoder, desc) as GPUComputePassEncoder;
    for (const label of debugGroups) native['pushDebugGroup']!.call(next, label);
    if (st.pipeline) native['setPipeline']!.call(next, st.pipeline);
    for (let i = 0; i < st.groups.length; i++) {
      const group = st.groups[i];
      if (!group) continue;
      const offsets = st.offsets?.[i];
      if (offsets) native['setBindGroup']!.call(next, i, group, offsets);
      else native['setBindGroup']!.call(next, i, group);
    }
    for (const [rangeOffset, bytes] of st.immediates ?? []) native['setImmediates']!.call(next, rangeOffset, bytes);
    st.current = next;
    st.slotSlice = slice;
    st.slotIndex = index;
    st.dispatchesInCurrent = 0;
    this.stats.passSplits++;
  }

  /** Before a launch: splits the pass if needed ('split'), writes the begin timestamp ('inside'); returns the op's start. */
  private beforeDispatch(st: PassState): number {
    const opStartNs = st.opStartNs === st.opStartNs ? st.opStartNs : st.lastDispatchEndNs;
    if (st.mode === 'split') {
      if (st.dispatchesInCurrent > 0) this.splitPass(st);
    } else if (st.mode === 'inside') {
      st.insideIndex = this.allocPair(st.enc);
      st.native['writeTimestamp']!.call(st.current, st.enc.slice!.set, st.insideIndex);
    }
    return opStartNs;
  }

  /** After a launch: the end timestamp ('inside') and the dispatch's record. */
  private afterDispatch(
    st: PassState,
    launch: string,
    opStartNs: number,
    launchStartNs: number,
    launchEndNs: number,
    x: number,
    y: number,
    z: number,
    stack: StackHolder | undefined,
  ): void {
    const enc = st.enc;
    let insideSlice: QuerySlice | undefined;
    if (st.mode === 'inside') {
      // The pair allocated by beforeDispatch: same slice (a launch allocates no queries).
      insideSlice = enc.slice!;
      st.native['writeTimestamp']!.call(st.current, insideSlice.set, st.insideIndex + 1);
    }
    st.dispatchesInCurrent++;
    st.opStartNs = NaN;
    st.lastDispatchEndNs = launchEndNs;

    const hint = this.pendingHint;
    this.pendingHint = undefined;
    if (x !== x) {
      const counts = this.hintWorkgroups(hint);
      x = counts?.[0] ?? 0;
      y = counts?.[1] ?? 0;
      z = counts?.[2] ?? 0;
    }
    if (!st.boundValid) {
      st.bound = this.boundBytes(st);
      st.boundValid = true;
    }
    let inputs: HintInputs | undefined;
    let cost: DispatchRecord['cost'];
    if (hint !== undefined) {
      // Shapes and cost now: the caller may mutate its shape object afterwards.
      if (this.recordShapes && hint.kernel.inputs) inputs = this.callHint(hint, 'inputs', hint.kernel.inputs);
      if (this.withFlops && hint.kernel.cost) cost = this.callHint(hint, 'cost', hint.kernel.cost);
    }
    const seq = this.log.push(
      this.nextId++,
      this.kernelName(st.pipeline, hint),
      launch,
      opStartNs === opStartNs ? opStartNs : launchStartNs,
      launchStartNs,
      launchEndNs,
      x,
      y,
      z,
      hint !== undefined ? hint.kernel.workgroupSize : this.parsedWorkgroupSize(st.pipeline),
      st.bound,
      stack,
      inputs,
      cost,
    );
    enc.records.push(seq);
    if (st.dispatches++ === 0) st.firstDispatch = seq;

    if (st.mode === 'split') {
      if (st.slotSlice !== undefined) {
        this.log.setTiming(seq, st.slotSlice, st.slotIndex);
        enc.timed.push(seq);
      }
    } else if (insideSlice !== undefined) {
      this.log.setTiming(seq, insideSlice, st.insideIndex);
      enc.timed.push(seq);
    } else if (st.mode === 'untimed' && st.userTimestampWrites && this.mode !== 'none') this.stats.untimedUserTimestampWrites++;
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

  /** A hint descriptor's function of the shape; undefined (and an error for flush) when it throws. */
  private callHint<T>(hint: DispatchHint, method: string, fn: (shape: unknown) => T): T | undefined {
    try {
      return fn.call(hint.kernel, hint.shape);
    } catch (error) {
      this.hintError(hint, method, error);
      return undefined;
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

  /**
   * Sizes of the buffers bound now, in group order. With one sized group (the usual case) that
   * group's own array is returned, shared and never mutated; flush copies it into the record.
   */
  private boundBytes(st: PassState): readonly number[] | undefined {
    let out: number[] | undefined;
    let shared = false;
    for (const group of st.groups) {
      if (!group) continue;
      const sizes = this.bindGroupBytes.get(group);
      if (!sizes || sizes.length === 0) continue;
      if (out === undefined) {
        out = sizes;
        shared = true;
      } else {
        if (shared) {
          out = out.slice();
          shared = false;
        }
        for (const bytes of sizes) out.push(bytes);
      }
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
    const one = states.length === 1 ? states[0] : undefined;
    const records = one ? one.records : states.flatMap((enc) => enc.records);
    const timed = one ? one.timed : states.flatMap((enc) => enc.timed);
    const copies = one ? one.copies : states.flatMap((enc) => enc.copies);

    // Layout: each used query slice at a 256-aligned offset, then the 8-byte submit marker.
    let bytes = 0;
    for (const enc of states) {
      for (const slice of enc.slices) {
        slice.offset = bytes;
        bytes += alignUp(slice.used * 8, RESOLVE_ALIGN);
      }
    }
    if (bytes === 0) {
      // Nothing to time (mode 'none', or only passes with their own timestampWrites): no readback.
      this.submits.push({ seq: 0n, cpuSubmitNs: this.clock(), records, timed, copies });
      return submitOriginal.call(queue, list) as undefined;
    }
    const markerOffset = bytes;
    bytes += RESOLVE_ALIGN;
    const pair = this.readbacks!.acquire(bytes);
    const seq = ++this.submitSeq;
    this.marker[0] = seq;
    this.queueProto['writeBuffer']!.call(queue, pair.resolve, markerOffset, this.marker);
    const encoder = this.deviceProto['createCommandEncoder']!.call(this.device, RESOLVE_ENCODER) as GPUCommandEncoder;
    for (const enc of states) for (const slice of enc.slices) encoder.resolveQuerySet(slice.set, 0, slice.used, pair.resolve, slice.offset);
    encoder.copyBufferToBuffer(pair.resolve, 0, pair.read, 0, bytes);
    const resolveCb = encoder.finish();

    const submit: SubmitState = { seq, cpuSubmitNs: this.clock(), records, timed, copies };
    submitOriginal.call(queue, [...list, resolveCb]);
    // The resolve for these sets is now queued ahead of any later use, so they can be reused at once.
    for (const enc of states) for (const slice of enc.slices) this.releaseQuerySet(slice.set);

    const done: Promise<void> = pair.read.mapAsync(0x0001 /* GPUMapMode.READ */, 0, bytes).then(
      () => {
        this.pending.delete(done);
        this.onMapped(submit, pair, markerOffset, bytes);
      },
      (error: unknown) => {
        this.pending.delete(done);
        this.errors.push(new WgprofError('READBACK_FAILED', `timestamp readback of submit ${seq} failed: ${errorMessage(error)}; its dispatches have no GPU interval.`, { cause: error }));
        this.releasePair(pair, true);
      },
    );
    this.pending.add(done);
    this.stats.submits++;
    this.submits.push(submit);
    return undefined;
  }

  /** Runs in the workload's time (a microtask between its steps): one copy, no per-dispatch work. */
  private onMapped(submit: SubmitState, pair: ReadbackPair, markerOffset: number, bytes: number): void {
    try {
      submit.cpuDoneNs = this.clock();
      const ticks = new BigUint64Array(pair.read.getMappedRange(0, bytes).slice(0));
      submit.ran = ticks[markerOffset / 8] === submit.seq;
      if (submit.ran) submit.ticks = ticks;
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

  /**
   * Fits the clock over this window's submits and writes GPU intervals into the dispatch records and
   * the bracketed copy records. A copy's pair is (end of the pass before it, begin of the pass after
   * it): the same command stream, so its ticks share the dispatches' clock and fit.
   */
  private applyClock(submits: readonly SubmitState[], records: readonly DispatchRecord[], stats: CaptureStats): ClockFit | undefined {
    const log = this.log;
    interface Timing {
      record: { gpuStartNs?: number; gpuEndNs?: number };
      begin: bigint;
      end: bigint;
      copy: boolean;
    }
    const samples: SubmitSample[] = [];
    const sampleTimings: Timing[][] = [];
    for (const submit of submits) {
      // Dispatches an earlier flush handed over (encoded before it, submitted after) stay untimed.
      const live = submit.timed.filter((seq) => log.holds(seq));
      const copies = submit.copies;
      if (live.length === 0 && copies.length === 0) continue;
      const ticks = submit.ticks;
      if (submit.ran !== true || submit.cpuDoneNs === undefined || ticks === undefined) {
        stats.failedSubmits += live.length;
        stats.untimedCopies += copies.length;
        continue;
      }
      const valid: Timing[] = [];
      for (const seq of live) {
        const i = seq - log.base;
        const at = log.slices[i]!.offset / 8 + log.queryIndex[i]!;
        const begin = ticks[at];
        const end = ticks[at + 1];
        if (begin === undefined || end === undefined || begin === 0n || end < begin) stats.invalidTicks++;
        else valid.push({ record: records[i]!, begin, end, copy: false });
      }
      for (const c of copies) {
        const at = c.slice.offset / 8 + c.index;
        const begin = ticks[at];
        const end = ticks[at + 1];
        if (begin === undefined || end === undefined || begin === 0n || end < begin) stats.untimedCopies++;
        else valid.push({ record: c.record, begin, end, copy: true });
      }
      if (valid.length === 0) continue;
      for (const t of valid) {
        if (this.tickSamples.length < MAX_TICK_SAMPLES) this.tickSamples.push(t.begin, t.end);
        this.tickBase ??= t.begin;
      }
      const base = this.tickBase!;
      let first = Infinity;
      let last = -Infinity;
      for (const t of valid) {
        first = Math.min(first, Number(t.begin - base));
        last = Math.max(last, Number(t.end - base));
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
        // Equal ticks: shorter than the timestamp resolution; the data supports no duration.
        if (t.begin === t.end) {
          if (t.copy) stats.untimedCopies++;
          else stats.zeroWidth++;
          continue;
        }
        const mapped = alignment ? mapInterval(alignment, i, sample, Number(t.begin - base), Number(t.end - base)) : undefined;
        if (!mapped) {
          if (t.copy) stats.untimedCopies++;
          else stats.unbracketed++;
          continue;
        }
        t.record.gpuStartNs = mapped.startNs;
        t.record.gpuEndNs = mapped.endNs;
        if (t.copy) stats.timedCopies++;
        else stats.timedDispatches++;
      }
    });
    return alignment?.fit;
  }
}

/**
 * The user's pass descriptor plus our timestampWrites. Object spread costs ~0.5 µs per pass; the
 * descriptor WebGPU defines has only `label` (and `timestampWrites`), so that case is a literal, and
 * anything else is copied whole.
 */
function withTimestampWrites(desc: GPUComputePassDescriptor | undefined, timestampWrites: GPUComputePassTimestampWrites): GPUComputePassDescriptor {
  if (desc == null) return { timestampWrites };
  for (const key in desc) if (key !== 'label' && key !== 'timestampWrites') return { ...desc, timestampWrites };
  return desc.label === undefined ? { timestampWrites } : { label: desc.label, timestampWrites };
}

/** Defines methods as non-enumerable properties (like WebIDL operations). */
function defineMethods(target: object, methods: Record<string, Method>): void {
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(target, name, { value: fn, configurable: true, writable: true, enumerable: false });
  }
}

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


// ---- instrumented prototypes (shared by every Instrumentation) ----------------------------------
// One instrumented encoder prototype and one pass class per native prototype for the whole module,
// not per Instrumentation: captured objects of every instance then share one hidden class, so the
// workload's call sites (and ours) stay monomorphic (with a class per instance, five instances in one
// process doubled the per-dispatch cost). Per-object state says which instance records; this code
// reaches that instance's private members by element access (`inst['clock']`), which TypeScript
// allows for exactly this kind of module-internal friend.

/** The state of every instrumented, unfinished encoder (of any instance). */
const encoderStates = new WeakMap<GPUCommandEncoder, EncoderState>();
/** The encoder looked up last (passes are encoded one after another on one encoder). */
let lastEncoder: EncoderState | undefined;
const encoderProtos = new WeakMap<object, object>();
const passClasses = new WeakMap<object, PassClass>();

function encoderOf(encoder: GPUCommandEncoder): EncoderState | undefined {
  const last = lastEncoder;
  if (last !== undefined && last.encoder === encoder) return last;
  const enc = encoderStates.get(encoder);
  if (enc !== undefined) lastEncoder = enc;
  return enc;
}

function encoderProtoFor(native: Proto): object {
  let proto = encoderProtos.get(native);
  if (!proto) {
    proto = buildEncoderProto(native);
    encoderProtos.set(native, proto);
  }
  return proto;
}

function passClassFor(native: Proto): PassClass {
  let Pass = passClasses.get(native);
  if (!Pass) {
    Pass = buildPassClass(native);
    passClasses.set(native, Pass);
  }
  return Pass;
}

/** `Object.create(native)` plus beginComputePass, copyBufferToBuffer and finish. */
function buildEncoderProto(native: Proto): object {
  const proto = Object.create(native) as object;
  defineMethods(proto, {
    beginComputePass: function beginComputePass(this: GPUCommandEncoder, desc?: GPUComputePassDescriptor) {
      const enc = encoderOf(this);
      if (enc === undefined || !enc.inst['capturingNow']) return native['beginComputePass']!.apply(this, arguments);
      return enc.inst['beginPass'](enc, desc);
    },
    copyBufferToBuffer: function copyBufferToBuffer(this: GPUCommandEncoder) {
      const enc = encoderOf(this);
      if (enc === undefined || !enc.inst['capturingNow']) return native['copyBufferToBuffer']!.apply(this, arguments);
      const inst = enc.inst;
      // Bracket with timestamps unless a pass is open (then the copy is the caller's validation error,
      // and passes of ours would only add errors).
      const bracket = inst['mode'] !== 'none' && enc.openPass === undefined;
      let index = 0;
      let slice: QuerySlice | undefined;
      if (bracket) {
        index = inst['allocPair'](enc);
        slice = enc.slice!;
        inst['copyBracket'](enc, slice, index, true);
      }
      const launchStartNs = inst['clock']();
      const result = native['copyBufferToBuffer']!.apply(this, arguments);
      const launchEndNs = inst['clock']();
      if (slice !== undefined) inst['copyBracket'](enc, slice, index + 1, false);
      // (src, dst, size?) or (src, srcOffset, dst, dstOffset, size?)
      const long = typeof arguments[1] === 'number';
      const src = arguments[0] as GPUBuffer;
      const dst = (long ? arguments[2] : arguments[1]) as GPUBuffer;
      const srcOffset = long ? (arguments[1] as number) : 0;
      const size = (long ? arguments[4] : arguments[2]) as number | undefined;
      const bytes = size ?? src.size - srcOffset;
      const record = inst['recordCopy'](dst.usage & MAP_READ ? 'DtoH' : 'DtoD', bytes, 'copyBufferToBuffer', launchStartNs, launchEndNs);
      if (slice !== undefined) enc.copies.push({ record, slice, index });
      return result;
    },
    finish: function finish(this: GPUCommandEncoder) {
      const cb = native['finish']!.apply(this, arguments) as GPUCommandBuffer;
      const enc = encoderOf(this);
      if (enc !== undefined) enc.inst['finishEncoder'](enc, cb);
      return cb;
    },
  });
  return proto;
}

/**
 * The class of the objects handed out for captured passes (see PassState). Its prototype's
 * prototype is the native one; it defines our wrappers for the methods we track and a forwarder for
 * every other method and accessor of the native prototype chain, so that after a split every call
 * reaches the real pass that receives commands now. Only what the native pass has is defined
 * (feature tests on the pass still see what the runtime offers).
 */
function buildPassClass(native: Proto): PassClass {
  // The wrappers capture stacks omitting themselves: V8 then walks no frame of ours.
  let dispatchFn: Method;
  let dispatchIndirectFn: Method;
  class InstrumentedPass implements PassState {
    readonly native: Proto = native;
    current: GPUComputePassEncoder;
    closed = false;
    insideIndex = 0;
    dispatchesInCurrent = 0;
    dispatches = 0;
    firstDispatch = -1;
    pipeline: GPUComputePipeline | undefined = undefined;
    readonly groups: (GPUBindGroup | undefined)[] = [];
    offsets: (number[] | undefined)[] | undefined = undefined;
    bound: readonly number[] | undefined = undefined;
    boundValid = false;
    debugGroups: string[] | undefined = undefined;
    immediates: [number, Uint8Array][] | undefined = undefined;
    opStartNs = NaN;
    lastDispatchEndNs = NaN;

    constructor(
      readonly inst: Instrumentation,
      readonly enc: EncoderState,
      pass: GPUComputePassEncoder,
      readonly mode: PassMode,
      readonly userTimestampWrites: boolean,
      readonly descLabel: string | undefined,
      public slotSlice: QuerySlice | undefined,
      public slotIndex: number,
    ) {
      this.current = pass;
    }

    setPipeline(pipeline: GPUComputePipeline): unknown {
      if (!this.closed) {
        if (this.opStartNs !== this.opStartNs && this.inst['capturingNow']) this.opStartNs = this.inst['clock']();
        this.pipeline = pipeline;
      }
      return native['setPipeline']!.apply(this.current, arguments);
    }

    setBindGroup(index: number, group: GPUBindGroup | null | undefined, offsets?: Iterable<number> | Uint32Array, start?: number, length?: number): unknown {
      if (!this.closed) {
        if (this.opStartNs !== this.opStartNs && this.inst['capturingNow']) this.opStartNs = this.inst['clock']();
        this.groups[index] = group ?? undefined;
        this.boundValid = false;
        // Dynamic offsets are re-applied after a split: keep a copy (the caller may reuse its array).
        if (this.mode === 'split' && (offsets !== undefined || this.offsets?.[index] !== undefined)) {
          (this.offsets ??= [])[index] =
            group && offsets !== undefined
              ? offsets instanceof Uint32Array && start !== undefined
                ? [...offsets.subarray(start, start + (length ?? 0))]
                : [...offsets]
              : undefined;
        }
      }
      return native['setBindGroup']!.apply(this.current, arguments);
    }

    setImmediates(rangeOffset: number, data: BufferSource, dataOffset?: number, size?: number): unknown {
      if (!this.closed) {
        if (this.opStartNs !== this.opStartNs && this.inst['capturingNow']) this.opStartNs = this.inst['clock']();
        if (this.mode === 'split') (this.immediates ??= []).push([rangeOffset, sourceCopy(data, dataOffset, size)]);
      }
      return native['setImmediates']!.apply(this.current, arguments);
    }

    pushDebugGroup(label: string): unknown {
      if (!this.closed) (this.debugGroups ??= []).push(label);
      return native['pushDebugGroup']!.apply(this.current, arguments);
    }

    popDebugGroup(): unknown {
      if (!this.closed) this.debugGroups?.pop();
      return native['popDebugGroup']!.apply(this.current, arguments);
    }

    dispatchWorkgroups(x: number, y?: number, z?: number): unknown {
      if (this.closed) return native['dispatchWorkgroups']!.apply(this.current, arguments);
      const opStartNs = this.inst['beforeDispatch'](this);
      const launchStartNs = this.inst['clock']();
      const result = native['dispatchWorkgroups']!.apply(this.current, arguments) as unknown;
      const launchEndNs = this.inst['clock']();
      // Captured here, after the launch (not part of the op's span) and in this very frame: each
      // frame of ours V8 walks past costs a few hundred ns. Formatted by flush().
      let stack: StackHolder | undefined;
      if (this.inst['withStack']) {
        if (captureStackTrace !== undefined) {
          stack = {};
          const limit = V8Error.stackTraceLimit;
          V8Error.stackTraceLimit = this.inst['stackLimit'];
          try {
            captureStackTrace(stack, dispatchFn);
          } finally {
            V8Error.stackTraceLimit = limit;
          }
        } else stack = new Error();
      }
      this.inst['afterDispatch'](this, 'dispatchWorkgroups', opStartNs, launchStartNs, launchEndNs, x, y ?? 1, z ?? 1, stack);
      return result;
    }

    dispatchWorkgroupsIndirect(): unknown {
      if (this.closed) return native['dispatchWorkgroupsIndirect']!.apply(this.current, arguments);
      const opStartNs = this.inst['beforeDispatch'](this);
      const launchStartNs = this.inst['clock']();
      const result = native['dispatchWorkgroupsIndirect']!.apply(this.current, arguments) as unknown;
      const launchEndNs = this.inst['clock']();
      let stack: StackHolder | undefined;
      if (this.inst['withStack']) {
        if (captureStackTrace !== undefined) {
          stack = {};
          const limit = V8Error.stackTraceLimit;
          V8Error.stackTraceLimit = this.inst['stackLimit'];
          try {
            captureStackTrace(stack, dispatchIndirectFn);
          } finally {
            V8Error.stackTraceLimit = limit;
          }
        } else stack = new Error();
      }
      // Indirect: the counts live in a GPU buffer; NaN asks afterDispatch for the hint's.
      this.inst['afterDispatch'](this, 'dispatchWorkgroupsIndirect', opStartNs, launchStartNs, launchEndNs, NaN, NaN, NaN, stack);
      return result;
    }

    end(): unknown {
      const result = native['end']!.apply(this.current, arguments) as unknown;
      if (!this.closed) this.inst['endPass'](this);
      return result;
    }
  }
  const proto = InstrumentedPass.prototype as unknown as Record<string, unknown>;
  dispatchFn = proto['dispatchWorkgroups'] as Method;
  dispatchIndirectFn = proto['dispatchWorkgroupsIndirect'] as Method;
  for (const name of PASS_CORE_METHODS) {
    if (typeof native[name] !== 'function') delete proto[name];
  }
  Object.setPrototypeOf(proto, native);
  // `pass.constructor` names the runtime's class, as on the real pass.
  Object.defineProperty(proto, 'constructor', { value: native['constructor'], configurable: true, writable: true, enumerable: false });
  for (let p: object | null = native; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor' || Object.prototype.hasOwnProperty.call(proto, name)) continue;
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (!d) continue;
      if (typeof d.value === 'function') {
        Object.defineProperty(proto, name, {
          value: function (this: InstrumentedPass) {
            return native[name]!.apply(this.current, arguments);
          },
          configurable: true,
          writable: true,
          enumerable: false,
        });
      } else if (d.get || d.set) {
        // Accessors (label) read and write the real pass; the native getter would reject our object.
        const forwarded: PropertyDescriptor = { configurable: true, enumerable: d.enumerable ?? false };
        const { get, set } = d;
        if (get) forwarded.get = function (this: InstrumentedPass) {
          return get.call(this.current);
        };
        if (set) forwarded.set = function (this: InstrumentedPass, value: unknown) {
          set.call(this.current, value);
        };
        Object.defineProperty(proto, name, forwarded);
      }
    }
  }
  return InstrumentedPass;
}
