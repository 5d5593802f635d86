// Seeded random numbers for sampling. Every request owns one generator seeded from its `seed`, and
// draws exactly one number per sampled token, so its samples depend only on the seed and on how many
// tokens it has sampled: not on batching, on other requests, or on the runtime. The arithmetic is
// 32-bit integer math (Math.imul, |0, >>>), which every JavaScript engine evaluates identically, so
// Node and browsers draw the same sequence.

import { WgprofError } from '../util/errors.js';

const TWO_POW_32 = 4294967296;
/** 2^24: uniforms are multiples of 2^-24, so they stay exact (and below 1) when the runner stores them as f32. */
const TWO_POW_24 = 16777216;

/** splitmix32's finalizer: a bijective 32-bit mix (good avalanche), used to expand seeds. */
function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function checkSeed(field: string, seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new WgprofError('INVALID_SEED', `${field} must be a safe integer (got ${String(seed)}); pass e.g. 0, 1 or 1234.`);
  }
}

/** The low and high 32 bits of a safe integer (two's complement for negative seeds). */
function seedWords(seed: number): [number, number] {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  return [lo, hi];
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded through splitmix32 so that
 * nearby seeds (0, 1, 2...) give unrelated streams.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    checkSeed('seed', seed);
    const [lo, hi] = seedWords(seed);
    let state = mix32(lo ^ mix32(hi ^ 0x5bd1e995));
    const next = (): number => {
      state = (state + 0x9e3779b9) | 0;
      return mix32(state);
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = 1;
    // sfc32's authors discard the first outputs so the state is fully mixed.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1), a multiple of 2^-24 (exact in f32, never rounds up to 1). */
  next(): number {
    return (this.nextUint32() >>> 8) / TWO_POW_24;
  }
}

/**
 * The seed of the `index`-th request of an engine seeded with `baseSeed`, for requests that name no
 * seed of their own: deterministic for a given engine seed and request order, distinct per request.
 */
export function deriveSeed(baseSeed: number, index: number): number {
  checkSeed('the engine seed', baseSeed);
  const [lo, hi] = seedWords(baseSeed);
  return mix32(mix32(lo ^ 0x27d4eb2f) ^ mix32(hi + 0x165667b1) ^ mix32(Math.imul(index + 1, 0x9e3779b9)));
}
