// `wgprof run`'s output: each request's text, the summary, or one JSON report.

import type { Engine } from '../../engine/engine.js';
import type { GenerateResult } from '../../engine/requests.js';
import type { RunSummary } from './engine.js';
import type { RunOptions } from './options.js';

function adapterLine(engine: Engine): string {
  const f = engine.facts;
  if (!f) return 'a caller-provided device';
  const name = [f.vendor, f.architecture, f.description].filter(Boolean).join(' / ') || f.device || 'unknown adapter';
  return `${name} (${f.runtime}, backend ${f.backend})`;
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

export function formatSummary(engine: Engine, s: RunSummary): string {
  const c = engine.config;
  const lines = [
    'summary',
    `  model              ${c.name} (d=${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, context ${c.contextLength}, vocab ${c.vocabSize}; ` +
      `${engine.maxSlots} slots, ${engine.maxBatchTokens} tokens/iteration)`,
    `  device             ${adapterLine(engine)}`,
    `  requests           ${s.requests}${s.interrupted ? ` finished before ${s.interrupted}` : ''}`,
    `  prompt tokens      ${s.promptTokens}`,
    `  generated tokens   ${s.generatedTokens}`,
    `  steps              ${s.steps}`,
    `  wall time          ${formatMs(s.wallMs)} (engine start ${formatMs(s.initMs)}, not included)`,
    `  throughput         ${s.tokensPerSecond.toFixed(1)} generated tokens/s`,
    `  TTFT               p50 ${formatMs(s.ttftP50Ms)}, p90 ${formatMs(s.ttftP90Ms)}`,
    `  per-token latency  p50 ${formatMs(s.interTokenP50Ms)}`,
  ];
  for (const file of s.traceFiles) lines.push(`  trace              ${file}`);
  return lines.join('\n');
}

function resultJson(r: GenerateResult | Error, index: number): Record<string, unknown> {
  if (r instanceof Error) return { index, error: r.message };
  return {
    index,
    requestId: r.requestId,
    prompt: r.prompt,
    text: r.text,
    tokenIds: r.tokenIds,
    finishReason: r.finishReason,
    ...(r.stopReason !== undefined ? { stopReason: r.stopReason } : {}),
    promptTokens: r.promptTokenIds.length,
    seed: r.seed,
    timings: r.timings,
  };
}

/** Everything `wgprof run` prints on stdout. `results` may have holes (requests an interruption cut short). */
export function formatRun(engine: Engine, options: RunOptions, results: (GenerateResult | Error)[], summary: RunSummary): string {
  if (options.json) {
    const report = {
      model: engine.config,
      adapter: engine.facts ?? null,
      options: { ...options, profilerConfig: options.profilerConfig ?? null },
      requests: results.flatMap((r, i) => [resultJson(r, i)]),
      summary,
    };
    return JSON.stringify(report, null, 2) + '\n';
  }
  let out = '';
  if (!options.quiet) {
    results.forEach((r, i) => {
      if (r instanceof Error) {
        out += `request ${i}: FAILED: ${r.message}\n`;
        return;
      }
      const reason = r.finishReason === 'stop' ? `stop at ${JSON.stringify(r.stopReason)}` : r.finishReason;
      // JSON.stringify escapes control bytes: random-weight models emit them, and they must not drive the terminal.
      out += `request ${i} (${r.tokenIds.length} tokens, ${reason}): ${JSON.stringify(r.prompt)} → ${JSON.stringify(r.text)}\n`;
    });
    out += '\n';
  }
  return out + formatSummary(engine, summary) + '\n';
}
