// Does `wgprof summarize` agree with the trace's own per-step totals? wgprof writes on each
// `ProfilerStep#N` user_annotation the kernels it ran (`kernels`) and their GPU time with copies
// (`gpu_time_us`). Key averages must find the same: as many kernel calls as kernels (a kernel counted
// both as its op and as itself is the double count of issue 13), the same GPU time in total, and all of
// it under the ProfilerStep* row.

import type { KinetoTrace } from '../trace/kineto.js';
import { keyAverages } from './key-averages.js';
import type { KeyAverages } from './key-averages.js';
import type { TraceDigest } from './digest.js';

export interface StepTotalsCheck {
  ok: boolean;
  /** What disagrees, in words; [] when ok. */
  problems: string[];
  /** Steps carrying both totals. */
  steps: number;
  kernels: { steps: number; keyAverages: number };
  gpuTimeUs: { steps: number; keyAverages: number; profilerStepRow: number };
}

interface StepArgs {
  kernels: number | null;
  gpuTimeUs: number | null;
}

const STEP_NAME = /^ProfilerStep\s*#\s*\d+$/;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** ns, so that µs sums compare exactly (the trace writes µs with 3 decimals). */
function ns(us: number): number {
  return Math.round(us * 1000);
}

function check(ka: KeyAverages, steps: StepArgs[]): StepTotalsCheck {
  const problems: string[] = [];
  const withTotals = steps.filter((s) => s.kernels !== null && s.gpuTimeUs !== null);
  const stepKernels = withTotals.reduce((sum, s) => sum + s.kernels!, 0);
  const stepGpuNs = withTotals.reduce((sum, s) => sum + ns(s.gpuTimeUs!), 0);
  const kernelRows = ka.rows.filter((r) => r.kernels > 0);
  const kaKernelCalls = kernelRows.reduce((sum, r) => sum + r.calls, 0);
  const stepRow = ka.rows.find((r) => r.name === 'ProfilerStep*');
  const result: StepTotalsCheck = {
    ok: false,
    problems,
    steps: withTotals.length,
    kernels: { steps: stepKernels, keyAverages: kaKernelCalls },
    gpuTimeUs: { steps: stepGpuNs / 1000, keyAverages: ka.selfGpuTotalUs, profilerStepRow: stepRow?.gpuTotalUs ?? 0 },
  };
  if (steps.length === 0) problems.push('the trace has no ProfilerStep#N annotation');
  else if (withTotals.length < steps.length)
    problems.push(`${steps.length - withTotals.length} of ${steps.length} ProfilerStep annotations lack the "kernels" / "gpu_time_us" args wgprof writes`);
  if (kaKernelCalls !== stepKernels) {
    const off = kernelRows.filter((r) => r.calls !== r.kernels).map((r) => `${r.name}: ${r.calls} calls for ${r.kernels} kernels`);
    problems.push(
      `key averages count ${kaKernelCalls} kernel calls; the steps say ${stepKernels} ` +
        `kernels${off.length > 0 ? ` (${off.slice(0, 5).join('; ')}${off.length > 5 ? '; ...' : ''})` : ''}`,
    );
  }
  if (ns(ka.selfGpuTotalUs) !== stepGpuNs)
    problems.push(`key averages' Self GPU total is ${ka.selfGpuTotalUs} µs; the steps' gpu_time_us add up to ${stepGpuNs / 1000} µs`);
  if (withTotals.length > 0 && ns(stepRow?.gpuTotalUs ?? 0) !== stepGpuNs) {
    problems.push(
      `the ProfilerStep* row has ${stepRow?.gpuTotalUs ?? 0} µs of GPU time under it; the steps' gpu_time_us add up to ${stepGpuNs / 1000} µs (GPU ` +
        `work attributed outside its step)`,
    );
  }
  result.ok = problems.length === 0;
  return result;
}

/** Checks a parsed trace's key averages (computed here unless given) against its per-step totals. */
export function checkStepTotals(trace: KinetoTrace, ka: KeyAverages = keyAverages(trace)): StepTotalsCheck {
  const steps: StepArgs[] = [];
  for (const e of trace.traceEvents) {
    if (e === null || typeof e !== 'object' || e.ph !== 'X' || e.cat !== 'user_annotation' || !STEP_NAME.test(String(e.name))) continue;
    steps.push({ kernels: num(e.args?.['kernels']), gpuTimeUs: num(e.args?.['gpu_time_us']) });
  }
  return check(ka, steps);
}

/** The same check on a streamed digest (files of any size). */
export function checkDigestStepTotals(digest: TraceDigest): StepTotalsCheck {
  return check(
    digest.keyAverages,
    digest.steps.map((s) => ({ kernels: s.kernelsArg, gpuTimeUs: s.gpuTimeUsArg })),
  );
}
