// Captured compute passes. A pass begun on an instrumented encoder while capturing is handed to the
// user as an object of a class built once per native pass prototype (shared by every instrumentation,
// so the workload's call sites stay monomorphic), whose prototype chain runs through the native
// prototype (`instanceof GPUComputePassEncoder` holds). It carries the pass's state as plain fields and
// forwards every call to the real pass that receives commands now. The real pass object is never
// touched. (Defining and deleting own methods on every pass instead cost several µs per pass:
// dictionary-mode objects; this costs one small object per pass.)
//
// GPU timing per pass, by the device's mode (the mode is written into the trace, STYLE §7):
// - 'inside' (chromium-experimental-timestamp-query-inside-passes): writeTimestamp before and after
//   each dispatch; the pass is untouched otherwise.
// - 'split' (timestamp-query only): timestampWrites injected into the pass, and a pass with several
//   dispatches is SPLIT: at each dispatch after the first the real pass is ended and a new one begun
//   with fresh timestampWrites, re-applying the pipeline, bind groups (with dynamic offsets),
//   immediates and open debug groups. Each extra dispatch then pays a pass boundary on the GPU.
// - 'whole' (splitPasses: false): one timestamp pair per pass; it times a dispatch only when the pass
//   had exactly one.
// - 'untimed': no timestamps (mode 'none', or a pass with its own timestampWrites, left whole).
// State that future extensions add to compute passes is not re-applied after a split.

import type { CaptureCore } from './core.js';
import type { EncoderState } from './encoders.js';
import type { Method } from './patch.js';
import type { QuerySlice } from './queries.js';
import type { TickSlot } from './window.js';
import { V8Error, type StackHolder } from './stack.js';

export type Proto = Record<string, Method>;
export type PassMode = 'split' | 'whole' | 'inside' | 'untimed';

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

/** What the user holds while a pass is captured (see the file comment). */
export interface PassState {
  readonly core: CaptureCore;
  readonly enc: EncoderState;
  /** The real pass's prototype (the originals are looked up on it at call time). */
  readonly native: Proto;
  /** The real pass that receives commands now (a new one after each split). */
  current: GPUComputePassEncoder;
  /** The descriptor's label, for the passes a split begins (the user's `pass.label` reaches the real pass through the forwarded accessor). */
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
  /** Log index of its first dispatch (valid once `dispatches` > 0). */
  firstDispatch: number;
  pipeline: GPUComputePipeline | undefined;
  readonly groups: (GPUBindGroup | undefined)[];
  /** Dynamic offsets per group index, copied ('split' only: re-applied after a split); created on first use. */
  offsets: (number[] | undefined)[] | undefined;
  /** Sizes of the bound buffers, valid while `boundValid` (until the next setBindGroup). */
  bound: readonly number[] | undefined;
  boundValid: boolean;
  /** Open debug groups and immediates ('split' only), created on first use: most passes have none. */
  debugGroups: string[] | undefined;
  immediates: [number, Uint8Array][] | undefined;
  /** Whether the next op has begun (its first state call was seen), and when (CPU ns). */
  opStarted: boolean;
  opStartNs: number;
  /** CPU ns the previous dispatch of this pass ended (valid once `dispatches` > 0): the next op starts there when it set no state. */
  lastDispatchEndNs: number;
  /** The last tick this pass writes ('inside': its last dispatch's end timestamp): a following copy's begin bound. */
  lastTick: TickSlot | undefined;
  /** The encoder's copy boundary before this pass (restored when the pass did no work). */
  readonly boundaryBefore: TickSlot | undefined;
}

export type PassClass = new (
  core: CaptureCore,
  enc: EncoderState,
  pass: GPUComputePassEncoder,
  mode: PassMode,
  userTimestampWrites: boolean,
  label: string | undefined,
  slotSlice: QuerySlice | undefined,
  slotIndex: number,
  boundaryBefore: TickSlot | undefined,
) => PassState;

/** Byte count of a writeBuffer/setImmediates source range (offsets and sizes count elements for typed arrays). */
export function sourceBytes(data: BufferSource | SharedArrayBuffer, dataOffset?: number, size?: number): number {
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

/**
 * The user's pass descriptor plus our timestampWrites. Object spread costs ~0.5 µs per pass; the
 * descriptor WebGPU defines has only `label` (and `timestampWrites`), so that case is a literal, and
 * anything else is copied whole.
 */
export function withTimestampWrites(desc: GPUComputePassDescriptor | undefined, timestampWrites: GPUComputePassTimestampWrites): GPUComputePassDescriptor {
  if (desc == null) return { timestampWrites };
  for (const key in desc) if (key !== 'label' && key !== 'timestampWrites') return { ...desc, timestampWrites };
  return desc.label === undefined ? { timestampWrites } : { label: desc.label, timestampWrites };
}

/** Ends the current real pass and begins the next one with fresh timestampWrites and the same state. */
export function splitPass(st: PassState): void {
  const native = st.native;
  const cur = st.current;
  const debugGroups = st.debugGroups ?? [];
  for (let i = 0; i < debugGroups.length; i++) native['popDebugGroup']!.call(cur);
  native['end']!.call(cur);
  const queries = st.enc.queries;
  const index = queries.allocPair();
  const slice = queries.current!;
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
  st.enc.window.stats.passSplits++;
}

/** The op (the kernel's CPU-side encode) begins at the first state call before its dispatch. */
function noteOpStart(st: PassState): void {
  if (!st.opStarted && st.core.capturing) {
    st.opStarted = true;
    st.opStartNs = st.core.clock();
  }
}

/** One class per native pass prototype, for every instrumentation (see the file comment). */
const passClasses = new WeakMap<object, PassClass>();

export function passClassFor(native: Proto): PassClass {
  let Pass = passClasses.get(native);
  if (!Pass) {
    Pass = buildPassClass(native);
    passClasses.set(native, Pass);
  }
  return Pass;
}

/** Takes the JS stack of the dispatch (V8: from the caller of `omitFrom` outwards), unformatted. */
function captureStack(core: CaptureCore, omitFrom: Method): StackHolder {
  if (captureStackTrace === undefined) return new Error();
  const holder = {};
  const limit = V8Error.stackTraceLimit;
  V8Error.stackTraceLimit = core.stackLimit;
  try {
    captureStackTrace(holder, omitFrom);
  } finally {
    V8Error.stackTraceLimit = limit;
  }
  return holder;
}

/**
 * The class of the objects handed out for captured passes. Its prototype's prototype is the native
 * one; it defines our wrappers for the methods we track and a forwarder for every other method and
 * accessor of the native prototype chain, so that after a split every call reaches the real pass that
 * receives commands now. Only what the native pass has is defined (feature tests on the pass still see
 * what the runtime offers).
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
    firstDispatch = 0;
    pipeline: GPUComputePipeline | undefined = undefined;
    readonly groups: (GPUBindGroup | undefined)[] = [];
    offsets: (number[] | undefined)[] | undefined = undefined;
    bound: readonly number[] | undefined = undefined;
    boundValid = false;
    debugGroups: string[] | undefined = undefined;
    immediates: [number, Uint8Array][] | undefined = undefined;
    opStarted = false;
    opStartNs = 0;
    lastDispatchEndNs = 0;
    lastTick: TickSlot | undefined = undefined;

    constructor(
      readonly core: CaptureCore,
      readonly enc: EncoderState,
      pass: GPUComputePassEncoder,
      readonly mode: PassMode,
      readonly userTimestampWrites: boolean,
      readonly descLabel: string | undefined,
      public slotSlice: QuerySlice | undefined,
      public slotIndex: number,
      readonly boundaryBefore: TickSlot | undefined,
    ) {
      this.current = pass;
    }

    setPipeline(pipeline: GPUComputePipeline): unknown {
      if (!this.closed) {
        noteOpStart(this);
        this.pipeline = pipeline;
      }
      return native['setPipeline']!.apply(this.current, arguments);
    }

    setBindGroup(index: number, group: GPUBindGroup | null | undefined, offsets?: Iterable<number> | Uint32Array, start?: number, length?: number): unknown {
      if (!this.closed) {
        noteOpStart(this);
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
        noteOpStart(this);
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
      const core = this.core;
      const e = core.entry;
      core.beforeDispatch(this);
      e.launchStartNs = core.clock();
      const result = native['dispatchWorkgroups']!.apply(this.current, arguments) as unknown;
      e.launchEndNs = core.clock();
      e.launch = 'dispatchWorkgroups';
      e.workgroupsX = x;
      e.workgroupsY = y ?? 1;
      e.workgroupsZ = z ?? 1;
      // Captured here, after the launch (not part of the op's span) and in this very frame: each
      // frame of ours V8 walks past costs a few hundred ns. Formatted when the window is collected.
      e.stack = core.withStack ? captureStack(core, dispatchFn) : undefined;
      core.commitDispatch(this, false);
      return result;
    }

    dispatchWorkgroupsIndirect(): unknown {
      if (this.closed) return native['dispatchWorkgroupsIndirect']!.apply(this.current, arguments);
      const core = this.core;
      const e = core.entry;
      core.beforeDispatch(this);
      e.launchStartNs = core.clock();
      const result = native['dispatchWorkgroupsIndirect']!.apply(this.current, arguments) as unknown;
      e.launchEndNs = core.clock();
      e.launch = 'dispatchWorkgroupsIndirect';
      e.stack = core.withStack ? captureStack(core, dispatchIndirectFn) : undefined;
      // The counts live in a GPU buffer: commitDispatch takes the hint's, when there is one.
      core.commitDispatch(this, true);
      return result;
    }

    end(): unknown {
      const result = native['end']!.apply(this.current, arguments) as unknown;
      if (!this.closed) this.core.endPass(this);
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
        if (get)
          forwarded.get = function (this: InstrumentedPass) {
            return get.call(this.current);
          };
        if (set)
          forwarded.set = function (this: InstrumentedPass, value: unknown) {
            set.call(this.current, value);
          };
        Object.defineProperty(proto, name, forwarded);
      }
    }
  }
  return InstrumentedPass;
}
