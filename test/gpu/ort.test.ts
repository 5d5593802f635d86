// wgprof/ort in Node (dawn.node on SwiftShader), both onnxruntime-web builds: the native WebGPU EP
// (`onnxruntime-web/webgpu`) and JSEP (`onnxruntime-web/all`). A small MLP (Gemm-fused MatMul+Add,
// Relu, MatMul, Softmax on the GPU; Hardmax, which neither WebGPU EP implements, on the CPU EP) runs 4
// times under delay 2 / max 2: outputs against the JS reference every run, and the trace: valid, 2
// ProfilerSteps, one kernel event per dispatch ORT's own profiling reported, each named after its node,
// with FLOPs, and the CPU-EP node as CPU time.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { profileOrt, type OrtModuleLike, type OrtProfiler, type OrtSessionLike } from '../../src/ort/index.js';
import { parseTraceFile } from '../../src/report/parse.js';
import type { KinetoTrace } from '../../src/trace/index.js';
import { validateTrace } from '../../src/report/validate.js';
import { checkStepTotals } from '../../src/report/step-totals.js';
import { WgprofError } from '../../src/util/errors.js';
import { seededFloats } from '../bench/util.js';
import { maxAbsDiff } from '../bench/matmul-ort.js';
import { buildMlpModel, mlpReference, mlpWeights } from '../shared/ort-models.js';

type Ort = OrtModuleLike & { Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown };

const weights = mlpWeights();
const BATCH = 3;

for (const build of ['native', 'jsep'] as const) {
  describe(`wgprof/ort in Node: ${build === 'native' ? 'native WebGPU EP' : 'JSEP'}`, () => {
    let ort: Ort;
    let prof: OrtProfiler;
    let session: OrtSessionLike;
    let dir: string;
    const diffs: number[] = [];
    let files: string[] = [];
    let trace: KinetoTrace;

    before(async () => {
      ort = (await import(build === 'native' ? 'onnxruntime-web/webgpu' : 'onnxruntime-web/all')) as unknown as Ort;
      (ort.env.wasm as { numThreads?: number }).numThreads = 1;
      dir = mkdtempSync(join(tmpdir(), `wgprof-ort-${build}-`));
      prof = await profileOrt(ort, {
        config: {
          profiler: 'torch',
          torch_profiler_dir: dir,
          delay_iterations: 2,
          max_iterations: 2,
          torch_profiler_record_shapes: true,
          torch_profiler_with_flops: true,
          ignore_frontend: true,
        },
        profiler: { workerName: `ort-${build}`, strict: true },
      });
      session = await prof.createSession(buildMlpModel(weights));
      prof.start();
      for (let i = 0; i < 4; i++) {
        const x = seededFloats(BATCH * weights.inDim, 100 + i);
        const out = (await session.run({ X: new ort.Tensor('float32', x, [BATCH, weights.inDim]) })) as Record<string, { data: Float32Array }>;
        const ref = mlpReference(weights, x, BATCH);
        diffs.push(Math.max(maxAbsDiff(out['Y']!.data, ref.y), maxAbsDiff(out['H']!.data, ref.h)));
      }
      files = await prof.stop();
      const worker = files.find((f) => f.endsWith('.pt.trace.json.gz'));
      assert.ok(worker, `a worker trace among ${files.join(', ')}`);
      trace = await parseTraceFile(worker);
    });

    after(async () => {
      await prof?.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('detects the build and runs every run correctly while profiled', () => {
      assert.equal(prof.build, build);
      assert.equal(diffs.length, 4);
      assert.ok(
        diffs.every((d) => d <= 1e-5),
        `max |ORT - reference| per run: ${diffs.join(', ')}`,
      );
    });

    it('writes one valid trace with ProfilerStep#2 and #3', () => {
      assert.deepEqual(validateTrace(trace), []);
      assert.deepEqual(checkStepTotals(trace).problems, [], 'summarize agrees with the per-step totals');
      assert.equal(readdirSync(dir).filter((f) => f.endsWith('.pt.trace.json.gz')).length, 1);
      const steps = trace.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).map((e) => e.name);
      assert.deepEqual(steps, ['ProfilerStep#2', 'ProfilerStep#3']);
    });

    it("has one kernel event per dispatch ORT's own profiling reported, named after its ONNX node", () => {
      const stats = prof.windows[0];
      assert.ok(stats);
      assert.equal(prof.windows.length, 1);
      assert.equal(stats.mismatchedRuns, 0);
      assert.ok(stats.ortDispatches !== undefined && stats.ortDispatches >= 8, `ORT reported ${String(stats.ortDispatches)} dispatches`);
      const kernels = trace.traceEvents.filter((e) => e.cat === 'kernel');
      assert.equal(kernels.length, stats.ortDispatches);
      assert.equal(stats.attributed, stats.ortDispatches);
      const nodes = kernels.map((k) => String(k.args?.['node_name']));
      // Two identical runs: the per-run node sequence repeats, and holds every GPU node of the graph.
      const half = nodes.length / 2;
      assert.deepEqual(nodes.slice(0, half), nodes.slice(half));
      for (const node of ['act1', 'fc2', 'probs']) assert.ok(nodes.includes(node), `${node} in ${nodes.join(', ')}`);
      assert.ok(kernels.every((k) => (k.dur ?? 0) > 0 && typeof k.args?.['op_type'] === 'string' && typeof k.args?.['program'] === 'string'));
    });

    it('names each op by its ONNX op type and gives MatMul its FLOPs and shapes', () => {
      const ops = trace.traceEvents.filter((e) => e.cat === 'cpu_op' && e.args?.['node_name'] === 'fc2');
      assert.equal(ops.length, 2);
      for (const op of ops) {
        assert.equal(op.name, 'MatMul');
        assert.deepEqual(op.args?.['Input Dims'], [
          [BATCH, weights.hidden],
          [weights.hidden, weights.outDim],
        ]);
        assert.equal(op.args?.['flops'], 2 * BATCH * weights.hidden * weights.outDim);
      }
    });

    it('shows the node ORT ran on the CPU EP as CPU time inside each step', () => {
      const spans = trace.traceEvents.filter((e) => e.cat === 'cpu_op' && e.args?.['provider'] === 'CPUExecutionProvider');
      assert.deepEqual(
        spans.map((s) => s.name),
        ['Hardmax', 'Hardmax'],
      );
      const steps = trace.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#'));
      spans.forEach((span, i) => {
        const step = steps[i]!;
        assert.ok(span.ts >= step.ts && span.ts + (span.dur ?? 0) <= step.ts + (step.dur ?? 0) + 1e-3, 'inside its step');
      });
    });
  });
}

describe('wgprof/ort: bad input', () => {
  it('profileOrt rejects something that is not the onnxruntime-web module', async () => {
    await assert.rejects(profileOrt({} as OrtModuleLike, { config: { profiler: 'torch', torch_profiler_dir: tmpdir() } }), (error: unknown) => {
      assert.ok(error instanceof WgprofError);
      assert.equal(error.code, 'ORT_MODULE_INVALID');
      assert.match(error.message, /expects the onnxruntime-web module/);
      return true;
    });
  });
});
