// Measurement truth, in Node (dawn.node on SwiftShader) and in headless Chromium: the GPU→CPU clock
// fit's half-width per captured window (the tiny engine, windows of 3 iterations), the timestamp
// readback's CPU time per submit, and the CPU cost of timing one copyBufferToBuffer — between two timed
// passes (ticked by the passes themselves) and with no timed neighbour (one empty tick pass per copy).
//
//   npm run bench -- timing, or node scripts/run-ts.mjs test/bench/timing.ts [--windows N] [--blocks N]

import { parseProfilerConfig } from '../../src/config/index.js';
import { createEngine } from '../../src/engine/profiled.js';
import { requestGpuDevice } from '../../src/gpu/device.js';
import { Instrumentation } from '../../src/instrument/instrumentation.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { setLogSink } from '../../src/util/log.js';
import { openChromiumBench } from './chromium.js';
import { timingWorkload, type TimingApi, type TimingRaw } from './timing-workload.js';
import { distribution, formatTable, type Distribution } from './util.js';

export interface TimingRuntimeResult {
  runtime: 'node' | 'chromium';
  halfWidthUs: Distribution;
  fitSamples: Distribution;
  readbackUsPerSubmit: Distribution;
  copyBetweenPassesUs: Distribution;
  copyWithoutNeighbourUs: Distribution;
  tickPassesPerCopyBetween: number;
  tickPassesPerCopyAlone: number;
}

export interface TimingBenchResult {
  runtimes: (TimingRuntimeResult | { runtime: 'chromium'; error: string })[];
  /** Goal for the half-width on SwiftShader, µs. */
  targetHalfWidthUs: number;
  table: string;
}

const ENTRY = `
export { createEngine } from './src/engine/profiled.ts';
export { Profiler } from './src/profiler/profiler.ts';
export { Instrumentation } from './src/instrument/instrumentation.ts';
export { parseProfilerConfig } from './src/config/index.ts';
export { requestGpuDevice } from './src/gpu/device.ts';
export { timingWorkload } from './test/bench/timing-workload.ts';
`;

function summarize(runtime: 'node' | 'chromium', raw: TimingRaw): TimingRuntimeResult {
  return {
    runtime,
    halfWidthUs: distribution(
      raw.halfWidthNs.map((ns) => ns / 1000),
      'us',
    ),
    fitSamples: distribution(raw.fitSamples, 'submits'),
    readbackUsPerSubmit: distribution(
      raw.readbackNsPerSubmit.map((ns) => ns / 1000),
      'us',
    ),
    copyBetweenPassesUs: distribution(raw.copyBetweenPassesUs, 'us'),
    copyWithoutNeighbourUs: distribution(raw.copyWithoutNeighbourUs, 'us'),
    tickPassesPerCopyBetween: raw.tickPassesPerCopyBetween,
    tickPassesPerCopyAlone: raw.tickPassesPerCopyAlone,
  };
}

export async function benchTiming(options: { windows?: number; blocks?: number; onProgress?: (line: string) => void } = {}): Promise<TimingBenchResult> {
  const settings = { windows: options.windows ?? 8, blocks: options.blocks ?? 20, copiesPerBlock: 32 };
  const restoreLog = setLogSink((level, message) => process.stderr.write(`wgprof ${level.toUpperCase()}: ${message}\n`), 'warn');
  const runtimes: TimingBenchResult['runtimes'] = [];
  try {
    options.onProgress?.('timing bench: node');
    const rt = await requestGpuDevice();
    try {
      const api: TimingApi = { createEngine, Profiler, Instrumentation, parseProfilerConfig };
      runtimes.push(summarize('node', await timingWorkload(api, rt.device, settings)));
    } finally {
      rt.destroy();
    }
    options.onProgress?.('timing bench: chromium');
    try {
      const bench = await openChromiumBench('timing', ENTRY);
      try {
        const raw = await bench.page.evaluate(
          async ({ url, settings }) => {
            const w = await import(url);
            const runtime = await w.requestGpuDevice();
            try {
              return (await w.timingWorkload(w, runtime.device, settings)) as TimingRaw;
            } finally {
              runtime.destroy();
            }
          },
          { url: bench.bundleUrl, settings },
        );
        runtimes.push(summarize('chromium', raw));
      } finally {
        await bench.close();
      }
    } catch (error) {
      runtimes.push({ runtime: 'chromium', error: String(error instanceof Error ? error.message : error).split('\n')[0]! });
    }
  } finally {
    restoreLog();
  }
  const result: TimingBenchResult = { runtimes, targetHalfWidthUs: 50, table: '' };
  result.table = formatTiming(result);
  return result;
}

export function formatTiming(r: TimingBenchResult): string {
  const d = (x: Distribution, digits = 1) => `${x.min.toFixed(digits)} / ${x.median.toFixed(digits)} / ${x.max.toFixed(digits)}`;
  const rows: string[][] = [];
  for (const rt of r.runtimes) {
    if ('error' in rt) {
      rows.push([rt.runtime, 'not measured', rt.error, '']);
      continue;
    }
    rows.push([
      rt.runtime,
      'clock fit half-width µs (min/med/max)',
      d(rt.halfWidthUs),
      `goal ≤ ±${r.targetHalfWidthUs}${rt.halfWidthUs.max <= r.targetHalfWidthUs ? ' ok' : rt.halfWidthUs.median <= r.targetHalfWidthUs ? ' (median ok)' : ' MISSED'}`,
    ]);
    rows.push([rt.runtime, 'submits per fit (workload + pings)', d(rt.fitSamples, 0), '']);
    rows.push([rt.runtime, 'readback CPU µs per submit', d(rt.readbackUsPerSubmit), 'resolve + marker + map handling']);
    rows.push([
      rt.runtime,
      'copy between timed passes: +µs per copy',
      d(rt.copyBetweenPassesUs, 2),
      `${rt.tickPassesPerCopyBetween.toFixed(2)} tick passes per copy`,
    ]);
    rows.push([
      rt.runtime,
      'copy with no timed neighbour: +µs per copy',
      d(rt.copyWithoutNeighbourUs, 2),
      `${rt.tickPassesPerCopyAlone.toFixed(2)} tick passes per copy`,
    ]);
  }
  return formatTable(['runtime', 'measure', 'value', 'note'], rows);
}

export function formatTimingBench(r: TimingBenchResult): string {
  return r.table;
}

const isMain = process.argv[1] !== undefined && /bench[\\/]timing\.ts$/.test(process.argv[1]);
if (isMain) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : undefined;
  };
  const result = await benchTiming({
    ...(arg('windows') !== undefined ? { windows: arg('windows')! } : {}),
    ...(arg('blocks') !== undefined ? { blocks: arg('blocks')! } : {}),
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${result.table}\n`);
}
