// Facts about raw GPU timestamp ticks, shared by `wgprof doctor` and the instrumentation.

export interface QuantizationReport {
  /** null when there are too few distinct values to tell. */
  quantized: boolean | null;
  /** Largest power of two (ns) dividing every tick, when quantized (e.g. 65536 for Dawn's default). */
  quantumNs?: number;
  /** Non-zero ticks looked at. */
  samples: number;
}

/** Power-of-two quanta at or above this are called quantization; below it is ordinary coincidence. */
const MIN_QUANTUM_NS = 1024;
/** With fewer ticks, "every value is a multiple of 1024" happens by chance too often (p = 2^-10 each). */
const MIN_SAMPLES = 4;

/**
 * Detects quantized timestamps: the largest power of two that divides every non-zero tick. Real,
 * unquantized ns clocks give a trailing-zero count of ~1 on average; Dawn's default rounding gives 16
 * (65 536 ns) on every tick, Chrome's 100 µs rounding gives at least 5 (100 000 = 2^5·3125) and
 * is caught by the decimal check.
 */
export function detectQuantization(ticks: readonly bigint[]): QuantizationReport {
  const values = ticks.filter((t) => t > 0n);
  if (values.length < MIN_SAMPLES) return { quantized: null, samples: values.length };
  let minZeros = 64;
  for (const v of values) minZeros = Math.min(minZeros, trailingZeros(v));
  const binary = 2 ** minZeros;
  if (binary >= MIN_QUANTUM_NS) return { quantized: true, quantumNs: binary, samples: values.length };
  // Decimal quanta (e.g. 100 µs in browsers without developer features).
  for (const quantum of [100_000n, 10_000n, 1_000n]) {
    if (values.every((v) => v % quantum === 0n)) return { quantized: true, quantumNs: Number(quantum), samples: values.length };
  }
  return { quantized: false, samples: values.length };
}

function trailingZeros(v: bigint): number {
  let n = 0;
  while (n < 64 && (v & (1n << BigInt(n))) === 0n) n++;
  return n;
}
