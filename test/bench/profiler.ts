// Profiler overhead benchmark: engine step time with the profiler capturing vs no profiler, and with
// the profiler attached and started but outside its window (a huge delay_iterations) vs none.
//
// The capture variants each get their own tiny engine on their own device (one instrumentation per
// device); 'outside-window' runs on the 'off' engine itself, with a Profiler attached and started for
// its blocks only (the 1% target is below the spread between two engines). Every engine gets the same
// deterministic request stream, and a block is one request cycle (a prefill step + decode steps), so
// step k of a block has the same shape in every variant. Blocks are interleaved (A, B, C, D, then
// B, C, D, A, ...) so drift of the shared machine hits every variant alike. Reported: step-time
// distributions (warm-up excluded, every sample kept), the ratio of median step times (headline) and
// the median of the paired per-step ratios variant[k] / off[k].
//
// Backends: Dawn's null backend (no GPU work: the ratios are the pure CPU cost of profiling; targets:
// capture with default options ≤ 1.10, with every option ≤ 1.40, outside the window ≤ 1.01) and
// SwiftShader (real, slow GPU work; the same ratios as an end-to-end view, no targets).
//
//   node scripts/run-ts.mjs test/bench/profiler.ts [--backends null,vulkan] [--rounds N] [--block N]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseProfilerConfig, type ProfilerConfigInput } from '../../src/config/index.js';
import { createEngine, DEFAULT_MAX_BATCH_TOKENS, DEFAULT_MAX_SLOTS, type Engine } from '../../src/engine/engine.js';
import { getPreset } from '../../src/engine/presets.js';
import { createModelRunner } from '../../src/engine/runner.js';
import type { ModelRunner } from '../../src/engine/types.js';
import { requestGpuDevice, type AdapterFacts, type GpuBackend, type GpuRuntime } from '../../src/gpu/device.js';
import { noProfiler, type EngineProfilerHooks } from '../../src/profiler/hooks.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { setLogSink } from '../../src/util/log.js';
import { distribution, formatNumber, formatRatio, formatTable, pairedRatios, type Distribution } from './util.js';

export type VariantName = 'off' | 'capture-default' | 'capture-all' | 'outside-window';

export interface BenchProfilerOptions {
  backends?: GpuBackend[];
  /** Interleaved rounds (default: null 24, else 6). */
  rounds?: number;
  /** Steps per variant per round (default 24 = one request cycle, so blocks line up step for step). */
  block?: number;
  /** Steps per variant before measuring (default: null 24, else 4). */
  warmupSteps?: number;
  onProgress?: (line: string) => void;
}

export interface VariantResult {
  variant: VariantName;
  /** What the variant is, in words. */
  description: string;
  stepMs: Distribution;
  /** Per-step variant[k] / off[k] (outside-window: the same, against off). */
  ratioToOff?: Distribution;
  /** Files the variant's profiler wrote at the end (not timed). */
  files: number;
}

export interface BackendResult {
  backend: GpuBackend;
  adapter: AdapterFacts;
  steps: number;
  variants: VariantResult[];
  /** Headline ratios: median step time of the variant / median step time of 'off'. */
  ratios: { captureDefault: number; captureAll: number; outsideWindow: number };
  /** The same as medians of the paired per-step ratios variant[k] / off[k] (noisier when steps vary). */
  pairedRatios: { captureDefault: number; captureAll: number; outsideWindow: number };
  targets: { captureDefault: number; captureAll: number; outsideWindow: number } | null;
}

export interface BenchProfilerResult {
  backends: BackendResult[];
  table: string;
}

const DESCRIPTIONS: Record<VariantName, string> = {
  off: 'no profiler',
  'capture-default': "capturing, vLLM defaults (with_stack, gzip, dump_cuda_time_total)",
  'capture-all': 'capturing, with_stack + record_shapes + with_memory + with_flops',
  'outside-window': "attached + started, delay_iterations 1e9 (never captures); same engine as 'off'",
};

function configFor(variant: VariantName, dir: string): ProfilerConfigInput | null {
  switch (variant) {
    case 'off':
      return null;
    case 'capture-default':
      return { profiler: 'torch', torch_profiler_dir: dir, ignore_frontend: true };
    case 'capture-all':
      return {
        profiler: 'torch',
        torch_profiler_dir: dir,
        ignore_frontend: true,
        torch_profiler_record_shapes: true,
        torch_profiler_with_memory: true,
        torch_profiler_with_flops: true,
      };
    case 'outside-window':
      return { profiler: 'torch', torch_profiler_dir: dir, ignore_frontend: true, delay_iterations: 1_000_000_000 };
  }
}

/**
 * Dawn's null backend runs no shader and maps buffers with whatever bytes they hold, so the runner's
 * sampled-token check fails after all the CPU work (encode, submit, readback) was done. For a CPU-cost
 * measurement the work is what matters: the failed check is replaced by token 0 for every sampled
 * sequence, identically in every variant.
 */
function nullBackendRunner(inner: ModelRunner): ModelRunner {
  return {
    config: inner.config,
    maxSlots: inner.maxSlots,
    maxBatchTokens: inner.maxBatchTokens,
    async forward(batch) {
      try {
        return await inner.forward(batch);
      } catch {
        return batch.filter((s) => s.sample).map(() => 0);
      }
    },
    forwardLogits: (batch) => inner.forwardLogits(batch),
    destroy: () => inner.destroy(),
  };
}

interface Lane {
  variant: VariantName;
  runtime: GpuRuntime;
  engine: Engine;
  profiler: Profiler | undefined;
  samplesMs: number[];
  nextPrompt: number;
}

const PROMPTS = ['The quick brown fox', 'WebGPU inference profiling', 'Once upon a time,', 'Hello, world! Tell me about'];

const MAX_TOKENS = 24;
/** One request cycle: a prefill step (all 4 prompts fit one iteration) that samples the first token, then 23 decode steps. */
const STEPS_PER_CYCLE = MAX_TOKENS;

/** Keeps 4 requests in flight with the same deterministic stream in every lane. */
function feed(lane: Lane): void {
  if (lane.engine.hasUnfinishedRequests()) return;
  for (let i = 0; i < 4; i++) {
    lane.engine.addRequest(PROMPTS[lane.nextPrompt++ % PROMPTS.length]!, { maxTokens: MAX_TOKENS, temperature: 0 });
  }
}

async function timedStep(lane: Lane): Promise<number> {
  feed(lane);
  const t0 = performance.now();
  await lane.engine.step();
  return performance.now() - t0;
}

/** Forwards to `current`; lets one engine run some blocks with a profiler attached and others without. */
class SwitchableHooks implements EngineProfilerHooks {
  current: EngineProfilerHooks = noProfiler;
  step(): void {
    this.current.step();
  }
  beginIteration(annotation: string): void {
    this.current.beginIteration(annotation);
  }
  endIteration(): void {
    this.current.endIteration();
  }
  frontendSpan<T>(name: string, fn: () => T, args?: Record<string, string | number>): T {
    return this.current.frontendSpan(name, fn, args);
  }
  attach(): void {}
  detach(): void {}
  start(): void {
    this.current.start();
  }
  stop(): Promise<string[]> {
    return this.current.stop();
  }
}

async function benchBackend(backend: GpuBackend, options: { rounds: number; block: number; warmupSteps: number }, progress: (line: string) => void): Promise<BackendResult> {
  const dir = await mkdtemp(join(tmpdir(), 'wgprof-bench-profiler-'));
  const lanes: Lane[] = [];
  // 'off' and 'outside-window' share one engine (same device, buffers and JIT state): the 1% target is
  // below the spread between two engines. Its outside-window blocks run with a freshly attached,
  // started Profiler whose delay never ends; its off blocks with no profiler at all.
  const shared = new SwitchableHooks();
  try {
    for (const variant of ['off', 'capture-default', 'capture-all'] as const) {
      const runtime = await requestGpuDevice({ backend });
      const config = configFor(variant, dir);
      const profiler = config ? new Profiler(parseProfilerConfig(config), { workerName: `bench-${variant}` }) : undefined;
      // Attach before the runner exists (as createEngine does), so the instrumentation sees its objects.
      profiler?.attach(runtime.device, runtime.facts);
      const model = getPreset('tiny');
      let runner = await createModelRunner(runtime.device, model, { maxSlots: DEFAULT_MAX_SLOTS, maxBatchTokens: DEFAULT_MAX_BATCH_TOKENS, seed: 1 });
      if (backend === 'null') runner = nullBackendRunner(runner);
      const engine = await createEngine({ runner, device: runtime.device, seed: 1, profiler: profiler ?? shared });
      lanes.push({ variant, runtime, engine, profiler, samplesMs: [], nextPrompt: 0 });
    }
    const offLane = lanes[0]!;
    const outsideLane: Lane = { ...offLane, variant: 'outside-window', profiler: undefined, samplesMs: [] };
    progress(`profiler bench (${backend}): warming up ${lanes.length} engines`);
    for (const lane of lanes) for (let i = 0; i < options.warmupSteps; i++) await timedStep(lane);
    for (const lane of lanes) if (lane.profiler) lane.engine.startProfile();

    const runBlock = async (lane: Lane): Promise<void> => {
      let outside: Profiler | undefined;
      if (lane.variant === 'outside-window') {
        outside = new Profiler(parseProfilerConfig(configFor('outside-window', dir)!), { workerName: 'bench-outside-window' });
        outside.attach(lane.runtime.device, lane.runtime.facts);
        outside.start();
        shared.current = outside;
      }
      for (let s = 0; s < options.block; s++) lane.samplesMs.push(await timedStep(lane));
      if (outside) {
        shared.current = noProfiler;
        const files = await outside.stop();
        if (files.length > 0) throw new Error(`outside-window wrote ${files.length} file(s): its window must never open`);
        outside.detach();
      }
    };
    const order: Lane[] = [offLane, lanes[1]!, outsideLane, lanes[2]!];
    for (let round = 0; round < options.rounds; round++) {
      // Rotate the order every round so no variant always runs first after a pause.
      for (let j = 0; j < order.length; j++) await runBlock(order[(round + j) % order.length]!);
      if (round % 4 === 3) progress(`profiler bench (${backend}): round ${round + 1}/${options.rounds}`);
    }
    const files = new Map<VariantName, number>();
    for (const lane of lanes) files.set(lane.variant, lane.profiler ? (await lane.engine.stopProfile()).length : 0);

    const off = offLane.samplesMs;
    const all = [offLane, lanes[1]!, lanes[2]!, outsideLane];
    const results: VariantResult[] = all.map((lane) => {
      const result: VariantResult = {
        variant: lane.variant,
        description: DESCRIPTIONS[lane.variant],
        stepMs: distribution(lane.samplesMs, 'ms'),
        files: files.get(lane.variant) ?? 0,
      };
      if (lane.variant !== 'off') result.ratioToOff = distribution(pairedRatios(lane.samplesMs, off), 'ratio');
      return result;
    });
    const of = (v: VariantName) => results.find((r) => r.variant === v)!;
    const offMedian = of('off').stepMs.median;
    const ratioOfMedians = (v: VariantName) => of(v).stepMs.median / offMedian;
    const pairedMedian = (v: VariantName) => of(v).ratioToOff!.median;
    return {
      backend,
      adapter: offLane.runtime.facts,
      steps: off.length,
      variants: results,
      ratios: { captureDefault: ratioOfMedians('capture-default'), captureAll: ratioOfMedians('capture-all'), outsideWindow: ratioOfMedians('outside-window') },
      pairedRatios: { captureDefault: pairedMedian('capture-default'), captureAll: pairedMedian('capture-all'), outsideWindow: pairedMedian('outside-window') },
      targets: backend === 'null' ? { captureDefault: 1.1, captureAll: 1.4, outsideWindow: 1.01 } : null,
    };
  } finally {
    for (const lane of lanes) {
      await lane.engine.destroy();
      lane.runtime.destroy();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatProfilerBench(result: BenchProfilerResult): string {
  return result.table;
}

function tableOf(backends: BackendResult[]): string {
  const rows: string[][] = [];
  for (const b of backends) {
    const headline: Record<VariantName, number | undefined> = {
      off: undefined,
      'capture-default': b.ratios.captureDefault,
      'capture-all': b.ratios.captureAll,
      'outside-window': b.ratios.outsideWindow,
    };
    const targets: Record<VariantName, number | undefined> = b.targets
      ? { off: undefined, 'capture-default': b.targets.captureDefault, 'capture-all': b.targets.captureAll, 'outside-window': b.targets.outsideWindow }
      : { off: undefined, 'capture-default': undefined, 'capture-all': undefined, 'outside-window': undefined };
    for (const v of b.variants) {
      const ratio = headline[v.variant];
      const target = targets[v.variant];
      rows.push([
        b.backend === 'null' ? 'null' : `${b.backend} (${b.adapter.description || b.adapter.device || b.adapter.vendor})`,
        v.variant,
        `${formatNumber(v.stepMs.median)} ms`,
        `${formatNumber(v.stepMs.min)}–${formatNumber(v.stepMs.p90)}`,
        ratio !== undefined ? formatRatio(ratio, 3) : '1 (base)',
        v.ratioToOff ? `${formatRatio(v.ratioToOff.median, 3)}` : '',
        target !== undefined && ratio !== undefined ? `≤ ${target.toFixed(2)}${ratio <= target ? ' ok' : ' MISSED'}` : '',
        String(v.stepMs.count),
      ]);
    }
  }
  return formatTable(['backend', 'variant', 'step median', 'step min–p90', 'ratio of medians', 'paired ratio median', 'target', 'steps'], rows);
}

export async function benchProfiler(options: BenchProfilerOptions = {}): Promise<BenchProfilerResult> {
  const progress = options.onProgress ?? (() => undefined);
  // The profilers' info lines and key-averages tables (printed at each stop) are not bench output.
  const restoreLog = setLogSink((level, message) => process.stderr.write(`wgprof ${level.toUpperCase()}: ${message}\n`), 'warn');
  try {
    return await runBenches(options, progress);
  } finally {
    restoreLog();
  }
}

async function runBenches(options: BenchProfilerOptions, progress: (line: string) => void): Promise<BenchProfilerResult> {
  const backends: BackendResult[] = [];
  for (const backend of options.backends ?? (['null', 'vulkan'] as GpuBackend[])) {
    // Null-backend steps take well under a millisecond and vary with GC: many samples. SwiftShader
    // steps take tens of ms of real (slow) GPU work: fewer.
    const cheap = backend === 'null';
    const settings = {
      rounds: options.rounds ?? (cheap ? 24 : 6),
      block: options.block ?? STEPS_PER_CYCLE,
      warmupSteps: options.warmupSteps ?? (cheap ? STEPS_PER_CYCLE : 4),
    };
    backends.push(await benchBackend(backend, settings, progress));
  }
  return { backends, table: tableOf(backends) };
}

function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const argv = process.argv.slice(2);
  const options: BenchProfilerOptions = { onProgress: (line) => process.stderr.write(`${line}\n`) };
  const backends = argValue(argv, '--backends');
  if (backends) options.backends = backends.split(',') as GpuBackend[];
  const rounds = argValue(argv, '--rounds');
  if (rounds) options.rounds = Number(rounds);
  const block = argValue(argv, '--block');
  if (block) options.block = Number(block);
  const result = await benchProfiler(options);
  process.stdout.write(`${result.table}\n`);
}
