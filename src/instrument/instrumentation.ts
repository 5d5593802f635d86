/**
 * GPU instrumentation of ONE GPUDevice: per-dispatch records (kernel name, workgroups, bound buffers,
 * shapes/cost from hints, JS stack, CPU op and launch spans, GPU interval), copies and memory, captured
 * inside a window (`setCapturing(true)` … `setCapturing(false)`) and collected once the window's GPU
 * work has been read back (`endWindow().collect()`, or `flush()` for everything not collected yet).
 *
 * This class is a small facade over rooms with one job each:
 * - ./patch.ts      own-property patching of the device and queue (nothing on shared prototypes;
 *                   detach() restores exactly what was there; a second attach to a device is refused)
 * - ./objects.ts    shader modules, pipelines and bind groups: kernel names, workgroup sizes, bound bytes
 * - ./ledger.ts     buffer / query set / texture allocations (with_memory)
 * - ./encoders.ts   instrumented encoders (prototype swap while capturing) and timed copies
 * - ./passes.ts     captured passes: inside-pass timestamps, or timestampWrites with pass splitting
 * - ./core.ts       the hot path those two call: dispatch entries, hints, ids
 * - ./readback.ts   per-submit resolve + marker + async map of the timestamps
 * - ./timing.ts     ticks → CPU-clock intervals (./clock.ts fits the clock), timestamp notes
 * - ./window.ts     one window's records until they are collected
 *
 * Costs (test/bench/profiler.ts and test/bench/instrument.ts on dawn.node's null backend print them)
 * - Outside the window: createCommandEncoder and writeBuffer do one flag check, submit one lookup, then
 *   forward; nothing is allocated, no timestamp is injected. Object creation (shader modules,
 *   pipelines, bind groups, and with withMemory buffers/query sets/textures) always records a little
 *   metadata, so objects created before the window are still named and memory totals stay right.
 * - Inside the window, per pass: one small object; per dispatch: three clock reads and one entry in a
 *   columnar log, and with `withStack` one unformatted V8 stack capture (formatted at collection).
 *   'pass-boundaries' mode gives every pass timestampWrites and splits passes with several dispatches
 *   (one extra compute pass per extra dispatch). Per submit: one marker write, one small resolve +
 *   copy command buffer, one map.
 *
 * Limits
 * - Only work encoded on encoders created while capturing is recorded. A dispatch hint (noteDispatch)
 *   applies to the next dispatch the instrumentation sees: note hints only for work encoded inside the window.
 * - A method the caller defines as an OWN property of an encoder shadows the instrumented prototype
 *   (onnxruntime-web patches prototypes, which we honour). A captured pass is not the runtime's own
 *   object; its forwarders are built from the methods the pass prototype has at the first captured pass.
 * - Buffers, query sets and textures created before attach are unknown (give `memoryBaselineBytes`).
 * - queue.writeBuffer (HtoD) gets no GPU interval: it runs before the submit's command buffers, outside
 *   any command stream a timestamp could be written in.
 * - dispatchWorkgroupsIndirect: workgroup counts come from the hint's kernel descriptor when given, else [0, 0, 0].
 * - A kernel whose begin and end ticks are equal (a quantized clock) gets no GPU interval.
 * - Stacks are formatted at collection, with the Error.prepareStackTrace in force then; until then each
 *   keeps its frames' functions and receivers alive.
 */

import type { MemoryRecord, TimestampMode } from '../capture/model.js';
import { timestampModeOf } from '../gpu/device.js';
import { WgprofError } from '../util/errors.js';
import { log } from '../util/log.js';
import { ClockPings } from './calibration.js';
import { CaptureCore } from './core.js';
import type { EncoderState } from './encoders.js';
import { setHintReceiver } from './hints.js';
import { MemoryLedger } from './ledger.js';
import { DeviceObjects } from './objects.js';
import { OwnPatch, type Method } from './patch.js';
import { sourceBytes } from './passes.js';
import { QuerySetPool, ReadbackPool } from './queries.js';
import { Readback } from './readback.js';
import { TickHistory, timeWindow, timestampInfo } from './timing.js';
import { CaptureWindow, emptyCaptureStats, type Captured, type CaptureStats } from './window.js';

export { bindGroupBufferBytes } from './objects.js';
export { emptyCaptureStats } from './window.js';
export type { Captured, CaptureStats, SubmitRecord } from './window.js';

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
  /**
   * Clock calibration pings sent at each window edge (default 8; 0: none): tiny timestamped submits
   * that tighten the GPU→CPU clock fit (see ./calibration.ts).
   */
  clockPings?: number;
}

/** A closed capture window, to be collected once its GPU work has been read back. */
export interface WindowHandle {
  /** Awaits the window's readbacks and returns exactly its records, GPU times mapped onto the CPU clock. */
  collect(): Promise<Captured>;
}

/** Devices with an attached instrumentation (one per device). */
const attachedDevices = new WeakMap<GPUDevice, Instrumentation>();

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
  const pings = options.clockPings;
  if (pings !== undefined && !(Number.isInteger(pings) && pings >= 0 && pings <= 64)) {
    throw new WgprofError('INVALID_OPTION', `Instrumentation option "clockPings" must be an integer from 0 to 64; got ${String(pings)}.`);
  }
}

/**
 * What a captured event costs on the heap until its window is collected, bytes (measured by
 * `npm run bench -- instrument`, which prints the heap per captured dispatch and this estimate's ratio to it): a dispatch's entry in
 * the columnar log and its share of encoder and submit bookkeeping; its unformatted JS stack (V8 keeps
 * the frames' call sites); its shapes and cost; a copy or memory record.
 */
export const HEAP_BYTES = { dispatch: 180, stack: 600, shapes: 170, cost: 50, copy: 150, memory: 120 } as const;

/** Clock calibration pings per window edge by default. */
const DEFAULT_CLOCK_PINGS = 8;

const INSIDE_PASSES = 'chromium-experimental-timestamp-query-inside-passes';

/** Why a device has no GPU times, in words (written into the trace and warned once). */
function noTimestampsNote(device: GPUDevice): string {
  return (
    `TIMESTAMP_QUERY_UNSUPPORTED: device "${device.label}" lacks "timestamp-query"; GPU kernel events are omitted. ` +
    'Request the feature when creating the device (requestGpuDevice() does whenever the adapter offers it); ' +
    'headless Chromium without a GPU needs --enable-unsafe-webgpu.'
  );
}

/**
 * Whether timestamp query sets and writeTimestamp inside a compute pass validate on this device (a
 * device created with only chromium-experimental-timestamp-query-inside-passes, as onnxruntime-web's
 * JSEP asks for). Nothing is submitted; the objects are destroyed.
 */
async function probeInsidePasses(device: GPUDevice, deviceProto: Record<string, Method>): Promise<boolean> {
  if (typeof device.pushErrorScope !== 'function' || typeof device.popErrorScope !== 'function') return false;
  device.pushErrorScope('validation');
  let set: GPUQuerySet | undefined;
  try {
    set = deviceProto['createQuerySet']!.call(device, { label: 'wgprof.probe', type: 'timestamp', count: 2 }) as GPUQuerySet;
    const encoder = deviceProto['createCommandEncoder']!.call(device, { label: 'wgprof.probe' }) as GPUCommandEncoder;
    const pass = encoder.beginComputePass({ label: 'wgprof.probe' });
    if (typeof (pass as unknown as { writeTimestamp?: unknown }).writeTimestamp !== 'function') {
      pass.end();
      return false;
    }
    (pass as unknown as { writeTimestamp(set: GPUQuerySet, index: number): void }).writeTimestamp(set, 0);
    pass.end();
    encoder.finish();
  } catch {
    await device.popErrorScope().catch(() => null);
    set?.destroy();
    return false;
  }
  const error = await device.popErrorScope().catch(() => null);
  set?.destroy();
  return error === null;
}

export class Instrumentation {
  readonly options: Readonly<InstrumentationOptions>;
  private readonly core: CaptureCore;
  private readonly objects = new DeviceObjects();
  private readonly ledger: MemoryLedger;
  private readonly ticks = new TickHistory();
  private modeNote: string | undefined;
  /** Why the mode in force was chosen (TimestampInfo.reason). */
  private modeReason: string | undefined;
  /** A probe of what the device supports, when its features alone cannot tell (see chooseMode). */
  private probe: Promise<void> | undefined;
  private device: GPUDevice | undefined;
  private devicePatch: OwnPatch<GPUDevice> | undefined;
  private queuePatch: OwnPatch<GPUQueue> | undefined;
  private readback: Readback | undefined;
  private readbacks: ReadbackPool | undefined;
  private pings: ClockPings | undefined;
  private detached = false;
  /** Windows not collected yet, oldest first (the last may be open). */
  private windows: CaptureWindow[] = [];

  constructor(options: InstrumentationOptions = {}) {
    validateOptions(options);
    this.options = Object.freeze({ ...options });
    const clock = options.clock ?? (() => performance.now() * 1e6);
    this.core = new CaptureCore(
      {
        clock,
        withStack: options.withStack === true,
        recordShapes: options.recordShapes === true,
        withFlops: options.withFlops === true,
        splitPasses: options.splitPasses !== false,
        maxStackFrames: options.maxStackFrames ?? 32,
      },
      this.objects,
    );
    this.ledger = new MemoryLedger(options.memoryBaselineBytes ?? 0, clock, () => this.core.capturing);
  }

  /** The timing mode in force ('none' before attach). */
  get timestampMode(): TimestampMode {
    return this.core.mode;
  }

  get capturing(): boolean {
    return this.core.capturing;
  }

  get attachedDevice(): GPUDevice | undefined {
    return this.device;
  }

  /** Query sets this instance has created (tests: none outside the capture window). */
  get querySetsCreated(): number {
    return this.core.querySets?.created ?? 0;
  }

  /**
   * An estimate of the heap the open window holds until it is collected, bytes (HEAP_BYTES per
   * captured dispatch, copy and memory record): what the profiler's memory budget is checked against.
   */
  get capturedBytes(): number {
    const window = this.core.capturing ? this.core.window : undefined;
    if (!window) return 0;
    const o = this.options;
    const perDispatch =
      HEAP_BYTES.dispatch + (o.withStack ? HEAP_BYTES.stack : 0) + (o.recordShapes ? HEAP_BYTES.shapes : 0) + (o.withFlops ? HEAP_BYTES.cost : 0);
    return window.log.length * perDispatch + window.copies.length * HEAP_BYTES.copy + this.ledger.pendingRecords * HEAP_BYTES.memory;
  }

  /** CPU time the timestamp readback has taken so far (per-submit resolve and map, mapped callbacks), ns. */
  get readbackCpuNs(): number {
    return this.readback?.cpuNs ?? 0;
  }

  /**
   * Resolves once the timing mode is settled: at once for most devices; after a short validation probe
   * for a device whose features leave it open (only inside-pass timestamps granted, as onnxruntime-web
   * JSEP requests). Dispatches captured before then have no GPU times.
   */
  async ready(): Promise<void> {
    await this.probe;
  }

  /** GPU bytes allocated now (tracked objects plus the baseline). */
  get allocatedBytes(): number {
    return this.ledger.allocatedBytes;
  }

  /** Ends a step for memory accounting: the peak of allocated bytes since the previous call (or attach). */
  markStep(): number {
    return this.ledger.markStep();
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
    if (attachedDevices.get(device)) {
      throw new WgprofError(
        'ALREADY_ATTACHED',
        `device "${device.label}" already has an attached Instrumentation; detach() it first (one instrumentation per device).`,
      );
    }
    attachedDevices.set(device, this);
    this.device = device;
    const deviceProto = Object.getPrototypeOf(device) as Record<string, Method>;
    this.chooseMode(device, deviceProto);
    const queueProto = Object.getPrototypeOf(device.queue) as Record<string, Method>;
    // The pools create through the prototypes: our own objects never show up in the memory records.
    const factory = {
      createQuerySet: (d: GPUQuerySetDescriptor) => deviceProto['createQuerySet']!.call(device, d) as GPUQuerySet,
      createBuffer: (d: GPUBufferDescriptor) => deviceProto['createBuffer']!.call(device, d) as GPUBuffer,
    };
    const querySets = new QuerySetPool(factory);
    this.core.querySets = querySets;
    this.readbacks = new ReadbackPool(factory);
    this.readback = new Readback(device, deviceProto, queueProto, querySets, this.readbacks, this.core.clock);
    this.pings = new ClockPings(device, deviceProto, queueProto, querySets, this.readbacks, this.core.clock);
    this.installDevice(device);
    this.installQueue(device.queue);
  }

  /** Starts (true) or stops (false) the capture window. Work already encoded keeps its timing. */
  setCapturing(on: boolean): void {
    if (on && !this.device) {
      throw new WgprofError('NOT_ATTACHED', 'setCapturing(true) needs an attached device: call attach(device) first.');
    }
    const core = this.core;
    if (on === core.capturing) return;
    core.capturing = on;
    if (this.device) setHintReceiver(this.device, on ? core.receiveHint : undefined);
    if (on) {
      const window = new CaptureWindow();
      core.window = window;
      this.windows.push(window);
      this.ping(window);
    } else {
      core.clearHint();
      const window = core.window;
      if (window) {
        window.closed = true;
        window.memory = this.ledger.takeRecords();
        this.ping(window);
      }
    }
  }

  /**
   * Closes the capture window (as setCapturing(false)) and returns it, to be collected later: its
   * records stay apart from any window opened after it. Undefined when no window was open.
   */
  endWindow(): WindowHandle | undefined {
    const window = this.core.capturing ? this.core.window : undefined;
    this.setCapturing(false);
    if (!window) return undefined;
    return {
      collect: async () => {
        const captured = await this.collect(window, true);
        return captured!;
      },
    };
  }

  /**
   * Awaits every pending readback and returns what was captured and not collected yet (every window,
   * merged). Call setCapturing(false) first for complete data: work still being encoded when flush runs
   * comes without GPU intervals, and capture goes on in a fresh window.
   */
  async flush(): Promise<Captured> {
    const open = this.core.capturing ? this.core.window : undefined;
    if (open) this.roll(open);
    const windows = this.windows.filter((w) => w !== this.core.window || !this.core.capturing);
    const parts: Captured[] = [];
    for (const window of windows) {
      const part = await this.collect(window, false);
      if (part) parts.push(part);
    }
    return this.merge(parts);
  }

  /** Restores the device; idempotent. Windows captured so far stay available to collect()/flush(). */
  detach(): void {
    const device = this.device;
    if (!device) return;
    this.setCapturing(false);
    this.devicePatch?.restore();
    this.queuePatch?.restore();
    for (const enc of this.core.openEncoders) this.core.restoreEncoder(enc);
    this.core.openEncoders.clear();
    this.ledger.detach();
    this.core.querySets?.destroyIdle();
    this.readbacks?.destroyIdle();
    if (this.readback) this.readback.detached = true;
    if (this.pings) this.pings.detached = true;
    attachedDevices.delete(device);
    this.device = undefined;
    this.detached = true;
  }

  /** Clock calibration pings at a window edge, when there are GPU timestamps to fit. */
  private ping(window: CaptureWindow): void {
    if (this.core.mode === 'none' || !this.pings) return;
    this.pings.send(window, this.options.clockPings ?? DEFAULT_CLOCK_PINGS, this.core.mode === 'inside-passes');
  }

  /** A flush while capturing: the open window is closed where it stands and capture goes on in a new one. */
  private roll(open: CaptureWindow): void {
    const next = new CaptureWindow();
    open.closed = true;
    open.memory = this.ledger.takeRecords();
    // Open encoders record into the new window from now on; what they recorded so far goes without GPU times.
    for (const enc of this.core.openEncoders) {
      if (enc.window !== open) continue;
      open.stats.unsubmitted += enc.timed.length;
      open.stats.untimedCopies += enc.copies.length;
      open.unsubmitted.delete(enc);
      enc.window = next;
      enc.records = [];
      enc.timed = [];
      enc.copies = [];
      next.unsubmitted.add(enc);
    }
    this.core.window = next;
    this.windows.push(next);
  }

  /** The window's records once its readbacks are done; a window already collected throws (`strict`) or gives undefined. */
  private async collect(window: CaptureWindow, strict: boolean): Promise<Captured | undefined> {
    while (window.pending.size > 0) await Promise.all([...window.pending]);
    if (window.collected) {
      if (strict)
        throw new WgprofError(
          'WINDOW_COLLECTED',
          'this capture window was already collected (by flush() or an earlier collect()); each window is collected once.',
        );
      return undefined;
    }
    window.collected = true;
    this.windows = this.windows.filter((w) => w !== window);
    const stats = window.stats;
    // Whatever was encoded but not submitted yet cannot be timed.
    for (const work of window.unsubmitted) {
      stats.unsubmitted += work.timed.length;
      stats.untimedCopies += work.copies.length;
      this.core.forgetCommandBuffer(work as EncoderState);
    }
    window.unsubmitted.clear();
    if (!window.closed) {
      window.closed = true;
      window.memory = this.ledger.takeRecords();
    }
    const log = window.log;
    const dispatches = [];
    for (let i = 0; i < log.length; i++) dispatches.push(log.record(i, this.core.maxStackFrames));
    const clock = timeWindow(window, dispatches, this.ticks);
    const captured: Captured = {
      dispatches,
      copies: window.copies,
      memory: window.memory,
      timestamps: timestampInfo(this.core.mode, this.modeNote, this.modeReason, stats, this.ticks),
      stats,
      submits: window.parts.map(({ submit, records }) => {
        const out: Captured['submits'][number] = { cpuSubmitNs: submit.cpuSubmitNs, correlations: records.map((i) => log.id(i)) };
        if (submit.cpuDoneNs !== undefined) out.cpuDoneNs = submit.cpuDoneNs;
        return out;
      }),
      errors: window.errors,
    };
    if (clock) captured.clock = clock;
    return captured;
  }

  /** Several windows' records as one Captured (flush()). The clock fit is the last window's that had one. */
  private merge(parts: Captured[]): Captured {
    if (parts.length === 1) return parts[0]!;
    const stats = emptyCaptureStats();
    const merged: Captured = {
      dispatches: [],
      copies: [],
      memory: [] as MemoryRecord[],
      timestamps: { mode: 'none', quantized: null },
      stats,
      submits: [],
      errors: [],
    };
    for (const part of parts) {
      merged.dispatches.push(...part.dispatches);
      merged.copies.push(...part.copies);
      merged.memory.push(...part.memory);
      merged.submits.push(...part.submits);
      merged.errors.push(...part.errors);
      addStats(stats, part.stats);
      if (part.clock) merged.clock = part.clock;
    }
    merged.timestamps = timestampInfo(this.core.mode, this.modeNote, this.modeReason, stats, this.ticks);
    return merged;
  }

  /**
   * The timing mode from what the device supports. `timestamp-query`: pass-boundary timestamps, or
   * writeTimestamp inside passes when the device also has the inside-passes feature. Only the
   * inside-passes feature (no `timestamp-query`): its timestamp query sets are probed, and while the
   * probe runs nothing is injected (an invalid timestamp would fail the workload's command buffer).
   * Neither: no GPU times. The mode and why go into the trace (TimestampInfo.mode / reason).
   */
  private chooseMode(device: GPUDevice, deviceProto: Record<string, Method>): void {
    const core = this.core;
    if (this.options.timestamps === false) {
      core.mode = 'none';
      this.modeReason = this.modeNote = 'GPU timestamps were turned off (timestamps: false); GPU kernel events are omitted.';
      return;
    }
    const features = device.features;
    if (features.has('timestamp-query')) {
      core.mode = timestampModeOf(features);
      this.modeReason =
        core.mode === 'inside-passes'
          ? `the device has "timestamp-query" and "${INSIDE_PASSES}": each dispatch is timed with writeTimestamp inside its pass; passes are left whole.`
          : `the device has "timestamp-query" but not "${INSIDE_PASSES}": each pass gets timestampWrites, and a pass with several dispatches is split ` +
            `into one pass per dispatch.`;
      return;
    }
    core.mode = 'none';
    if (!features.has(INSIDE_PASSES)) {
      this.modeReason = this.modeNote = noTimestampsNote(device);
      log.warnOnce('instrument.no-timestamp-query', this.modeNote);
      return;
    }
    this.modeReason = `the device has only "${INSIDE_PASSES}" (no "timestamp-query"); probing whether its timestamp query sets work.`;
    this.probe = probeInsidePasses(device, deviceProto).then((works) => {
      if (this.device !== device) return;
      if (works) {
        core.mode = 'inside-passes';
        this.modeReason =
          `the device was created with only "${INSIDE_PASSES}" (as onnxruntime-web JSEP requests), not "timestamp-query"; ` +
          'a probe found its timestamp query sets valid, so each dispatch is timed with writeTimestamp inside its pass.';
        this.modeNote = undefined;
      } else {
        this.modeReason = this.modeNote = noTimestampsNote(device) + ` It has "${INSIDE_PASSES}", but a probe found timestamp query sets invalid on it.`;
      }
      log.warnOnce(`instrument.mode.${device.label}`, `device "${device.label}": GPU timing mode ${core.mode}: ${this.modeReason}`);
    });
  }

  private installDevice(device: GPUDevice): void {
    const patch = (this.devicePatch = new OwnPatch(device));
    this.objects.install(patch);
    const core = this.core;
    patch.define('createCommandEncoder', (original) => {
      const create = original();
      return function (this: GPUDevice) {
        const encoder = create.apply(this, arguments) as GPUCommandEncoder;
        if (!core.capturing) return encoder;
        core.instrumentEncoder(encoder, core.window!);
        return encoder;
      };
    });
    if (this.options.withMemory) this.ledger.install(patch);
  }

  private installQueue(queue: GPUQueue): void {
    const patch = (this.queuePatch = new OwnPatch(queue));
    const core = this.core;
    const readback = this.readback!;
    patch.define(
      'submit',
      (original) =>
        function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
          const submit = original();
          if (!core.hasFinishedWork) return submit.apply(this, arguments) as undefined;
          const list = Array.isArray(buffers) ? (buffers as GPUCommandBuffer[]) : [...buffers];
          const states = core.takeSubmitted(list);
          if (states.length === 0) return submit.call(this, list) as undefined;
          readback.submit(this, list, states, submit);
          return undefined;
        },
    );
    patch.define(
      'writeBuffer',
      (original) =>
        function (this: GPUQueue, _buffer: GPUBuffer, _offset: number, data: BufferSource, dataOffset?: number, size?: number) {
          const writeBuffer = original();
          if (!core.capturing) return writeBuffer.apply(this, arguments);
          const launchStartNs = core.clock();
          const result = writeBuffer.apply(this, arguments);
          const launchEndNs = core.clock();
          core.recordCopy(core.window!, 'HtoD', sourceBytes(data, dataOffset, size), 'writeBuffer', launchStartNs, launchEndNs);
          return result;
        },
    );
  }
}

function addStats(into: CaptureStats, from: CaptureStats): void {
  for (const key of Object.keys(into) as (keyof CaptureStats)[]) into[key] += from[key];
}
