// Instrumented command encoders. An encoder created on the attached device while capturing gets its
// prototype swapped (one Object.setPrototypeOf) for an instrumented one built once per (instrumentation,
// native prototype): `Object.create(GPUCommandEncoder.prototype)` plus beginComputePass,
// copyBufferToBuffer and finish. The user keeps the real encoder (nothing is defined on it); finish()
// and detach() put the native prototype back.
//
// Copies: while capturing with timestamps, copyBufferToBuffer is bracketed by two empty compute passes
// in the same command stream: one writing its endOfPassWriteIndex just before the copy, one writing its
// beginningOfPassWriteIndex just after. The copy's GPU interval is [end of the pass before, beginning of
// the pass after] (an upper bound that includes the two pass boundaries). A copy encoded while a pass
// is open (a validation error of the caller's) is not bracketed. Cost: two extra empty passes per copy.

import type { CaptureCore } from './core.js';
import { defineMethods } from './patch.js';
import type { PassState, Proto } from './passes.js';
import { EncoderQueries, type QuerySetPool } from './queries.js';
import type { CaptureWindow, CopyTiming, EncodedWork } from './window.js';

const MAP_READ = 0x0001;

/** The empty passes around a timed copy (labels show in GPU captures such as RenderDoc or PIX). */
const COPY_BEFORE_LABEL = 'wgprof.copy-begin';
const COPY_AFTER_LABEL = 'wgprof.copy-end';

/** An instrumented, unfinished (or finished, unsubmitted) encoder and what it recorded. */
export class EncoderState implements EncodedWork {
  /** Log indices (in `window`) of its dispatches, in encode order, and of those that own a query pair. */
  records: number[] = [];
  timed: number[] = [];
  /** Its bracketed copies. */
  copies: CopyTiming[] = [];
  readonly queries: EncoderQueries;
  openPass: PassState | undefined = undefined;
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
      let index = 0;
      if (bracket) {
        index = enc.queries.allocPair();
        copyBracket(enc, index, true);
      }
      const slice = bracket ? enc.queries.current : undefined;
      const launchStartNs = core.clock();
      const result = native['copyBufferToBuffer']!.apply(this, arguments);
      const launchEndNs = core.clock();
      if (bracket) copyBracket(enc, index + 1, false);
      // (src, dst, size?) or (src, srcOffset, dst, dstOffset, size?)
      const long = typeof arguments[1] === 'number';
      const src = arguments[0] as GPUBuffer;
      const dst = (long ? arguments[2] : arguments[1]) as GPUBuffer;
      const srcOffset = long ? (arguments[1] as number) : 0;
      const size = (long ? arguments[4] : arguments[2]) as number | undefined;
      const bytes = size ?? src.size - srcOffset;
      const record = core.recordCopy(enc.window, dst.usage & MAP_READ ? 'DtoH' : 'DtoD', bytes, 'copyBufferToBuffer', launchStartNs, launchEndNs);
      if (slice !== undefined) enc.copies.push({ record, slice, index });
      return result;
    },
    finish: function finish(this: GPUCommandEncoder) {
      const commandBuffer = native['finish']!.apply(this, arguments) as GPUCommandBuffer;
      const enc = core.encoderOf(this);
      if (enc !== undefined) core.finishEncoder(enc, commandBuffer);
      return commandBuffer;
    },
  });
  return proto;
}

/**
 * Encodes an empty compute pass that writes one timestamp: at its end (`end: true`, the pass before a
 * copy) or at its beginning (the pass after). Timestamps are written only at pass boundaries (or inside
 * passes), never around a copy, so the copy is bracketed by two such passes in the same command stream;
 * both timestamp-query modes support timestampWrites.
 */
function copyBracket(enc: EncoderState, index: number, end: boolean): void {
  const querySet = enc.queries.current!.set;
  const timestampWrites: GPUComputePassTimestampWrites = end ? { querySet, endOfPassWriteIndex: index } : { querySet, beginningOfPassWriteIndex: index };
  const pass = enc.native['beginComputePass']!.call(enc.encoder, { label: end ? COPY_BEFORE_LABEL : COPY_AFTER_LABEL, timestampWrites }) as GPUComputePassEncoder;
  (Object.getPrototypeOf(pass) as Proto)['end']!.call(pass);
}
