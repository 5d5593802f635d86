// JSON text helpers for the trace writer: Kineto's number format for times, string escaping that keeps
// every name and arg valid JSON whatever it contains, and a value writer whose output JSON.parse maps
// back to exactly what `cleanJson` returns (so buildTrace and serializeTrace agree byte for value).

import type { TraceJson } from './kineto.js';

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000'];
// The seconds prefix of the last timestamp: consecutive events share it, and number-to-string of a
// 13-digit double is the slow part of formatting (test/bench/trace.ts).
let lastSec = -1;
let lastSecText = '';

/**
 * Kineto's `fmtTs`: integer ns as microseconds with exactly 3 decimals ("{us}.{ns:03}").
 * `ns` must be a non-negative integer below 2^53 (callers round and clamp).
 */
export function fmtUs(ns: number): string {
  const sec = Math.floor(ns / 1e9);
  const low = ns - sec * 1e9; // < 1e9: small-integer arithmetic from here on
  const us = (low / 1000) | 0;
  const rem = low - us * 1000;
  const frac = rem < 10 ? '.00' + rem : rem < 100 ? '.0' + rem : '.' + rem;
  if (sec === 0) return us + frac;
  if (sec !== lastSec) {
    lastSec = sec;
    lastSecText = '' + sec;
  }
  const usText = '' + us;
  return lastSecText + ZEROS[6 - usText.length]! + usText + frac;
}

/** `[a,b,c]` for an array of finite numbers (the common arg shape); null for anything else. */
function finiteNumberArrayText(values: readonly unknown[]): string | null {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    out += (i > 0 ? ',' : '') + (v === 0 ? '0' : v);
  }
  return out + ']';
}

const hasToWellFormed = typeof (String.prototype as { toWellFormed?: unknown }).toWellFormed === 'function';
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Replaces lone UTF-16 surrogates by U+FFFD so the file is valid UTF-8 for every reader (Perfetto, Python). */
export function wellFormed(text: string): string {
  if (hasToWellFormed) return (text as string & { toWellFormed(): string }).toWellFormed();
  return text.replace(loneSurrogate, '\ufffd');
}

/** A JSON string literal for any JS string: quotes, backslashes and control chars escaped, surrogates repaired. */
export function jsonString(text: string): string {
  return JSON.stringify(wellFormed(text));
}

// Characters Kineto rewrites or rejects in event names (plus lone surrogates, which we repair).
const nameNeedsWork = /[\\\x00-\x1f\x7f\ud800-\udfff]/;
const controlChar = /[\x00-\x1f\x7f]/;

/**
 * Kineto's name sanitizing (output_json.cpp `sanitizeStrForJSON` + `sanitizeForNonReadableChars`):
 * `\` becomes `/`, newlines are removed (we drop `\r` too), and a name that still holds a control
 * character becomes "unknown". Non-ASCII text (emoji, CJK) is kept: Kineto's byte-wise `isprint`
 * would reject it, but it is valid JSON and every viewer shows it.
 */
export function sanitizeEventName(name: string): string {
  if (!nameNeedsWork.test(name)) return name;
  const cleaned = name.replace(/\\/g, '/').replace(/[\r\n]/g, '');
  if (controlChar.test(cleaned)) return 'unknown';
  return wellFormed(cleaned);
}

/**
 * Writes a JSON value. Non-finite numbers become null, -0 becomes 0, bigints become integers,
 * `undefined` members are skipped (in arrays: null), like JSON.stringify. Cycles throw.
 */
export function jsonText(value: unknown, seen?: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return Number.isFinite(value) ? (value === 0 ? '0' : String(value)) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      const stack = seen ?? new Set<object>();
      if (stack.has(value)) throw new TypeError('cyclic value in trace data');
      stack.add(value);
      let out: string;
      if (Array.isArray(value)) {
        const fast = value.length > 0 && typeof value[0] === 'number' ? finiteNumberArrayText(value) : null;
        if (fast !== null) {
          stack.delete(value);
          return fast;
        }
        out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          out += item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : jsonText(item, stack);
        }
        out += ']';
      } else {
        out = '{';
        let first = true;
        for (const key of Object.keys(value)) {
          const item: unknown = (value as Record<string, unknown>)[key];
          if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
          out += (first ? '' : ',') + jsonString(key) + ':' + jsonText(item, stack);
          first = false;
        }
        out += '}';
      }
      stack.delete(value);
      return out;
    }
    default:
      return 'null';
  }
}

/** The value JSON.parse(jsonText(value)) gives back, built directly (for the in-memory trace). */
export function cleanJson(value: unknown, seen?: Set<object>): TraceJson {
  switch (typeof value) {
    case 'string':
      return wellFormed(value);
    case 'number':
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : null;
    case 'boolean':
      return value;
    case 'bigint':
      return Number(value);
    case 'object': {
      if (value === null) return null;
      const stack = seen ?? new Set<object>();
      if (stack.has(value)) throw new TypeError('cyclic value in trace data');
      stack.add(value);
      let out: TraceJson;
      if (Array.isArray(value)) {
        out = value.map((item: unknown) => (item === undefined || typeof item === 'function' || typeof item === 'symbol' ? null : cleanJson(item, stack)));
      } else {
        const obj: Record<string, TraceJson> = {};
        for (const key of Object.keys(value)) {
          const item: unknown = (value as Record<string, unknown>)[key];
          if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
          obj[wellFormed(key)] = cleanJson(item, stack);
        }
        out = obj;
      }
      stack.delete(value);
      return out;
    }
    default:
      return null;
  }
}
