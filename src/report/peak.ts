// The device's peak for the roofline: from the trace when it carries one (`wgprof.devicePeak`), from
// the command line, or measured here with a calibration kernel pair (kernels/peakFlops: FMA-bound;
// kernels/peakBandwidth: a vec4 copy) on the local WebGPU device. The report says which.
//
// The measuring itself is in calibrate.ts (it needs the WGSL kernels); this file only reads.

export interface DevicePeak {
  /** Peak compute, GFLOP/s; null when unknown. */
  gflops: number | null;
  /** Peak memory bandwidth, GB/s; null when unknown. */
  gbps: number | null;
  source: 'trace' | 'given' | 'measured' | 'none';
  /** In words: where it came from (the adapter it was measured on, how it was timed, why there is none). */
  detail: string;
}

/** `wgprof.devicePeak` of a trace (`{ gflops, gbps, method? }`), when present and positive. */
export function traceDevicePeak(header: Record<string, unknown>): DevicePeak | null {
  const w = header['wgprof'];
  const p = w !== null && typeof w === 'object' ? (w as Record<string, unknown>)['devicePeak'] : undefined;
  if (p === null || typeof p !== 'object') return null;
  const o = p as Record<string, unknown>;
  const pos = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);
  const gflops = pos(o['gflops']);
  const gbps = pos(o['gbps']);
  if (gflops === null && gbps === null) return null;
  return { gflops, gbps, source: 'trace', detail: `from the trace (wgprof.devicePeak${typeof o['method'] === 'string' ? `, ${o['method']}` : ''})` };
}
