// Submit-time readback of GPU timestamps (STYLE §6): at queue.submit, one extra command buffer
// resolves every query set the submitted command buffers used into a pooled buffer and copies it to a
// pooled MAP_READ buffer, which is mapped asynchronously: no per-kernel wait, no onSubmittedWorkDone. A
// per-submit marker written with writeBuffer tells whether the submit ran (a pooled buffer would
// otherwise show the previous submit's ticks). Map failures are collected into the windows concerned,
// never thrown from a detached `.then`.

import { WgprofError, errorMessage } from '../util/errors.js';
import type { EncoderState } from './encoders.js';
import type { Method } from './patch.js';
import { RESOLVE_ALIGN, type ReadbackPool, alignUp, destroyPair, type QuerySetPool, type ReadbackPair } from './queries.js';
import type { CaptureWindow, SubmitPart, SubmitState } from './window.js';

const RESOLVE_ENCODER: GPUCommandEncoderDescriptor = { label: 'wgprof.resolve' };
const MAP_READ = 0x0001;

export class Readback {
  private submitSeq = 0n;
  /** The per-submit marker's bytes (writeBuffer copies them at the call). */
  private readonly marker = new BigUint64Array(1);
  /** Set by detach(): objects coming back from in-flight work are destroyed, not pooled. */
  detached = false;
  /** CPU time spent here (submit-time resolve and map, and the mapped callbacks; not the workload's own submit), ns: the bench's readback share. */
  cpuNs = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly deviceProto: Record<string, Method>,
    private readonly queueProto: Record<string, Method>,
    private readonly querySets: QuerySetPool,
    private readonly readbacks: ReadbackPool,
    private readonly clock: () => number,
  ) {}

  /**
   * Submits `list` (whose instrumented command buffers are `states`) plus the resolve of their query
   * sets, and maps the readback. Each window concerned gets a SubmitPart for its share.
   */
  submit(queue: GPUQueue, list: GPUCommandBuffer[], states: EncoderState[], submitOriginal: Method): void {
    const startNs = this.clock();
    try {
      this.submitTimed(queue, list, states, submitOriginal);
    } finally {
      this.cpuNs += this.clock() - startNs;
    }
  }

  private submitTimed(queue: GPUQueue, list: GPUCommandBuffer[], states: EncoderState[], submitOriginal: Method): void {
    // Layout: each used query slice at a 256-aligned offset, then the 8-byte submit marker.
    let bytes = 0;
    for (const enc of states) {
      for (const slice of enc.queries.slices) {
        slice.offset = bytes;
        bytes += alignUp(slice.used * 8, RESOLVE_ALIGN);
      }
    }
    if (bytes === 0) {
      // Nothing to time (mode 'none', or only passes with their own timestampWrites): no readback.
      this.addParts({ seq: 0n, cpuSubmitNs: this.clock() }, states);
      submitOriginal.call(queue, list);
      return;
    }
    const markerOffset = bytes;
    bytes += RESOLVE_ALIGN;
    const pair = this.readbacks.acquire(bytes);
    const seq = ++this.submitSeq;
    this.marker[0] = seq;
    this.queueProto['writeBuffer']!.call(queue, pair.resolve, markerOffset, this.marker);
    const encoder = this.deviceProto['createCommandEncoder']!.call(this.device, RESOLVE_ENCODER) as GPUCommandEncoder;
    for (const enc of states) for (const slice of enc.queries.slices) encoder.resolveQuerySet(slice.set, 0, slice.used, pair.resolve, slice.offset);
    encoder.copyBufferToBuffer(pair.resolve, 0, pair.read, 0, bytes);
    const resolveCb = encoder.finish();

    const submit: SubmitState = { seq, cpuSubmitNs: this.clock() };
    const windows = this.addParts(submit, states);
    const submitStartNs = this.clock();
    submitOriginal.call(queue, [...list, resolveCb]);
    // The workload's own submit is not readback time.
    this.cpuNs -= this.clock() - submitStartNs;
    // The resolve for these sets is now queued ahead of any later use, so they can be reused at once.
    for (const enc of states) for (const slice of enc.queries.slices) this.releaseQuerySet(slice.set);

    const done: Promise<void> = pair.read.mapAsync(MAP_READ, 0, bytes).then(
      () => {
        for (const w of windows) w.pending.delete(done);
        this.onMapped(submit, windows, pair, markerOffset, bytes);
      },
      (error: unknown) => {
        for (const w of windows) w.pending.delete(done);
        const failure = new WgprofError(
          'READBACK_FAILED',
          `timestamp readback of submit ${seq} failed: ${failureText(error, 'the map')}; its dispatches have no GPU interval.`,
          { cause: error },
        );
        for (const w of windows) w.errors.push(failure);
        this.releasePair(pair, true);
      },
    );
    for (const w of windows) {
      w.pending.add(done);
      w.stats.submits++;
    }
  }

  /** One SubmitPart per window whose work the submit carries; returns those windows. */
  private addParts(submit: SubmitState, states: EncoderState[]): CaptureWindow[] {
    const windows: CaptureWindow[] = [];
    const parts: SubmitPart[] = [];
    for (const enc of states) {
      const w = enc.window;
      let k = windows.indexOf(w);
      if (k < 0) {
        k = windows.push(w) - 1;
        parts.push({ submit, records: [], timed: [], copies: [] });
      }
      const part = parts[k]!;
      // One encoder per submit is the usual case: take its arrays as they are.
      if (part.records.length === 0 && part.timed.length === 0 && part.copies.length === 0) {
        part.records = enc.records;
        part.timed = enc.timed;
        part.copies = enc.copies;
      } else {
        part.records = part.records.concat(enc.records);
        part.timed = part.timed.concat(enc.timed);
        part.copies = part.copies.concat(enc.copies);
      }
      w.unsubmitted.delete(enc);
    }
    windows.forEach((w, k) => w.parts.push(parts[k]!));
    return windows;
  }

  /** Runs in the workload's time (a microtask between its steps): one copy, no per-dispatch work. */
  private onMapped(submit: SubmitState, windows: CaptureWindow[], pair: ReadbackPair, markerOffset: number, bytes: number): void {
    const startNs = this.clock();
    try {
      submit.cpuDoneNs = startNs;
      const ticks = new BigUint64Array(pair.read.getMappedRange(0, bytes).slice(0));
      submit.ran = ticks[markerOffset / 8] === submit.seq;
      if (submit.ran) submit.ticks = ticks;
      pair.read.unmap();
      this.releasePair(pair, false);
    } catch (error) {
      submit.ran = false;
      const failure = new WgprofError('READBACK_FAILED', `reading the timestamps of submit ${submit.seq} failed: ${failureText(error, 'the read')}.`, {
        cause: error,
      });
      for (const w of windows) w.errors.push(failure);
      this.releasePair(pair, true);
    }
    this.cpuNs += this.clock() - startNs;
  }

  private releaseQuerySet(set: GPUQuerySet): void {
    if (this.detached) set.destroy();
    else this.querySets.release(set);
  }

  private releasePair(pair: ReadbackPair, broken: boolean): void {
    if (this.detached || broken) destroyPair(pair);
    else this.readbacks.release(pair);
  }
}

/** What a readback failure says; a bare error (no message) means the device went away first. */
function failureText(error: unknown, what: string): string {
  const message = errorMessage(error);
  if (message) return message;
  return (
    `${error instanceof Error ? error.name : what} with no message: the device was destroyed or lost before the timestamps were read ` +
    '(await profiler.stop() before device.destroy())'
  );
}
