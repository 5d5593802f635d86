// wgprof's inference engine in Node (dawn.node; SwiftShader when there is no GPU).
//   node scripts/run-ts.mjs examples/node-quickstart.ts
// In your own project: `import { createEngine } from 'wgprof/engine'`.
import { createEngine } from '../src/engine/index.js';

const engine = await createEngine({ model: 'tiny', seed: 0 });
try {
  // 1. generate(): several prompts, batched together; resolves when all are done.
  const results = await engine.generate(['Hello, WebGPU', 'The quick brown fox'], { maxTokens: 16, temperature: 0.8 });
  for (const r of results) {
    // JSON quoting: the random-weight model emits arbitrary bytes, control characters included.
    console.log(`${JSON.stringify(r.prompt)} → ${JSON.stringify(r.text)} (${r.finishReason}, TTFT ${r.timings.ttftMs?.toFixed(1)} ms)`);
  }

  // 2. Continuous batching by hand: a request joins while another is decoding.
  const long = engine.addRequest('A long request', { maxTokens: 24 });
  for (let i = 0; i < 3; i++) console.log((await engine.step())?.annotation);
  const late = engine.addRequest('late', { maxTokens: 4 });
  for (let report = await engine.step(); report; report = await engine.step()) {
    console.log(
      `${report.annotation}  ${report.durationMs.toFixed(1)} ms${report.finishedRequestIds.length ? `  finished ${report.finishedRequestIds.join(', ')}` : ''}`,
    );
  }
  console.log('long:', JSON.stringify((await long.result).text));
  console.log('late:', JSON.stringify((await late.result).text));
  console.log(engine.stats);
} finally {
  await engine.destroy();
}
