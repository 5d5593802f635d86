// The capture core of one instrumentation: what the instrumented encoders and passes call while the
// workload encodes (the hot path), and the state they share — the clock, the options as plain
// booleans, the timing mode, the open window, the query pools, the pending dispatch hint. The facade
// (./instrumentation.ts) owns it; encoders (./encoders.ts) and passes (./passes.ts) reach it through
// these public members only.

import type { CopyRecord, TimestampMode } from '../capture/model.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { emptyDispatchEntry, type DispatchEntry } from './dispatch-log.js';
import { EncoderState, buildEncoderProto, closeCopies, tickPass } from './encoders.js';
import type { KernelDescriptor } from '../../kernels/define.js';
import type { DeviceObjects } from './objects.js';
import { passClassFor, splitPass, withTimestampWrites, type PassMode, type PassState, type Proto } from './passes.js';
import type { QuerySetPool } from './queries.js';
import { stackTraceLimitFor } from './stack.js';
import { type CaptureWindow } from './window.js';

export interface CoreOptions {
  clock: () => number;
  withStack: boolean;
  recordShapes: boolean;
  withFlops: boolean;
  splitPasses: boolean;
  maxStackFrames: number;
}

export class CaptureCore {
  readonly clock: () => number;
  readonly withStack: boolean;
  readonly recordShapes: boolean;
  readonly withFlops: boolean;
  readonly splitPasses: boolean;
  readonly maxStackFrames: number;
  /** Error.stackTraceLimit while capturing a stack: the frames kept plus spares for the ones cleaning drops. */
  readonly stackLimit: number;
  /** The reusable entry the passes fill for each dispatch (never kept: the log copies it). */
  readonly entry: DispatchEntry = emptyDispatchEntry();

  capturing = false;
  /** How dispatches are timed now (falls back from 'inside-passes' when passes lack writeTimestamp). */
  mode: TimestampMode = 'none';
  /** The window records go into; a new one opens at each setCapturing(true). */
  window: CaptureWindow | undefined = undefined;
  /** Set by attach. */
  querySets: QuerySetPool | undefined = undefined;

  private nextId = 1;
  /** The kernel descriptor and shape noted for the next dispatch (noteDispatch), if any. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private hintKernel: KernelDescriptor<any> | undefined = undefined;
  private hintShape: unknown = undefined;
  /** Instrumented encoders not yet finished. */
  readonly openEncoders = new Set<EncoderState>();
  private readonly encoderStates = new WeakMap<GPUCommandEncoder, EncoderState>();
  /** The encoder looked up last (passes are encoded one after another on one encoder). */
  private lastEncoder: EncoderState | undefined = undefined;
  private readonly encoderProtos = new WeakMap<object, object>();
  /** Finished instrumented command buffers, by buffer, until submitted. */
  private readonly finished = new Map<GPUCommandBuffer, EncoderState>();

  constructor(
    options: CoreOptions,
    private readonly objects: DeviceObjects,
  ) {
    this.clock = options.clock;
    this.withStack = options.withStack;
    this.recordShapes = options.recordShapes;
    this.withFlops = options.withFlops;
    this.splitPasses = options.splitPasses;
    this.maxStackFrames = options.maxStackFrames;
    this.stackLimit = stackTraceLimitFor(options.maxStackFrames);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly receiveHint = (kernel: KernelDescriptor<any>, shape: unknown): void => {
    this.hintKernel = kernel;
    this.hintShape = shape;
  };

  clearHint(): void {
    this.hintKernel = undefined;
    this.hintShape = undefined;
  }

  // ---- encoders --------------------------------------------------------------------------------

  /** Swaps an encoder created in the window for the instrumented prototype. */
  instrumentEncoder(encoder: GPUCommandEncoder, window: CaptureWindow): void {
    const native = Object.getPrototypeOf(encoder) as Proto;
    const enc = new EncoderState(encoder, native, window, this.querySets!);
    this.encoderStates.set(encoder, enc);
    this.lastEncoder = enc;
    this.openEncoders.add(enc);
    window.unsubmitted.add(enc);
    let proto = this.encoderProtos.get(native);
    if (!proto) {
      proto = buildEncoderProto(this, native);
      this.encoderProtos.set(native, proto);
    }
    Object.setPrototypeOf(encoder, proto);
  }

  encoderOf(encoder: GPUCommandEncoder): EncoderState | undefined {
    const last = this.lastEncoder;
    if (last !== undefined && last.encoder === encoder) return last;
    const enc = this.encoderStates.get(encoder);
    if (enc !== undefined) this.lastEncoder = enc;
    return enc;
  }

  /** Puts the native prototypes back on the encoder and closes its open pass (finish, detach). */
  restoreEncoder(enc: EncoderState): void {
    if (enc.openPass) this.closePass(enc.openPass);
    if (Object.getPrototypeOf(enc.encoder) !== enc.native) Object.setPrototypeOf(enc.encoder, enc.native);
    this.encoderStates.delete(enc.encoder);
    if (this.lastEncoder === enc) this.lastEncoder = undefined;
  }

  finishEncoder(enc: EncoderState, commandBuffer: GPUCommandBuffer): void {
    enc.window.stats.copyTickPasses += enc.tickPasses;
    this.openEncoders.delete(enc);
    this.restoreEncoder(enc);
    if (enc.records.length > 0 || enc.queries.slices.length > 0) {
      enc.commandBuffer = commandBuffer;
      this.finished.set(commandBuffer, enc);
    } else enc.window.unsubmitted.delete(enc);
  }

  /** Whether any finished, instrumented command buffer waits for its submit (the submit wrapper's fast path). */
  get hasFinishedWork(): boolean {
    return this.finished.size > 0;
  }

  /** The instrumented encoders among the command buffers being submitted (each handed out once). */
  takeSubmitted(list: readonly GPUCommandBuffer[]): EncoderState[] {
    const states: EncoderState[] = [];
    for (const cb of list) {
      const enc = this.finished.get(cb);
      if (!enc) continue;
      this.finished.delete(cb);
      states.push(enc);
    }
    return states;
  }

  /** Forgets a finished, unsubmitted encoder's command buffer (its window was collected without it). */
  forgetCommandBuffer(enc: EncoderState): void {
    if (enc.commandBuffer) this.finished.delete(enc.commandBuffer);
  }

  // ---- passes ----------------------------------------------------------------------------------

  beginPass(enc: EncoderState, desc: GPUComputePassDescriptor | undefined): GPUComputePassEncoder {
    const userTimestampWrites = desc != null && desc.timestampWrites != null;
    let mode: PassMode;
    if (this.mode === 'none') mode = 'untimed';
    else if (this.mode === 'inside-passes') mode = 'inside';
    else if (userTimestampWrites) mode = 'untimed';
    else mode = this.splitPasses ? 'split' : 'whole';

    // Copies waiting for their end bound get this pass's first tick; a pass we do not time first gets an empty pass that writes one.
    const boundaryBefore = enc.boundary;
    enc.boundary = undefined;
    if (mode === 'untimed' && enc.pendingCopies.length > 0 && this.mode !== 'none') closeCopies(enc, tickPass(enc));
    let realDesc = desc;
    let slotIndex = 0;
    if (mode === 'split' || mode === 'whole') {
      slotIndex = enc.queries.allocPair();
      const querySet = enc.queries.current!.set;
      realDesc = withTimestampWrites(desc, { querySet, beginningOfPassWriteIndex: slotIndex, endOfPassWriteIndex: slotIndex + 1 });
    }
    const pass = enc.native['beginComputePass']!.call(enc.encoder, realDesc) as GPUComputePassEncoder;
    const native = Object.getPrototypeOf(pass) as Proto;
    if (mode === 'inside' && typeof native['writeTimestamp'] !== 'function') {
      // The feature is on the device but this runtime's pass has no writeTimestamp: fall back for good.
      this.mode = 'pass-boundaries';
      log.warnOnce(
        'instrument.no-writeTimestamp',
        'the device reports inside-pass timestamps but compute passes lack writeTimestamp(); using pass-boundary timestamps.',
      );
      native['end']!.call(pass);
      enc.boundary = boundaryBefore;
      return this.beginPass(enc, desc);
    }
    const Pass = passClassFor(native);
    const slotSlice = mode === 'split' || mode === 'whole' ? enc.queries.current : undefined;
    if (enc.pendingCopies.length > 0) {
      if (slotSlice !== undefined) closeCopies(enc, { slice: slotSlice, index: slotIndex });
      else if (mode === 'inside') {
        const index = enc.queries.allocOne();
        const slice = enc.queries.current!;
        native['writeTimestamp']!.call(pass, slice.set, index);
        closeCopies(enc, { slice, index });
      }
    }
    const st = new Pass(this, enc, pass, mode, userTimestampWrites, desc?.label || undefined, slotSlice, slotIndex, boundaryBefore);
    enc.openPass = st;
    return st as unknown as GPUComputePassEncoder;
  }

  /** Stops recording a pass (end, its encoder's finish, detach): from then on its calls only forward. */
  closePass(st: PassState): void {
    st.closed = true;
    if (st.enc.openPass === st) st.enc.openPass = undefined;
  }

  endPass(st: PassState): void {
    // The last tick this pass writes is a following copy's begin bound; a pass that dispatched nothing did no work.
    const enc = st.enc;
    if (st.slotSlice !== undefined) enc.boundary = { slice: st.slotSlice, index: st.slotIndex + 1 };
    else if (st.mode === 'inside') enc.boundary = st.dispatches > 0 ? st.lastTick : st.boundaryBefore;
    else enc.boundary = undefined;
    if (st.mode === 'whole' && st.slotSlice !== undefined) {
      // One timestamp pair per pass: it times a dispatch only when the pass had exactly one.
      if (st.dispatches === 1) {
        st.enc.window.log.setTiming(st.firstDispatch, st.slotSlice, st.slotIndex);
        st.enc.timed.push(st.firstDispatch);
      } else if (st.dispatches > 1) st.enc.window.stats.untimedBatched += st.dispatches;
    }
    this.closePass(st);
  }

  /** Before a launch: splits the pass if needed ('split'), writes the begin timestamp ('inside'). */
  beforeDispatch(st: PassState): void {
    if (st.mode === 'split') {
      if (st.dispatchesInCurrent > 0) splitPass(st);
    } else if (st.mode === 'inside') {
      st.insideIndex = st.enc.queries.allocPair();
      st.native['writeTimestamp']!.call(st.current, st.enc.queries.current!.set, st.insideIndex);
    }
  }

  /**
   * After a launch (the pass filled `entry`'s launch fields and stack): the end timestamp ('inside'),
   * the kernel's name, shape, cost and workgroups, and the entry appended to the encoder's window.
   */
  commitDispatch(st: PassState, indirect: boolean): void {
    const enc = st.enc;
    const window = enc.window;
    const e = this.entry;
    const queries = enc.queries;
    if (st.mode === 'inside') {
      // The pair allocated by beforeDispatch: same slice (a launch allocates no queries).
      st.native['writeTimestamp']!.call(st.current, queries.current!.set, st.insideIndex + 1);
    }
    // The op starts at its first state call, else where the previous dispatch of the pass ended, else at its launch.
    e.opStartNs = st.opStarted ? st.opStartNs : st.dispatches > 0 ? st.lastDispatchEndNs : e.launchStartNs;
    st.dispatchesInCurrent++;
    st.opStarted = false;
    st.lastDispatchEndNs = e.launchEndNs;

    const kernel = this.hintKernel;
    const shape = this.hintShape;
    this.hintKernel = undefined;
    this.hintShape = undefined;
    if (indirect) {
      const counts = kernel ? this.hintWorkgroups(window, kernel, shape) : undefined;
      e.workgroupsX = counts?.[0] ?? 0;
      e.workgroupsY = counts?.[1] ?? 0;
      e.workgroupsZ = counts?.[2] ?? 0;
    }
    if (!st.boundValid) {
      st.bound = this.objects.boundBytes(st.groups);
      st.boundValid = true;
    }
    e.inputs = undefined;
    e.cost = undefined;
    if (kernel !== undefined) {
      // Shapes and cost now: the caller may mutate its shape object afterwards.
      if (this.recordShapes && kernel.inputs) e.inputs = this.callHint(window, kernel, shape, 'inputs', kernel.inputs);
      if (this.withFlops && kernel.cost) e.cost = this.callHint(window, kernel, shape, 'cost', kernel.cost);
    }
    e.id = this.nextId++;
    e.kernel = this.objects.kernelName(st.pipeline, kernel);
    e.workgroupSize = kernel !== undefined ? kernel.workgroupSize : this.objects.workgroupSize(st.pipeline);
    e.workgroupMemoryBytes = this.objects.workgroupMemoryBytes(st.pipeline);
    e.boundBufferBytes = st.bound;
    const i = window.collected ? -1 : window.log.push(e);
    e.stack = undefined;
    if (i < 0) return; // the window was already collected: a late dispatch is not recorded
    enc.records.push(i);
    if (st.dispatches++ === 0) st.firstDispatch = i;

    if (st.mode === 'split') {
      if (st.slotSlice !== undefined) {
        window.log.setTiming(i, st.slotSlice, st.slotIndex);
        enc.timed.push(i);
      }
    } else if (st.mode === 'inside') {
      window.log.setTiming(i, queries.current!, st.insideIndex);
      enc.timed.push(i);
      st.lastTick = { slice: queries.current!, index: st.insideIndex + 1 };
    } else if (st.mode === 'untimed' && st.userTimestampWrites && this.mode !== 'none') window.stats.untimedUserTimestampWrites++;
  }

  /** A copy (writeBuffer or copyBufferToBuffer) into a window. */
  recordCopy(window: CaptureWindow, kind: CopyRecord['kind'], bytes: number, launch: string, launchStartNs: number, launchEndNs: number): CopyRecord {
    const id = this.nextId++;
    const record: CopyRecord = { externalId: id, correlation: id, kind, bytes, launch, launchStartNs, launchEndNs };
    if (!window.collected) window.copies.push(record);
    return record;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private hintWorkgroups(window: CaptureWindow, kernel: KernelDescriptor<any>, shape: unknown): [number, number, number] | undefined {
    try {
      const [x, y, z] = kernel.dispatch(shape);
      return [x, y, z];
    } catch (error) {
      this.hintError(window, kernel, 'dispatch', error);
      return undefined;
    }
  }

  /** A hint descriptor's function of the shape; undefined (and an error for the window) when it throws. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private callHint<T>(window: CaptureWindow, kernel: KernelDescriptor<any>, shape: unknown, method: string, fn: (shape: unknown) => T): T | undefined {
    try {
      return fn.call(kernel, shape);
    } catch (error) {
      this.hintError(window, kernel, method, error);
      return undefined;
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private hintError(window: CaptureWindow, kernel: KernelDescriptor<any>, method: string, error: unknown): void {
    window.errors.push(
      new WgprofError('HINT_FAILED', `kernel "${kernel.name}": ${method}(shape) threw ${errorMessage(error)}; the dispatch was recorded without it.`, {
        cause: error,
      }),
    );
  }
}
