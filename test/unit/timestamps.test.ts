// detectQuantization on synthetic ticks: Dawn's 65 536 ns rounding, browsers' 100 µs rounding, real ns
// clocks, too little data, and zero ticks (unwritten query slots).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detectQuantization } from '../../src/gpu/timestamps.js';

/** Deterministic pseudo-random 48-bit tick values around a SwiftShader-like host clock (~5e11 ns). */
function randomTicks(count: number, seed = 12345): bigint[] {
  let state = BigInt(seed);
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) {
    state = (state * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    out.push(536_931_259_873n + ((state >> 24n) % 1_000_000_000n));
  }
  return out;
}

/** Ticks that are odd multiples of `quantum`, so the quantum is exactly the largest common power-of-two/decimal step. */
function quantizedTicks(quantum: bigint, count: number): bigint[] {
  const base = 8_193_123n; // odd
  return Array.from({ length: count }, (_, i) => (base + 2n * BigInt(i * 37)) * quantum);
}

describe('detectQuantization', () => {
  test("Dawn's default 65 536 ns rounding is quantized with quantumNs 65536", () => {
    assert.deepEqual(detectQuantization(quantizedTicks(65_536n, 16)), { quantized: true, quantumNs: 65_536, samples: 16 });
  });

  test('the smallest power-of-two quantum that counts (1024 ns) is detected; 512 ns is not called quantization', () => {
    assert.deepEqual(detectQuantization(quantizedTicks(1024n, 8)), { quantized: true, quantumNs: 1024, samples: 8 });
    // 2^9 with odd multiples: not a decimal quantum either, so not quantized.
    assert.deepEqual(detectQuantization(quantizedTicks(512n, 8)), { quantized: false, samples: 8 });
  });

  test("browsers' 100 µs rounding is quantized with quantumNs 100000 (caught by the decimal check)", () => {
    const ticks = quantizedTicks(100_000n, 10);
    // 100 000 = 2^5 · 3125: the binary check alone would miss it.
    assert.deepEqual(detectQuantization(ticks), { quantized: true, quantumNs: 100_000, samples: 10 });
  });

  test('1 µs and 10 µs decimal quanta are detected', () => {
    assert.deepEqual(detectQuantization(quantizedTicks(1_000n, 6)), { quantized: true, quantumNs: 1_000, samples: 6 });
    assert.deepEqual(detectQuantization(quantizedTicks(10_000n, 6)), { quantized: true, quantumNs: 10_000, samples: 6 });
  });

  test('random ns ticks are not quantized', () => {
    for (const seed of [1, 2, 3, 42, 9001]) {
      const report = detectQuantization(randomTicks(16, seed));
      assert.deepEqual(report, { quantized: false, samples: 16 }, `seed ${seed}`);
    }
  });

  test('one unquantized tick among quantized ones makes the set unquantized', () => {
    const ticks = [...quantizedTicks(65_536n, 8), 536_931_259_873n];
    assert.deepEqual(detectQuantization(ticks), { quantized: false, samples: 9 });
  });

  test('too few samples gives null (unknown), never a guess', () => {
    assert.deepEqual(detectQuantization([]), { quantized: null, samples: 0 });
    assert.deepEqual(detectQuantization(quantizedTicks(65_536n, 3)), { quantized: null, samples: 3 });
    assert.deepEqual(detectQuantization(randomTicks(3)), { quantized: null, samples: 3 });
    assert.equal(detectQuantization(randomTicks(4)).quantized, false);
  });

  test('zero ticks (unwritten query slots) are ignored, not counted as samples', () => {
    assert.deepEqual(detectQuantization([0n, 0n, 0n, 0n, 0n, 0n]), { quantized: null, samples: 0 });
    assert.deepEqual(detectQuantization([0n, 0n, 0n, ...randomTicks(3)]), { quantized: null, samples: 3 });
    // Zero is a multiple of everything; ignoring it keeps real data from being misread.
    assert.deepEqual(detectQuantization([0n, ...randomTicks(4), 0n]), { quantized: false, samples: 4 });
    assert.deepEqual(detectQuantization([0n, ...quantizedTicks(65_536n, 4)]), { quantized: true, quantumNs: 65_536, samples: 4 });
  });

  test('large 64-bit tick values work (no Number precision loss)', () => {
    const big = [(1n << 62n) + 1n, (1n << 62n) + 3n, (1n << 62n) + 7n, (1n << 62n) + 9n];
    assert.deepEqual(detectQuantization(big), { quantized: false, samples: 4 });
    const bigQuantized = big.map((t) => (t >> 16n) << 16n).map((t) => t | (1n << 16n));
    assert.deepEqual(detectQuantization(bigQuantized), { quantized: true, quantumNs: 65_536, samples: 4 });
  });
});
