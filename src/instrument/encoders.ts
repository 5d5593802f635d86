// Instrumented command encoders. An encoder created on the attached device while capturing gets its
// prototype swapped (one Object.setPrototypeOf) for an instrumented one built once per (instrumentation,
// native prototype): `Object.create(GPUCommandEncoder.prototype)` plus beginComputePass,
// copyBufferToBuffer and finish. The user keeps the real encoder (nothing is defined on it); finish()
// and detach() put the native prototype back.
//
// Copies: while capturing with timestamps, a copyBufferToBuffer's GPU interval runs from the tick
// written last before it on its encoder to the tick written first after it — an upper bound that
// includes the pass boundaries in between. Those are the neighbouring passes' own ticks where there
// are any: the end-of-pass (or last in-pass) timestamp of a timed pass right before the copy, and the
// beginning-of-pass (or first in-pass) timestamp of the next pass. Only where no such tick exists is an
// empty compute pass with one timestamp encoded: before a copy that starts an encoder or follows another
// copy (a run of k copies costs k − 1 extra passes between them), and after the last copy when no pass
// follows before finish() or before another command. Encoder commands we do not time (render passes,
// texture copies, clearBuffer, ...) end the neighbourhood: a tick on their far side would count their
// time as the copy's. A copy encoded while a pass is open (a validation error of the caller's) is not
// bracketed.

import type { CaptureCore } from './core.js';
import { defineMethods } from './patch.js';
import type { PassState, Proto } from './passes.js';
import { EncoderQueries, type QuerySetPool } from './queries.js';
import type { CaptureWindow, CopyTiming, EncodedWork, TickSlot } from './window.js';

const MAP_READ = 0x0001;

/** The empty pass that writes a tick next to a timed copy (its label shows in GPU captures such as RenderDoc or PIX). */
const COPY_TICK_LABEL = 'wgprof.copy-tick';

/** Encoder commands we do not time: each ends the neighbourhood of the copies around it. */
const UNTIMED_COMMANDS = [
  'beginRenderPass',
  'clearBuffer',
  'copyBufferToTexture',
  'copyTextureToBuffer',
  'copyTextureToTexture',
  'resolveQuerySet',
  'writeTimestamp',
] as const;

/** An instrumented, unfinished (or finished, unsubmitted) encoder and what it recorded. */
export class EncoderState implements EncodedWork {
  /** Log indices (in `window`) of its dispatches, in encode order, and of those that own a query pair. */
  records: number[] = [];
  timed: number[] = [];
  /** Its bracketed copies. */
  copies: CopyTiming[] = [];
  readonly queries: EncoderQueries;
  openPass: PassState | undefined = undefined;
  /** The tick written last on this encoder with nothing untimed encoded after it (a copy's begin bound). */
  boundary: TickSlot | undefined = undefined;
  /** Copies still waiting for the first tick after them. */
  pendingCopies: CopyTiming[] = [];
  /** Empty passes encoded to bracket copies (the bench's per-copy cost). */
  tickPasses = 0;
  /** Its command buffer, once finished. */
  commandBuffer: GPUCommandBuffer | undefined = undefined;

  constructor(
    readonly encoder: GPUCommandEncoder,
    /** The encoder's own prototype, put back by finish(). */
    readonly native: Proto,
    /** The window its work belongs to. */
    public window: CaptureWindow,
    pool: QuerySetPool,
  ) {
    this.queries = new EncoderQueries(pool);
  }
}

/** `Object.create(native)` plus beginComputePass, copyBufferToBuffer and finish, bound to one instrumentation. */
export function buildEncoderProto(core: CaptureCore, native: Proto): object {
  const proto = Object.create(native) as object;
  defineMethods(proto, {
    beginComputePass: function beginComputePass(this: GPUCommandEncoder, desc?: GPUComputePassDescriptor) {
      const enc = core.encoderOf(this);
      if (enc === undefined || !core.capturing) return native['beginComputePass']!.apply(this, arguments);
      return core.beginPass(enc, desc);
    },
    copyBufferToBuffer: function copyBufferToBuffer(this: GPUCommandEncoder) {
      const enc = core.encoderOf(this);
      if (enc === undefined || !core.capturing) return native['copyBufferToBuffer']!.apply(this, arguments);
      // Bracket with timestamps unless a pass is open (then the copy is the caller's validation error,
      // and passes of ours would only add errors).
      const bracket = core.mode !== 'none' && enc.openPass === undefined;
      const begin = bracket ? (enc.boundary ?? closeCopies(enc, tickPass(enc))) : undefined;
      const launchStartNs = core.clock();
      const result = native['copyBufferToBuffer']!.apply(this, arguments);
      const launchEndNs = core.clock();
      // (src, dst, size?) or (src, srcOffset, dst, dstOffset, size?)
      const long = typeof arguments[1] === 'number';
      const src = arguments[0] as GPUBuffer;
      const dst = (long ? arguments[2] : arguments[1]) as GPUBuffer;
      const srcOffset = long ? (arguments[1] as number) : 0;
      const size = (long ? arguments[4] : arguments[2]) as number | undefined;
      const bytes = size ?? src.size - srcOffset;
      const record = core.recordCopy(enc.window, dst.usage & MAP_READ ? 'DtoH' : 'DtoD', bytes, 'copyBufferToBuffer', launchStartNs, launchEndNs);
      if (begin !== undefined) {
        const timing: CopyTiming = { record, begin, end: undefined };
        enc.copies.push(timing);
        enc.pendingCopies.push(timing);
        enc.boundary = undefined;
      }
      return result;
    },
    finish: function finish(this: GPUCommandEncoder) {
      const enc = core.encoderOf(this);
      if (enc !== undefined && enc.pendingCopies.length > 0 && enc.openPass === undefined) closeCopies(enc, tickPass(enc));
      const commandBuffer = native['finish']!.apply(this, arguments) as GPUCommandBuffer;
      if (enc !== undefined) core.finishEncoder(enc, commandBuffer);
      return commandBuffer;
    },
  });
  // The commands we do not time end the neighbourhood of the copies around them (see the file comment).
  for (const name of UNTIMED_COMMANDS) {
    const original = native[name];
    if (typeof original !== 'function') continue;
    defineMethods(proto, {
      [name]: function (this: GPUCommandEncoder) {
        const enc = core.encoderOf(this);
        if (enc !== undefined) {
          if (enc.pendingCopies.length > 0 && enc.openPass === undefined && core.capturing) closeCopies(enc, tickPass(enc));
          enc.boundary = undefined;
        }
        return original.apply(this, arguments);
      },
    });
  }
  return proto;
}

/** Gives every copy waiting for its end bound the tick `tick`; returns it. */
export function closeCopies(enc: EncoderState, tick: TickSlot): TickSlot {
  for (const copy of enc.pendingCopies) copy.end = tick;
  enc.pendingCopies = [];
  return tick;
}

/**
 * Encodes an empty compute pass that writes one timestamp (at its end), for a copy with no timed
 * neighbour on that side; returns the tick. Both timestamp-query modes support timestampWrites.
 */
export function tickPass(enc: EncoderState): TickSlot {
  const index = enc.queries.allocOne();
  const slice = enc.queries.current!;
  const pass = enc.native['beginComputePass']!.call(enc.encoder, {
    label: COPY_TICK_LABEL,
    timestampWrites: { querySet: slice.set, endOfPassWriteIndex: index },
  }) as GPUComputePassEncoder;
  (Object.getPrototypeOf(pass) as Proto)['end']!.call(pass);
  enc.tickPasses++;
  return { slice, index };
}
