// Clock alignment: mapping raw GPU timestamp ticks (ns, arbitrary base) onto the CPU timeline
// (`performance.now() * 1e6`), pure functions only.
//
// What we know per submit: the CPU time just before `queue.submit` (the GPU cannot have started
// earlier) and the CPU time at which the readback map resolved (the GPU had finished by then), plus the
// ticks of the first begin and the last end in that submit. With cpuNs = scale * tick + offset, every
// submit bounds the offset from both sides:
//
//     cpuSubmitNs ≤ scale * firstTick + offset   and   scale * lastTick + offset ≤ cpuDoneNs
//
// Intersecting these intervals across submits (scale 1: ticks are ns on every backend we know) gives
// an offset that puts every kernel between its submit and its observed completion; we take the
// midpoint and report the half width as the uncertainty. When the intersection is empty the clocks
// drift (or a submit's samples are off): we first fit a scale (the feasible width is concave in the
// scale, so a ternary search finds the best one), and if no scale near 1 works, each submit gets its
// own offset (method 'per-submit-bracket'). A submit that cannot be bracketed even on its own (the GPU
// span is longer than the CPU window: garbage ticks, as on Dawn's null backend) gets no offset, and its
// kernels get no GPU interval: never a made-up time.

import type { ClockFit } from '../capture/model.js';

/** One submit's bracket. Ticks are relative to a common base (subtract the base as bigint first). */
export interface SubmitSample {
  /** CPU ns just before the submit call. */
  cpuSubmitNs: number;
  /** CPU ns when the submit's readback was observed complete (an upper bound on GPU completion). */
  cpuDoneNs: number;
  /** Earliest begin tick of the submit's timed work, relative to the tick base. */
  firstTick: number;
  /** Latest end tick of the submit's timed work, relative to the tick base. */
  lastTick: number;
}

export interface AlignClockOptions {
  /**
   * How far a tick may lie before the true time, ns: a truncating quantizer of q ns reports t for any
   * time in [t, t + q), so bounds are widened by q. 0 (default) for full-resolution ticks.
   */
  tickUncertaintyNs?: number;
  /** The base subtracted from the raw ticks, so the reported `fit.offsetNs` applies to raw ticks. */
  tickBase?: bigint;
  /** Largest relative scale deviation tried when scale 1 is infeasible (default 1e-3 = 1000 ppm). */
  maxScaleDeviation?: number;
}

export interface ClockAlignment {
  /** The fit, as written into the trace (`offsetNs` applies to raw ticks when `tickBase` was given). */
  fit: ClockFit;
  /** Ticks-to-ns scale used for every submit. */
  scale: number;
  /**
   * Offset per sample, for ticks relative to the base (cpuNs = scale * tick + offset), or undefined
   * for a submit that could not be bracketed (its kernels get no GPU interval).
   */
  offsets: (number | undefined)[];
}

export const CLOCK_METHODS = {
  bracket: 'submit-completion-bracket',
  scaled: 'submit-completion-bracket-scaled',
  perSubmit: 'per-submit-bracket',
} as const;

/** The feasible offset interval of one submit under a given scale. */
export function offsetBounds(sample: SubmitSample, scale = 1, tickUncertaintyNs = 0): { lo: number; hi: number } {
  return {
    lo: sample.cpuSubmitNs - scale * sample.firstTick - tickUncertaintyNs,
    hi: sample.cpuDoneNs - scale * sample.lastTick + tickUncertaintyNs,
  };
}

function intersect(samples: readonly SubmitSample[], scale: number, slack: number): { lo: number; hi: number } {
  let lo = -Infinity;
  let hi = Infinity;
  for (const s of samples) {
    const b = offsetBounds(s, scale, slack);
    if (b.lo > lo) lo = b.lo;
    if (b.hi < hi) hi = b.hi;
  }
  return { lo, hi };
}

/**
 * Fits the GPU→CPU clock map from per-submit brackets. Returns undefined when there is no sample.
 * Samples whose ticks are not finite or run backwards are skipped (their offsets are undefined).
 */
export function alignClock(samples: readonly SubmitSample[], options: AlignClockOptions = {}): ClockAlignment | undefined {
  const slack = Math.max(0, options.tickUncertaintyNs ?? 0);
  const maxDev = options.maxScaleDeviation ?? 1e-3;
  const usable = samples.map(
    (s) =>
      Number.isFinite(s.firstTick) &&
      Number.isFinite(s.lastTick) &&
      Number.isFinite(s.cpuSubmitNs) &&
      Number.isFinite(s.cpuDoneNs) &&
      s.lastTick >= s.firstTick &&
      s.cpuDoneNs >= s.cpuSubmitNs,
  );
  const good = samples.filter((_, i) => usable[i]);
  if (good.length === 0) return undefined;
  const base = options.tickBase ?? 0n;
  const finish = (method: string, scale: number, offsets: (number | undefined)[], uncertaintyNs: number, used: number, common?: number): ClockAlignment => {
    const defined = offsets.filter((o): o is number => o !== undefined);
    // Per-submit offsets differ; the trace then gets their mean as the representative offset.
    const offsetRel = common ?? defined.reduce((a, b) => a + b, 0) / Math.max(1, defined.length);
    return {
      fit: { method, offsetNs: offsetRel - scale * Number(base), scale, uncertaintyNs, samples: used },
      scale,
      offsets,
    };
  };

  // 1. One offset, scale 1.
  const one = intersect(good, 1, slack);
  if (one.lo <= one.hi) {
    const offset = (one.lo + one.hi) / 2;
    return finish(
      CLOCK_METHODS.bracket,
      1,
      samples.map((_, i) => (usable[i] ? offset : undefined)),
      (one.hi - one.lo) / 2,
      good.length,
      offset,
    );
  }

  // 2. One offset, fitted scale: width(scale) = hi(scale) - lo(scale) is concave (min of linear minus max of linear).
  if (good.length >= 2 && maxDev > 0) {
    const width = (scale: number): number => {
      const b = intersect(good, scale, slack);
      return b.hi - b.lo;
    };
    let a = 1 - maxDev;
    let b = 1 + maxDev;
    for (let iter = 0; iter < 200 && b - a > 1e-15; iter++) {
      const m1 = a + (b - a) / 3;
      const m2 = b - (b - a) / 3;
      if (width(m1) < width(m2)) a = m1;
      else b = m2;
    }
    const scale = (a + b) / 2;
    const best = intersect(good, scale, slack);
    if (best.lo <= best.hi) {
      const offset = (best.lo + best.hi) / 2;
      return finish(
        CLOCK_METHODS.scaled,
        scale,
        samples.map((_, i) => (usable[i] ? offset : undefined)),
        (best.hi - best.lo) / 2,
        good.length,
        offset,
      );
    }
  }

  // 3. Each submit on its own (scale 1); a submit that cannot be bracketed gets none.
  let uncertaintyNs = 0;
  let used = 0;
  const offsets = samples.map((s, i) => {
    if (!usable[i]) return undefined;
    const b = offsetBounds(s, 1, slack);
    if (b.lo > b.hi) return undefined;
    used++;
    uncertaintyNs = Math.max(uncertaintyNs, (b.hi - b.lo) / 2);
    return (b.lo + b.hi) / 2;
  });
  if (used === 0) return undefined;
  return finish(CLOCK_METHODS.perSubmit, 1, offsets, uncertaintyNs, used);
}

/**
 * Maps one tick interval of a submit onto the CPU clock, clamped into the submit's bracket (the fit
 * guarantees it up to float rounding; clamping removes the rounding). Undefined when the submit has
 * no offset or the interval is empty (begin == end: a duration the data does not support).
 */
export function mapInterval(
  alignment: ClockAlignment,
  sampleIndex: number,
  sample: SubmitSample,
  beginTick: number,
  endTick: number,
): { startNs: number; endNs: number } | undefined {
  const offset = alignment.offsets[sampleIndex];
  if (offset === undefined || !(endTick > beginTick)) return undefined;
  const clamp = (v: number) => Math.min(sample.cpuDoneNs, Math.max(sample.cpuSubmitNs, v));
  const startNs = clamp(alignment.scale * beginTick + offset);
  const endNs = clamp(alignment.scale * endTick + offset);
  return endNs > startNs ? { startNs, endNs } : undefined;
}
