// wgprof's inference engine in a page: createEngine → generate → show the text.
// Serve the repository root over http(s) (WebGPU needs a secure context), e.g.
//   node scripts/build.mjs --no-types && node scripts/run-ts.mjs test/browser/server.ts
// then open http://127.0.0.1:4173/examples/browser/index.html
//
// The outcome is also left on `window.wgprofExample` ({ status: 'running' | 'done' | 'error', ... })
// so tests can compare it with a Node run of the same seed.
// The engine is wgprof/engine: its own bundle, sharing the profiler's chunks with dist/browser/wgprof.js.
import { createEngine } from '/dist/browser/wgprof-engine.js';

const DEFAULT_PROMPTS = ['Hello from the browser', 'WebGPU inference'];

const $ = (id) => document.getElementById(id);

function settingsFromUrl() {
  const q = new URLSearchParams(location.search);
  const prompts = q.getAll('prompt').filter((p) => p !== '');
  return {
    model: q.get('model') ?? 'tiny',
    seed: Number(q.get('seed') ?? '0'),
    maxTokens: Number(q.get('maxTokens') ?? '16'),
    temperature: Number(q.get('temperature') ?? '1'),
    topK: Number(q.get('topK') ?? '0'),
    prompts: prompts.length > 0 ? prompts : DEFAULT_PROMPTS,
  };
}

function settingsFromForm() {
  return {
    model: $('model').value,
    seed: Number($('seed').value),
    maxTokens: Number($('maxTokens').value),
    temperature: Number($('temperature').value),
    topK: 0,
    prompts: $('prompts')
      .value.split('\n')
      .filter((line) => line.trim() !== ''),
  };
}

function fillForm(s) {
  $('prompts').value = s.prompts.join('\n');
  $('model').value = s.model;
  $('seed').value = String(s.seed);
  $('maxTokens').value = String(s.maxTokens);
  $('temperature').value = String(s.temperature);
}

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

function showResults(results) {
  const box = $('results');
  box.replaceChildren();
  for (const r of results) {
    const div = document.createElement('div');
    div.className = 'request';
    const text = document.createElement('code');
    // JSON quoting shows control bytes (random weights emit them) instead of letting them vanish.
    text.textContent = `${JSON.stringify(r.prompt)} → ${JSON.stringify(r.text)}`;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const ttft = r.timings.ttftMs === null ? 'n/a' : `${r.timings.ttftMs.toFixed(1)} ms`;
    meta.textContent = `request ${r.requestId}: ${r.tokenIds.length} tokens, finish ${r.finishReason}, TTFT ${ttft}, total ${r.timings.totalMs.toFixed(1)} ms`;
    div.append(text, meta);
    box.append(div);
  }
}

async function run(settings) {
  window.wgprofExample = { status: 'running', settings };
  $('run').disabled = true;
  $('results').replaceChildren();
  $('summary').textContent = '';
  setStatus(`starting the ${settings.model} model (compiling pipelines)…`);
  let engine;
  try {
    const startMs = performance.now();
    engine = await createEngine({ model: settings.model, seed: settings.seed });
    const initMs = performance.now() - startMs;
    setStatus(`generating ${settings.prompts.length} request(s)…`);
    const genStartMs = performance.now();
    const results = await engine.generate(settings.prompts, {
      maxTokens: settings.maxTokens,
      temperature: settings.temperature,
      topK: settings.topK,
    });
    const wallMs = performance.now() - genStartMs;
    const generated = results.reduce((n, r) => n + r.tokenIds.length, 0);
    showResults(results);
    const adapter = engine.facts;
    $('summary').textContent = [
      `adapter        ${adapter ? [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ') : 'n/a'}`,
      `engine start   ${initMs.toFixed(0)} ms`,
      `generation     ${generated} tokens in ${wallMs.toFixed(0)} ms (${((generated / wallMs) * 1000).toFixed(1)} tokens/s), ${engine.stats.steps} steps`,
    ].join('\n');
    setStatus('done');
    window.wgprofExample = {
      status: 'done',
      settings,
      adapter: adapter ?? null,
      steps: engine.stats.steps,
      results: results.map((r) => ({
        requestId: r.requestId,
        prompt: r.prompt,
        text: r.text,
        tokenIds: r.tokenIds,
        finishReason: r.finishReason,
        seed: r.seed,
        timings: r.timings,
      })),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    setStatus(`failed: ${message}`, true);
    window.wgprofExample = { status: 'error', settings, error: message, code: error?.code ?? null };
  } finally {
    await engine?.destroy();
    $('run').disabled = false;
  }
}

const initial = settingsFromUrl();
fillForm(initial);
$('form').addEventListener('submit', (event) => {
  event.preventDefault();
  void run(settingsFromForm());
});
void run(initial);
