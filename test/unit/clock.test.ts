// Clock alignment (src/instrument/clock.ts): GPU ticks onto the CPU timeline so that every kernel lies
// between its submit and its observed completion.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alignClock, CLOCK_METHODS, mapInterval, offsetBounds, type ClockAlignment, type SubmitSample } from '../../src/instrument/clock.js';
import { mulberry32 as rng } from '../../src/engine/weights.js';

interface Kernel {
  submit: number;
  begin: number;
  end: number;
}

/**
 * Simulates submits: the GPU clock is cpu = scale * tick + trueOffset; each submit launches after a
 * random latency, runs a few kernels back to back, and completes; the CPU observes it a little later.
 */
function simulate(options: { submits: number; trueOffset: number; scale?: number; seed?: number }): { samples: SubmitSample[]; kernels: Kernel[] } {
  const random = rng(options.seed ?? 1);
  const scale = options.scale ?? 1;
  const samples: SubmitSample[] = [];
  const kernels: Kernel[] = [];
  let cpu = 5_000_000;
  for (let s = 0; s < options.submits; s++) {
    const cpuSubmitNs = cpu;
    let gpuCpu = cpu + 20_000 + random() * 200_000; // launch latency
    const first = (gpuCpu - options.trueOffset) / scale;
    let last = first;
    for (let k = 0; k < 3; k++) {
      const begin = (gpuCpu - options.trueOffset) / scale;
      gpuCpu += 50_000 + random() * 500_000;
      const end = (gpuCpu - options.trueOffset) / scale;
      kernels.push({ submit: s, begin, end });
      last = end;
      gpuCpu += 1_000;
    }
    const cpuDoneNs = gpuCpu + 10_000 + random() * 300_000; // map observed later
    samples.push({ cpuSubmitNs, cpuDoneNs, firstTick: first, lastTick: last });
    cpu = cpuDoneNs + random() * 1_000_000;
  }
  return { samples, kernels };
}

function assertInsideBrackets(alignment: ClockAlignment, samples: SubmitSample[], kernels: Kernel[]): void {
  let previousEnd = -Infinity;
  for (const k of kernels) {
    const sample = samples[k.submit]!;
    const mapped = mapInterval(alignment, k.submit, sample, k.begin, k.end);
    assert.ok(mapped, 'every kernel of a bracketed submit is mapped');
    assert.ok(mapped.startNs >= sample.cpuSubmitNs, 'kernel starts after its submit');
    assert.ok(mapped.endNs <= sample.cpuDoneNs, 'kernel ends before its completion was observed');
    assert.ok(mapped.endNs > mapped.startNs);
    assert.ok(mapped.startNs >= previousEnd - 1e-6, 'order preserved');
    previousEnd = mapped.endNs;
  }
}

describe('alignClock', () => {
  test('scale 1: one offset from the intersection of all brackets, its midpoint, half width as uncertainty', () => {
    const trueOffset = -1_234_567_890_123;
    const { samples, kernels } = simulate({ submits: 20, trueOffset });
    const alignment = alignClock(samples)!;
    assert.equal(alignment.fit.method, CLOCK_METHODS.bracket);
    assert.equal(alignment.scale, 1);
    assert.equal(alignment.fit.samples, 20);
    const lo = Math.max(...samples.map((s) => offsetBounds(s).lo));
    const hi = Math.min(...samples.map((s) => offsetBounds(s).hi));
    assert.ok(lo <= trueOffset && trueOffset <= hi, 'the true offset is feasible');
    assert.equal(alignment.fit.offsetNs, (lo + hi) / 2);
    assert.equal(alignment.fit.uncertaintyNs, (hi - lo) / 2);
    assert.ok(Math.abs(alignment.fit.offsetNs - trueOffset) <= alignment.fit.uncertaintyNs);
    assert.ok(alignment.offsets.every((o) => o === alignment.fit.offsetNs));
    assertInsideBrackets(alignment, samples, kernels);
  });

  test('more submits narrow the uncertainty', () => {
    const few = alignClock(simulate({ submits: 2, trueOffset: 0, seed: 7 }).samples)!;
    const many = alignClock(simulate({ submits: 50, trueOffset: 0, seed: 7 }).samples)!;
    assert.ok(many.fit.uncertaintyNs <= few.fit.uncertaintyNs);
  });

  test('drift (GPU clock 300 ppm fast): scale 1 is infeasible, a fitted scale brackets every submit', () => {
    const { samples, kernels } = simulate({ submits: 40, trueOffset: 77_000, scale: 1 - 3e-4, seed: 3 });
    // Spread the submits over ~10 s so the drift (3 ms) exceeds every bracket's slack.
    let shift = 0;
    const spread = samples.map((s, i) => {
      shift = i * 250_000_000;
      return {
        ...s,
        cpuSubmitNs: s.cpuSubmitNs + shift,
        cpuDoneNs: s.cpuDoneNs + shift,
        firstTick: s.firstTick + shift / (1 - 3e-4),
        lastTick: s.lastTick + shift / (1 - 3e-4),
      };
    });
    const spreadKernels = kernels.map((k) => ({
      ...k,
      begin: k.begin + (k.submit * 250_000_000) / (1 - 3e-4),
      end: k.end + (k.submit * 250_000_000) / (1 - 3e-4),
    }));
    const lo1 = Math.max(...spread.map((s) => offsetBounds(s).lo));
    const hi1 = Math.min(...spread.map((s) => offsetBounds(s).hi));
    assert.ok(lo1 > hi1, 'precondition: no single offset works at scale 1');
    const alignment = alignClock(spread)!;
    assert.equal(alignment.fit.method, CLOCK_METHODS.scaled);
    assert.ok(Math.abs(alignment.scale - (1 - 3e-4)) < 1e-5, `scale ${alignment.scale}`);
    assertInsideBrackets(alignment, spread, spreadKernels);
  });

  test('inconsistent brackets fall back to one offset per submit, each kernel inside its own submit', () => {
    const { samples, kernels } = simulate({ submits: 3, trueOffset: 0, seed: 5 });
    // The middle submit's ticks jump by 1 s (a clock reset): no common offset or scale near 1 fits.
    const jumped = samples.map((s, i) => (i === 1 ? { ...s, firstTick: s.firstTick + 1e9, lastTick: s.lastTick + 1e9 } : s));
    const jumpedKernels = kernels.map((k) => (k.submit === 1 ? { ...k, begin: k.begin + 1e9, end: k.end + 1e9 } : k));
    const alignment = alignClock(jumped)!;
    assert.equal(alignment.fit.method, CLOCK_METHODS.perSubmit);
    assert.equal(alignment.fit.samples, 3);
    assert.notEqual(alignment.offsets[0], alignment.offsets[1]);
    for (const k of jumpedKernels) {
      const sample = jumped[k.submit]!;
      const mapped = mapInterval(alignment, k.submit, sample, k.begin, k.end)!;
      assert.ok(mapped.startNs >= sample.cpuSubmitNs && mapped.endNs <= sample.cpuDoneNs);
    }
  });

  test('a submit whose GPU span exceeds its CPU window (garbage ticks) gets no offset, and its kernels no interval', () => {
    const good: SubmitSample = { cpuSubmitNs: 1_000, cpuDoneNs: 2_000_000, firstTick: 500, lastTick: 900_000 };
    const garbage: SubmitSample = { cpuSubmitNs: 3_000_000, cpuDoneNs: 3_100_000, firstTick: 10, lastTick: 5e12 };
    const alignment = alignClock([good, garbage])!;
    assert.equal(alignment.fit.method, CLOCK_METHODS.perSubmit);
    assert.equal(alignment.fit.samples, 1);
    assert.equal(alignment.offsets[1], undefined);
    assert.equal(mapInterval(alignment, 1, garbage, 10, 20), undefined);
    assert.ok(mapInterval(alignment, 0, good, 500, 900_000));
  });

  test('nothing usable → undefined; a zero-width interval is never mapped', () => {
    assert.equal(alignClock([]), undefined);
    assert.equal(alignClock([{ cpuSubmitNs: 10, cpuDoneNs: 5, firstTick: 0, lastTick: 1 }]), undefined);
    assert.equal(alignClock([{ cpuSubmitNs: 0, cpuDoneNs: 5, firstTick: 3, lastTick: 1 }]), undefined);
    assert.equal(alignClock([{ cpuSubmitNs: 0, cpuDoneNs: 5, firstTick: Number.NaN, lastTick: 1 }]), undefined);
    const sample = { cpuSubmitNs: 0, cpuDoneNs: 1_000, firstTick: 100, lastTick: 200 };
    const alignment = alignClock([sample])!;
    assert.equal(mapInterval(alignment, 0, sample, 150, 150), undefined);
    assert.equal(mapInterval(alignment, 0, sample, 150, 140), undefined);
  });

  test('tickBase makes fit.offsetNs apply to raw ticks', () => {
    const base = 1_000_000_000_000n;
    const sample = { cpuSubmitNs: 5_000, cpuDoneNs: 9_000, firstTick: 1_000, lastTick: 2_000 };
    const alignment = alignClock([sample], { tickBase: base })!;
    // Relative offset: [5000 - 1000, 9000 - 2000] = [4000, 7000] → 5500.
    assert.equal(alignment.offsets[0], 5_500);
    assert.equal(alignment.fit.offsetNs, 5_500 - 1e12);
    // A raw tick maps the same way through either.
    const raw = 1_000_000_001_500;
    assert.equal(raw * alignment.fit.scale + alignment.fit.offsetNs, 1_500 + 5_500);
  });

  test('quantized ticks: bounds widen by the quantum and mapped kernels are clamped into the bracket', () => {
    const q = 65_536;
    // True GPU work from cpu 10_000 to 70_000, ticks truncated to multiples of q: 0 .. 65_536 with offset 10_000 - 0.
    const sample = { cpuSubmitNs: 9_000, cpuDoneNs: 71_000, firstTick: 0, lastTick: 65_536 };
    // Taken at face value the ticks span 65 536 ns, longer than the 62 000 ns CPU window: unbracketable.
    assert.equal(alignClock([sample]), undefined);
    const widened = alignClock([sample], { tickUncertaintyNs: q })!;
    assert.equal(widened.fit.method, CLOCK_METHODS.bracket);
    assert.ok(widened.fit.uncertaintyNs > 0);
    const mapped = mapInterval(widened, 0, sample, 0, 65_536)!;
    assert.ok(mapped.startNs >= sample.cpuSubmitNs && mapped.endNs <= sample.cpuDoneNs);
  });
});
