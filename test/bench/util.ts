// Shared benchmark helpers (STYLE §14): distributions that keep every sample, ratios measured in one run,
// the adapter and flags a result was measured with, and JSON output to a file.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterFacts } from '../../src/gpu/device.js';

/** The repository root (test/bench/ is two levels down). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `npm run bench` writes its JSON results (git-ignored). */
export const BENCH_RESULTS_DIR = join(REPO_ROOT, 'bench-results');

/** A set of measurements: order statistics plus every sample, in the order measured (warm-up excluded). */
export interface Distribution {
  /** What the numbers are, e.g. 'us' (GPU microseconds), 'ms', 'ratio'. */
  unit: string;
  count: number;
  min: number;
  median: number;
  /** Nearest-rank 90th percentile. */
  p90: number;
  max: number;
  mean: number;
  /** Every sample, in measurement order. */
  samples: number[];
}

/** Summarizes samples. Throws on an empty or non-finite set: a bench never reports a made-up number. */
export function distribution(samples: readonly number[], unit: string): Distribution {
  if (samples.length === 0) throw new Error(`distribution (${unit}): no samples were given; measure at least one iteration`);
  const bad = samples.find((s) => !Number.isFinite(s));
  if (bad !== undefined) throw new Error(`distribution (${unit}): sample ${String(bad)} is not a finite number; every sample must be measured`);
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    unit,
    count: n,
    min: sorted[0]!,
    median,
    p90: sorted[Math.min(n - 1, Math.ceil(0.9 * n) - 1)]!,
    max: sorted[n - 1]!,
    mean: samples.reduce((a, b) => a + b, 0) / n,
    samples: [...samples],
  };
}

/** `numerator / denominator`; throws when the denominator is not a positive number (a ratio to 0 means nothing). */
export function ratio(numerator: number, denominator: number): number {
  if (!(denominator > 0) || !Number.isFinite(numerator)) {
    throw new Error(`ratio: ${String(numerator)} / ${String(denominator)} is undefined; the denominator must be a positive measurement`);
  }
  return numerator / denominator;
}

/** Element-wise ratios of paired samples (a[i] / b[i]), e.g. interleaved runs of two implementations. */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`pairedRatios: ${a.length} samples vs ${b.length}; pairs need equal counts`);
  return a.map((x, i) => ratio(x, b[i]!));
}

/** `0.83x` style. */
export function formatRatio(value: number, digits = 2): string {
  return `${value.toFixed(digits)}x`;
}

/** A number with a sensible number of significant digits for a table. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** `median (min–max, n=10)` in the distribution's unit. */
export function formatDistribution(d: Distribution): string {
  return `${formatNumber(d.median)} ${d.unit} (min ${formatNumber(d.min)}, p90 ${formatNumber(d.p90)}, max ${formatNumber(d.max)}, n=${d.count})`;
}

/** A plain text table: a header row, a rule, then rows; columns padded to their widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** What a result was measured on: the adapter (as `requestGpuDevice` reports it), the runtime and its flags. */
export interface BenchEnvironment {
  /** ISO time the run started. */
  date: string;
  node: string;
  platform: string;
  arch: string;
  cpus: number;
  /** Node flags (e.g. --liftoff-only) and the bench's argv. */
  execArgv: string[];
  argv: string[];
  /** Environment variables that change what runs (Vulkan driver, log level). */
  env: Record<string, string>;
  adapter: AdapterFacts | null;
}

const RECORDED_ENV = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'WGPROF_LOG', 'XDG_RUNTIME_DIR'];

export async function benchEnvironment(adapter: AdapterFacts | null): Promise<BenchEnvironment> {
  const os = await import('node:os');
  const env: Record<string, string> = {};
  for (const key of RECORDED_ENV) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: os.cpus().length,
    execArgv: [...process.execArgv],
    argv: process.argv.slice(2),
    env,
    adapter,
  };
}

/** `2024-05-01T12-00-00-000Z`: an ISO time usable in a file name. */
export function fileTimestamp(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/** Writes `value` as pretty JSON to `<dir>/<name>-<timestamp>.json` (the folder is created) and returns the path. */
export function writeBenchJson(name: string, value: unknown, dir = BENCH_RESULTS_DIR, date = new Date()): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`writeBenchJson: name "${name}" must be letters, digits, '.', '_' or '-' (it becomes a file name)`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}-${fileTimestamp(date)}.json`);
  writeFileSync(path, `${JSON.stringify(value, jsonReplacer, 2)}\n`);
  return path;
}

/** bigint (raw GPU ticks) is written as a decimal string; JSON has no 64-bit integers. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Deterministic floats in [-1, 1) (mulberry32): bench and test inputs that are the same on every run. */
export function seededFloats(count: number, seed: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
