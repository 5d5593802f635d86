// One capture window: from setCapturing(true) to setCapturing(false). It owns what was recorded
// inside it (dispatches, copies, memory records, the submits that carried its work) and becomes a
// Captured once the GPU work of its submits has been read back. Work encoded on an encoder created in
// the window belongs to the window even when it is submitted after the window closed; the window is
// complete when each of its encoders was submitted (or when it is collected anyway: what was not
// submitted by then has no GPU times).

import type { ClockFit, CopyRecord, DispatchRecord, MemoryRecord, TimestampInfo } from '../capture/model.js';
import type { PingSample } from './calibration.js';
import { DispatchLog } from './dispatch-log.js';
import type { QuerySlice } from './queries.js';

/** What happened to GPU timing in a window, in counts of dispatches (submits where named). */
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
  /** Encoded but not submitted (or not finished) when the window was collected. */
  unsubmitted: number;
  /** copyBufferToBuffer calls that got a GPU interval (bracketed by timestamps). */
  timedCopies: number;
  /** Empty compute passes encoded to write a tick next to a copy that had no timed neighbour on that side. */
  copyTickPasses: number;
  /**
   * Bracketed copyBufferToBuffer calls that got none (zero-width or invalid ticks, a submit that did
   * not run or could not be bracketed, not submitted before collection). Not counted in the dispatch fields.
   */
  untimedCopies: number;
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
    copyTickPasses: 0,
    untimedCopies: 0,
  };
}

/** One queue.submit of instrumented work, as handed out. */
export interface SubmitRecord {
  /** CPU ns just before the submit call. */
  cpuSubmitNs: number;
  /** CPU ns when its timestamp readback was observed complete; absent when the readback failed. */
  cpuDoneNs?: number;
  /** `correlation` of every dispatch it carried (timed or not), in encode order. */
  correlations: number[];
}

/** A window's records, once its readbacks are done and its GPU ticks mapped onto the CPU clock. */
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

/** One timestamp query: where its tick lands in the readback of the submit that carries it. */
export interface TickSlot {
  slice: QuerySlice;
  index: number;
}

/**
 * A bracketed copyBufferToBuffer: its record, the tick written last before it on its encoder, and the
 * tick written first after it (set when that tick is encoded).
 */
export interface CopyTiming {
  record: CopyRecord;
  begin: TickSlot;
  end: TickSlot | undefined;
}

/** A queue.submit whose ticks come back by one readback (shared by the windows whose work it carried). */
export interface SubmitState {
  /** The marker value written with it (0 when it needed no readback). */
  seq: bigint;
  cpuSubmitNs: number;
  cpuDoneNs?: number;
  /** false: the marker did not come back, the submit did not run. */
  ran?: boolean;
  /** A copy of the resolved ticks (only when the submit ran). */
  ticks?: BigUint64Array;
}

/** What one submit carried of one window's work. */
export interface SubmitPart {
  submit: SubmitState;
  /** Log indices of its dispatches (timed or not), in encode order, and of the timed ones. */
  records: number[];
  timed: number[];
  copies: CopyTiming[];
}

/** The work one command encoder recorded into its window, until the encoder's command buffer is submitted. */
export interface EncodedWork {
  records: number[];
  timed: number[];
  copies: CopyTiming[];
}

export class CaptureWindow {
  readonly log = new DispatchLog();
  readonly copies: CopyRecord[] = [];
  readonly parts: SubmitPart[] = [];
  readonly stats = emptyCaptureStats();
  readonly errors: Error[] = [];
  memory: MemoryRecord[] = [];
  /** Work of encoders not submitted yet (open, or finished and waiting for a submit). */
  readonly unsubmitted = new Set<EncodedWork>();
  /** Readbacks of its submits (and its clock pings) still in flight. */
  readonly pending = new Set<Promise<void>>();
  /** Clock calibration pings sent at its edges (./calibration.ts). */
  readonly pings: PingSample[] = [];
  /** setCapturing(false) closed it: nothing new starts in it (open passes may still record). */
  closed = false;
  /** collect() ran: late records are dropped. */
  collected = false;
}
