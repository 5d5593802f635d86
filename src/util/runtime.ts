// Which runtime we are in. Node-only modules are loaded with dynamic import behind these checks, so
// the browser bundle never touches them.

export const isNode: boolean = typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';

/** Wall-clock epoch time in ns as a bigint, from the high-resolution clock (performance.timeOrigin + now). */
export function epochNowNs(): bigint {
  const ms = performance.timeOrigin + performance.now();
  return BigInt(Math.round(ms * 1e6));
}

/** Monotonic time in ns (performance.now, relative to performance.timeOrigin). */
export function monotonicNowNs(): number {
  return performance.now() * 1e6;
}
