// A GPU benchmark with the wgprof fixture: a WebGPU page (test/browser/pages/raw-webgpu.html, which
// knows nothing of wgprof) is warmed up, then a window of iterations is profiled; the trace lands in
// $WGPROF_TRACE_DIR and a results JSON beside it holds min/median/max per iteration (CPU step time and
// GPU kernel time, from the trace itself).
//
// Users import from 'wgprof/playwright'; inside this repository the sources are imported directly.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultTraceDir, expect, test, workerNamePrefix } from '../../src/playwright/index.js';
import { parseTraceFile } from '../../src/report/parse.js';
import { validateTrace } from '../../src/report/validate.js';

const WARMUP = 5;
const PROFILED = 10;

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted.at(-1)!, samples: values };
}

for (const mode of ['frame', 'timer'] as const) {
  test.describe(mode, () => {
    test.use({
      wgprof: {
        config: { profiler: 'torch', torch_profiler_dir: defaultTraceDir(), max_iterations: PROFILED, torch_profiler_with_flops: true, ignore_frontend: true },
        // The page iterates on animation frames, or on a timer (GPU work separated by idle gaps).
        iterations: mode === 'frame' ? 'frame' : 'submit',
        autoStart: false,
      },
    });
    test(`raw WebGPU page, iterations by ${mode === 'frame' ? 'animation frame' : 'idle gaps between submits'}`, async ({ page, profiling }, testInfo) => {
      await page.goto(`/test/browser/pages/raw-webgpu.html?mode=${mode}&iterations=${WARMUP + PROFILED + 20}`);
      // Warm-up: pipelines compiled and a few iterations run before the window opens.
      await page.waitForFunction((n) => (window as unknown as { rawWebGpu?: { iterations: number } }).rawWebGpu!.iterations >= n, WARMUP);
      await profiling.start();
      await expect.poll(() => profiling.files.filter((f) => f.endsWith('.pt.trace.json.gz')).length, { timeout: 60_000 }).toBe(1);
      const file = profiling.files.find((f) => f.endsWith('.pt.trace.json.gz'))!;
      const trace = await parseTraceFile(file);
      expect(validateTrace(trace)).toEqual([]);
      const steps = trace.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#'));
      const kernels = trace.traceEvents.filter((e) => e.cat === 'kernel');
      expect(steps).toHaveLength(PROFILED);
      const gpuUs = steps.map((s) => kernels.filter((k) => k.ts >= s.ts && k.ts < s.ts + (s.dur ?? 0)).reduce((t, k) => t + (k.dur ?? 0), 0));
      const results = {
        test: testInfo.title,
        shard: testInfo.config.shard,
        trace: file,
        iterations: PROFILED,
        stepUs: stats(steps.map((s) => s.dur ?? 0)),
        gpuUs: stats(gpuUs),
        kernels: kernels.length,
        // Why dispatches have no kernel event, when some do not (the trace's own account).
        untimed: (trace as { wgprof?: { notes?: string[] } }).wgprof?.notes?.filter((n) => /GPU timestamps/.test(n)) ?? [],
      };
      const out = join(profiling.dir, `${workerNamePrefix(testInfo)}-${mode}.results.json`);
      writeFileSync(out, JSON.stringify(results, null, 2));
      await testInfo.attach('results.json', { path: out, contentType: 'application/json' });
      console.log(`${testInfo.title}: step median ${results.stepUs.median.toFixed(0)} us, GPU median ${results.gpuUs.median.toFixed(1)} us → ${out}`);
    });
  });
}
