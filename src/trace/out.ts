// A growable UTF-8 byte buffer for the trace writer. Events are written straight into bytes: fixed
// JSON fragments are copied from pre-encoded arrays and numbers are written digit by digit, so the hot
// path allocates nothing per event. Building the text as JS strings instead leaves ropes of a few bytes
// per node; flattening and UTF-8 encoding those took longer than building them (~150 ms for the 18 MB
// of a 100k-event trace, against ~40 ms to write the same bytes here).

import { jsonText } from './json.js';

const encoder = new TextEncoder();

/** Bytes per slab that chunks are carved from. */
export const SLAB_BYTES = 1 << 20;

/** UTF-8 bytes of a string (fragments are encoded once, at module load or on first use). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** '000'..'999' as ASCII, 3 bytes per number: the fraction of every timestamp and the µs within a second. */
const DIGITS3 = new Uint8Array(3000);
for (let i = 0; i < 1000; i++) {
  DIGITS3[3 * i] = 48 + ((i / 100) | 0);
  DIGITS3[3 * i + 1] = 48 + (((i / 10) | 0) % 10);
  DIGITS3[3 * i + 2] = 48 + (i % 10);
}

/** 10^i for i < 17 (digit counts of safe integers). */
const POW10 = Array.from({ length: 17 }, (_, i) => 10 ** i);

const ZERO = 48;
const MINUS = 45;
const DOT = 46;
const COMMA = 44;
const OPEN = 91;
const CLOSE = 93;

export class ByteOut {
  buf: Uint8Array;
  /** Where the bytes not yet taken begin in `buf`. */
  private start = 0;
  pos = 0;

  /**
   * `chunkBytes`: the size chunks are taken at. Chunks are carved one after the other from slabs of
   * SLAB_BYTES (or one chunk, when larger), so small chunks do not each cost an allocation and the
   * chunks of one slab are adjacent views that a consumer can join without copying (writeTrace's deflate
   * segments). A taken chunk is never written again.
   */
  constructor(private readonly chunkBytes: number) {
    this.buf = new Uint8Array(this.slabBytes());
  }

  private slabBytes(): number {
    return Math.max(SLAB_BYTES, this.chunkBytes + 16 * 1024);
  }

  /** Bytes written and not yet taken. */
  pending(): number {
    return this.pos - this.start;
  }

  /** Hands over the bytes written since the last take (a view the caller may keep: it is never rewritten). */
  take(): Uint8Array {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    if (this.buf.length - this.pos < this.chunkBytes + 16 * 1024) {
      this.buf = new Uint8Array(this.slabBytes());
      this.start = this.pos = 0;
    }
    return out;
  }

  /** Room for `n` more bytes: moves the pending bytes to a new, larger slab when needed. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const grown = new Uint8Array(Math.max(this.slabBytes(), 2 * (pending + n)));
    grown.set(this.buf.subarray(this.start, this.pos));
    this.buf = grown;
    this.start = 0;
    this.pos = pending;
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** Copies pre-encoded bytes (a loop up to 16 bytes: TypedArray.set costs a builtin call). */
  bytes(src: Uint8Array): void {
    const n = src.length;
    if (this.pos + n > this.buf.length) this.reserve(n);
    const buf = this.buf;
    const p = this.pos;
    if (n > 16) buf.set(src, p);
    else for (let i = 0; i < n; i++) buf[p + i] = src[i]!;
    this.pos = p + n;
  }

  /** Any string, UTF-8 encoded (the caller has made it valid JSON text). */
  text(s: string): void {
    this.reserve(3 * s.length);
    this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** A non-negative safe integer in decimal. */
  uint(n: number): void {
    let digits = 1;
    while (digits < 16 && n >= POW10[digits]!) digits++;
    if (this.pos + digits > this.buf.length) this.reserve(digits);
    const buf = this.buf;
    let p = this.pos + digits;
    this.pos = p;
    if (n < 0x40000000) {
      // Small-integer arithmetic for the common case (ids, pids, µs within a second).
      do {
        const q = (n / 10) | 0;
        buf[--p] = ZERO + (n - q * 10);
        n = q;
      } while (n > 0);
    } else {
      do {
        const q = Math.floor(n / 10);
        buf[--p] = ZERO + (n - q * 10);
        n = q;
      } while (n > 0);
    }
  }

  /** A JSON number exactly as JSON.stringify / jsonText writes it (non-finite: null, -0: 0). */
  num(v: number): void {
    if (Number.isSafeInteger(v)) {
      if (v >= 0) this.uint(v);
      else {
        this.byte(MINUS);
        this.uint(-v);
      }
    } else if (Number.isFinite(v)) this.text(String(v));
    else this.text('null');
  }

  /** Kineto's `fmtUs` ("{us}.{ns:03}") for a non-negative integer number of ns below 2^53. */
  us(ns: number): void {
    const sec = Math.floor(ns / 1e9);
    const low = ns - sec * 1e9; // < 1e9: small-integer arithmetic from here on
    const us = (low / 1000) | 0;
    const frac = low - us * 1000;
    this.reserve(24);
    if (sec === 0) this.uint(us);
    else {
      this.uint(sec);
      const hi = (us / 1000) | 0;
      this.digits3(hi);
      this.digits3(us - hi * 1000);
    }
    this.buf[this.pos++] = DOT;
    this.digits3(frac);
  }

  private digits3(i: number): void {
    const buf = this.buf;
    const p = this.pos;
    buf[p] = DIGITS3[3 * i]!;
    buf[p + 1] = DIGITS3[3 * i + 1]!;
    buf[p + 2] = DIGITS3[3 * i + 2]!;
    this.pos = p + 3;
  }

  /**
   * Any JSON value, with jsonText's exact output: arrays of safe integers (grids, buffer sizes,
   * shapes, to depth 3) are written directly, everything else goes through jsonText.
   */
  value(v: unknown): void {
    if (typeof v === 'number') this.num(v);
    else {
      const at = this.pos - this.start; // relative: reserve() may move the pending bytes
      if (Array.isArray(v) && this.intArray(v, 0)) return;
      this.pos = this.start + at; // not all integers: drop what was written and let jsonText do it
      this.text(jsonText(v));
    }
  }

  /** `[a,b,...]` (nested: `[[..],[..]]`) while every leaf is a safe integer; false at the first one that is not. */
  private intArray(values: readonly unknown[], depth: number): boolean {
    this.byte(OPEN);
    for (let i = 0; i < values.length; i++) {
      if (i > 0) this.byte(COMMA);
      const v = values[i];
      if (typeof v === 'number' && Number.isSafeInteger(v)) {
        if (v >= 0) this.uint(v);
        else {
          this.byte(MINUS);
          this.uint(-v);
        }
      } else if (!(depth < 2 && Array.isArray(v) && this.intArray(v, depth + 1))) return false;
    }
    this.byte(CLOSE);
    return true;
  }
}
