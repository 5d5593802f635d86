// Turning a window's resolved ticks into GPU intervals on the CPU clock: per submit, the ticks of its
// timed dispatches and bracketed copies bound the GPU→CPU offset (./clock.ts fits it over the window's
// submits); each interval is then mapped and clamped into its submit's bracket. What could not be timed
// is counted (CaptureStats) and said in words (TimestampInfo.note) — never a made-up duration.

import type { ClockFit, TimestampInfo, TimestampMode } from '../capture/model.js';
import { detectQuantization } from '../gpu/timestamps.js';
import { log } from '../util/log.js';
import { alignClock, mapInterval, type SubmitSample } from './clock.js';
import type { CaptureStats, CaptureWindow } from './window.js';

/** Ticks kept for quantization detection. */
const MAX_TICK_SAMPLES = 4096;

/** Raw ticks seen over the instrumentation's life: for quantization detection and a common base. */
export class TickHistory {
  readonly samples: bigint[] = [];
  base: bigint | undefined;

  see(begin: bigint, end: bigint): void {
    if (this.samples.length < MAX_TICK_SAMPLES) this.samples.push(begin, end);
    this.base ??= begin;
  }

  quantumNs(): number {
    return detectQuantization(this.samples).quantumNs ?? 0;
  }
}

/** A GPU interval to fill in: a dispatch record or a copy record. */
interface Timing {
  record: { gpuStartNs?: number; gpuEndNs?: number };
  begin: bigint;
  end: bigint;
  copy: boolean;
}

function validPair(begin: bigint | undefined, end: bigint | undefined): boolean {
  return begin !== undefined && end !== undefined && begin !== 0n && end >= begin;
}

/**
 * Fits the clock over the window's submits and writes GPU intervals into its dispatch records (given
 * in log order) and bracketed copy records. A copy's ticks are the last written before it and the first
 * written after it in the same command stream, so they share the dispatches' clock and fit.
 */
export function timeWindow(window: CaptureWindow, records: readonly { gpuStartNs?: number; gpuEndNs?: number }[], ticks: TickHistory): ClockFit | undefined {
  const { log: dispatchLog, stats } = window;
  const samples: SubmitSample[] = [];
  const sampleTimings: Timing[][] = [];
  for (const part of window.parts) {
    const { submit, timed, copies } = part;
    if (timed.length === 0 && copies.length === 0) continue;
    const resolved = submit.ticks;
    if (submit.ran !== true || submit.cpuDoneNs === undefined || resolved === undefined) {
      stats.failedSubmits += timed.length;
      stats.untimedCopies += copies.length;
      continue;
    }
    const valid: Timing[] = [];
    for (const i of timed) {
      const at = dispatchLog.tickIndex(i)!;
      const begin = resolved[at];
      const end = resolved[at + 1];
      if (validPair(begin, end)) valid.push({ record: records[i]!, begin: begin!, end: end!, copy: false });
      else stats.invalidTicks++;
    }
    for (const c of copies) {
      const begin = resolved[c.begin.slice.offset / 8 + c.begin.index];
      const end = c.end ? resolved[c.end.slice.offset / 8 + c.end.index] : undefined;
      if (validPair(begin, end)) valid.push({ record: c.record, begin: begin!, end: end!, copy: true });
      else stats.untimedCopies++;
    }
    if (valid.length === 0) continue;
    for (const t of valid) ticks.see(t.begin, t.end);
    const base = ticks.base!;
    let first = Infinity;
    let last = -Infinity;
    for (const t of valid) {
      first = Math.min(first, Number(t.begin - base));
      last = Math.max(last, Number(t.end - base));
    }
    samples.push({ cpuSubmitNs: submit.cpuSubmitNs, cpuDoneNs: submit.cpuDoneNs, firstTick: first, lastTick: last });
    sampleTimings.push(valid);
  }
  // Calibration pings: brackets with no work of their own, tight on both sides.
  if (samples.length > 0) {
    for (const ping of window.pings) {
      ticks.see(ping.beginTick, ping.endTick);
      samples.push({
        cpuSubmitNs: ping.cpuSubmitNs,
        cpuDoneNs: ping.cpuDoneNs,
        firstTick: Number(ping.beginTick - ticks.base!),
        lastTick: Number(ping.endTick - ticks.base!),
      });
      sampleTimings.push([]);
    }
  }
  if (samples.length === 0) return undefined;
  const options: { tickUncertaintyNs: number; tickBase?: bigint } = { tickUncertaintyNs: ticks.quantumNs() };
  if (ticks.base !== undefined) options.tickBase = ticks.base;
  const alignment = alignClock(samples, options);
  const base = ticks.base!;
  samples.forEach((sample, s) => {
    for (const t of sampleTimings[s] ?? []) {
      // Equal ticks: shorter than the timestamp resolution; the data supports no duration.
      if (t.begin === t.end) {
        if (t.copy) stats.untimedCopies++;
        else stats.zeroWidth++;
        continue;
      }
      const mapped = alignment ? mapInterval(alignment, s, sample, Number(t.begin - base), Number(t.end - base)) : undefined;
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

/** The trace's TimestampInfo for a window: the mode, quantization, and every reason GPU times are missing. */
export function timestampInfo(
  mode: TimestampMode,
  modeNote: string | undefined,
  reason: string | undefined,
  stats: CaptureStats,
  ticks: TickHistory,
): TimestampInfo {
  const info: TimestampInfo = { mode, quantized: null };
  if (reason !== undefined) info.reason = reason;
  const notes: string[] = [];
  if (modeNote) notes.push(modeNote);
  if (mode !== 'none') {
    const q = detectQuantization(ticks.samples);
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
      [
        stats.failedSubmits,
        'were in submits whose timestamps never came back (the submit did not run: a command buffer failed validation, or the backend executes ' +
          "nothing, like Dawn's null backend)",
      ],
      [stats.unsubmitted, 'were not submitted before flush()'],
    ];
    for (const [count, what] of untimed) if (count > 0) notes.push(`${count} dispatch(es) ${what}.`);
  }
  if (notes.length) info.note = notes.join(' ');
  return info;
}
