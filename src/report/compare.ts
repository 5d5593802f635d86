// `wgprof compare BASE NEW`: per kernel, op and step, the time per step and the calls of two traces
// side by side, the change, and a noise estimate from the per-step spread. A row regresses when its
// time per step grew by more than the threshold and by more than the noise: twice the standard error
// of the difference of the two per-step means (about 95% for normal spread). One step gives no spread:
// the noise is then unknown and the threshold alone decides.

import type { TraceDigest } from './digest.js';

export type CompareKind = 'kernel' | 'op' | 'step';
export const COMPARE_KINDS: readonly CompareKind[] = ['kernel', 'op', 'step'];

export interface CompareSide {
  /** Mean time per step, µs (GPU time for kernels and copies, CPU time for ops, wall time for steps). */
  meanUs: number;
  /** Standard deviation of the per-step time, µs (0 with one step). */
  stdUs: number;
  steps: number;
  totalUs: number;
  calls: number;
}

export interface CompareRow {
  kind: CompareKind;
  name: string;
  base: CompareSide | null;
  new: CompareSide | null;
  /** (new − base) / base, in %; null when a side is missing or the base is 0. */
  deltaPct: number | null;
  /** The noise bound in % of the base; null when unknown (a side with < 2 steps). */
  noisePct: number | null;
  regressed: boolean;
  verdict: 'regressed' | 'improved' | 'same' | 'new' | 'gone';
}

export interface CompareResult {
  base: string;
  new: string;
  thresholdPct: number;
  rows: CompareRow[];
  regressions: CompareRow[];
}

export interface CompareOptions {
  /** Growth that counts as a regression, % (default 5). */
  thresholdPct?: number;
  /** Row kinds compared (default all). */
  kinds?: readonly CompareKind[];
}

function side(perStepNs: number[], totalNs: number, calls: number): CompareSide {
  const n = perStepNs.length;
  const mean = n > 0 ? perStepNs.reduce((a, b) => a + b, 0) / n : totalNs;
  const variance = n > 1 ? perStepNs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { meanUs: mean / 1000, stdUs: Math.sqrt(variance) / 1000, steps: n, totalUs: totalNs / 1000, calls };
}

/** Every comparable row of one trace, keyed by kind and name. */
function rowsOf(d: TraceDigest): Map<string, { kind: CompareKind; name: string; side: CompareSide }> {
  const out = new Map<string, { kind: CompareKind; name: string; side: CompareSide }>();
  const calls = new Map(d.keyAverages.rows.map((r) => [r.name, r.calls]));
  for (const s of d.series) {
    const total = s.perStepNs.reduce((a, b) => a + b, 0) + s.outsideNs;
    if (s.name === 'ProfilerStep*' && s.kind === 'host') {
      out.set('step\u0000step time', { kind: 'step', name: 'step time', side: side(s.perStepNs, total, s.calls) });
      continue;
    }
    const kind: CompareKind = s.kind === 'gpu' ? 'kernel' : 'op';
    out.set(`${kind}\u0000${s.name}`, { kind, name: s.name, side: side(s.perStepNs, total, calls.get(s.name) ?? s.calls) });
  }
  if (d.steps.length > 0 && d.steps.some((s) => s.gpuNs > 0)) {
    const per = d.steps.map((s) => s.gpuNs);
    out.set('step\u0000GPU time per step', {
      kind: 'step',
      name: 'GPU time per step',
      side: side(
        per,
        per.reduce((a, b) => a + b, 0),
        d.steps.length,
      ),
    });
  }
  return out;
}

/** Compares two digests row by row. */
export function compareDigests(base: TraceDigest, next: TraceDigest, options: CompareOptions = {}): CompareResult {
  const thresholdPct = options.thresholdPct ?? 5;
  const kinds = new Set(options.kinds ?? COMPARE_KINDS);
  const a = rowsOf(base);
  const b = rowsOf(next);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  const rows: CompareRow[] = [];
  for (const key of keys) {
    const ra = a.get(key);
    const rb = b.get(key);
    const kind = (ra ?? rb)!.kind;
    if (!kinds.has(kind)) continue;
    const sa = ra?.side ?? null;
    const sb = rb?.side ?? null;
    let deltaPct: number | null = null;
    let noisePct: number | null = null;
    let regressed = false;
    let verdict: CompareRow['verdict'] = sa === null ? 'new' : sb === null ? 'gone' : 'same';
    if (sa && sb && sa.meanUs > 0) {
      const diff = sb.meanUs - sa.meanUs;
      deltaPct = (diff / sa.meanUs) * 100;
      const known = sa.steps > 1 && sb.steps > 1;
      const noiseUs = known ? 2 * Math.sqrt(sa.stdUs ** 2 / sa.steps + sb.stdUs ** 2 / sb.steps) : 0;
      noisePct = known ? (noiseUs / sa.meanUs) * 100 : null;
      if (deltaPct > thresholdPct && diff > noiseUs) {
        regressed = true;
        verdict = 'regressed';
      } else if (deltaPct < -thresholdPct && -diff > noiseUs) verdict = 'improved';
    }
    rows.push({ kind, name: (ra ?? rb)!.name, base: sa, new: sb, deltaPct, noisePct, regressed, verdict });
  }
  const order: Record<CompareKind, number> = { step: 0, kernel: 1, op: 2 };
  rows.sort(
    (x, y) =>
      order[x.kind] - order[y.kind] ||
      Number(y.regressed) - Number(x.regressed) ||
      (y.base?.meanUs ?? y.new?.meanUs ?? 0) - (x.base?.meanUs ?? x.new?.meanUs ?? 0),
  );
  return { base: base.source, new: next.source, thresholdPct, rows, regressions: rows.filter((r) => r.regressed) };
}

function us(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(3)}s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(3)}ms`;
  return `${v.toFixed(3)}us`;
}

/** The comparison as a text table (one row per kernel / op / step). */
export function formatCompare(result: CompareResult, limit = 100): string {
  const header = ['kind', 'name', 'base/step', 'new/step', 'delta', 'noise', 'calls base', 'calls new', 'verdict'];
  const cells = result.rows
    .slice(0, limit)
    .map((r) => [
      r.kind,
      r.name.length > 48 ? r.name.slice(0, 45) + '...' : r.name,
      r.base ? us(r.base.meanUs) : '--',
      r.new ? us(r.new.meanUs) : '--',
      r.deltaPct === null ? '--' : `${r.deltaPct >= 0 ? '+' : ''}${r.deltaPct.toFixed(1)}%`,
      r.noisePct === null ? '--' : `±${r.noisePct.toFixed(1)}%`,
      r.base ? String(r.base.calls) : '--',
      r.new ? String(r.new.calls) : '--',
      r.verdict === 'regressed' ? 'REGRESSED' : r.verdict,
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((x, i) => (i === 1 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [
    `base: ${result.base}`,
    `new:  ${result.new}`,
    `threshold: ${result.thresholdPct}% beyond noise (2 standard errors of the per-step means)`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
  ];
  if (result.rows.length > limit) out.push(`... ${result.rows.length - limit} more rows (--limit)`);
  out.push('');
  out.push(
    result.regressions.length === 0
      ? 'no regression'
      : `${result.regressions.length} regression(s): ${result.regressions.map((r) => `${r.name} (${r.kind}, +${r.deltaPct!.toFixed(1)}%)`).join(', ')}`,
  );
  return out.join('\n') + '\n';
}
