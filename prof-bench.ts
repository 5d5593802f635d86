import { parseProfilerConfig } from './src/config/index.js';
import { createEngine } from './src/engine/engine.js';
import { getPreset } from './src/engine/presets.js';
import { createModelRunner } from './src/engine/runner.js';
import { requestGpuDevice } from './src/gpu/device.js';
import { Profiler } from './src/profiler/profiler.js';
import { setLogSink } from './src/util/log.js';
setLogSink(() => undefined);
const variant = process.argv[2] ?? 'bare';
const runtime = await requestGpuDevice({ backend: 'null' });
const withStack = variant === 'default';
const profiler = variant === 'off' ? undefined : new Profiler(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/tmp/prof-out', ignore_frontend: true, torch_profiler_with_stack: withStack }), { instrumentation: variant === 'bare' ? { timestamps: false } : {} });
profiler?.attach(runtime.device, runtime.facts);
const inner = await createModelRunner(runtime.device, getPreset('tiny'), { maxSlots: 4, maxBatchTokens: 128, seed: 1 });
const runner = { ...inner, config: inner.config, maxSlots: inner.maxSlots, maxBatchTokens: inner.maxBatchTokens, forward: async (b: any) => { try { return await inner.forward(b); } catch { return b.filter((s: any) => s.sample).map(() => 0); } }, forwardLogits: inner.forwardLogits.bind(inner), destroy: inner.destroy.bind(inner) };
const engine = await createEngine({ runner, device: runtime.device, seed: 1, ...(profiler ? { profiler } : {}) });
if (profiler) engine.startProfile();
const N = Number(process.argv[3] ?? 2000);
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  if (!engine.hasUnfinishedRequests()) for (let k = 0; k < 4; k++) engine.addRequest('The quick brown fox', { maxTokens: 24, temperature: 0 });
  await engine.step();
}
const ms = performance.now() - t0;
process.stdout.write(`${variant}: ${(ms / N).toFixed(3)} ms/step\n`);
if (profiler) { await engine.stopProfile(); }
await engine.destroy(); runtime.destroy();
