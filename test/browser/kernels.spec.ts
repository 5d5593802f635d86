// Kernels and the whole tiny model in headless Chromium (WebGPU on SwiftShader) against the CPU
// reference: the browser half of "kernel and whole-model tests pass in Node and in Chromium"
// (the Node half is test/gpu/kernels.test.ts and test/gpu/model.test.ts).
//
// The page imports a small test bundle built here with esbuild from test/browser/pages/kernels-entry.ts,
// which runs the GPU work next to the CPU reference and returns plain numbers; the assertions are here.

import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from './fixtures.js';
import { REPO_ROOT } from './server.js';
import type * as EntryModule from './pages/kernels-entry.js';

const BUNDLE_DIR = join(REPO_ROOT, 'dist/test');
const BUNDLE_URL = '/dist/test/kernels-page.js';
/** (Kept here, not imported from test/shared/gpu-kernel-harness.ts: that module pulls in .wgsl sources, which Playwright's loader cannot import.)
 * Same bound as test/gpu/model.test.ts: max |gpu - cpu| / max |cpu| per logits row. */
const MODEL_REL_TOL = 1e-3;
/** Same bounds as test/gpu/kernels.test.ts: max |gpu - cpu| ≤ tol · max(1, max |cpu|). */
const MATMUL_TOL = 1e-5;
const LAYER_NORM_TOL = 1e-4;

test.beforeAll(async () => {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  await build({
    entryPoints: [join(REPO_ROOT, 'test/browser/pages/kernels-entry.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    loader: { '.wgsl': 'text' },
    outfile: join(BUNDLE_DIR, 'kernels-page.js'),
    external: ['webgpu', 'node:*'],
    logLevel: 'warning',
  });
});

test('kernels vs the CPU reference on odd shapes: matmul family, layerNorm, sample', async ({ gpuPage }) => {
  const report = await gpuPage.evaluate(async (bundleUrl) => {
    const entry = (await import(bundleUrl)) as typeof EntryModule;
    return entry.runKernelChecks();
  }, BUNDLE_URL);

  expect(report.runtime).toBe('browser');
  expect(report.validationError, 'validation errors in the kernel scope').toBeNull();
  expect(report.floats.map((c) => c.name)).toEqual([
    'matmul 37×45×29',
    'matmulBias 37×45×29',
    'matmulBiasGelu 37×45×29',
    'matmulTiled 37×45×29',
    'matmul 1×70×33',
    'matmulBias 1×70×33',
    'matmulBiasGelu 1×70×33',
    'matmulTiled 1×70×33',
    'layerNorm 5×45',
    'layerNorm 5×200',
  ]);
  for (const c of report.floats) {
    const tol = c.name.startsWith('layerNorm') ? LAYER_NORM_TOL : MATMUL_TOL;
    expect(c.gpuLength, `${c.name}: GPU output covers the reference`).toBeGreaterThanOrEqual(c.cpuLength);
    expect(c.maxDiff, `${c.name} on ${report.adapter}: max |gpu - cpu| = ${c.maxDiff} > ${tol} · ${c.scale}`).toBeLessThanOrEqual(tol * c.scale);
  }

  const [greedy, topK] = report.samples;
  expect(greedy?.got, 'greedy: GPU ids equal the CPU argmax').toEqual(greedy?.want);
  // Ties go to the lowest index; a maximum at the last index is found.
  expect(greedy?.got[1]).toBe(17);
  expect(greedy?.got[3]).toBe(299);
  expect(topK?.got, 'temperature / top-k with given randoms: GPU ids equal referenceSample').toEqual(topK?.want);
  // The picks really spread over the kept sets (not all argmax), so the comparison means something.
  expect(new Set(topK?.got).size).toBeGreaterThan(10);
});

test('tiny model: prefill of 5/11/17-token prompts in 3 slots, then 3 decode steps, logits vs referenceForward', async ({ gpuPage }) => {
  const report = await gpuPage.evaluate(async (bundleUrl) => {
    const entry = (await import(bundleUrl)) as typeof EntryModule;
    return entry.runModelCheck(7);
  }, BUNDLE_URL);

  expect(report.validationError, 'validation errors in the model scope').toBeNull();
  expect(report.promptLengths).toEqual([5, 11, 17]);
  expect(report.steps.map((s) => s.step)).toEqual(['prefill', 'decode 1', 'decode 2', 'decode 3']);
  for (const s of report.steps) {
    expect(s.gpuRows, `${s.step}: one GPU logits row per sampling sequence`).toBe(3);
    expect(s.cpuRows, `${s.step}: one CPU logits row per sampling sequence`).toBe(3);
    expect(s.rowLengths, `${s.step}: rows of vocabSize logits`).toEqual([report.vocabSize, report.vocabSize, report.vocabSize]);
    s.relErrors.forEach((rel, row) => {
      expect(rel, `${s.step}, row ${row}: relative error ${rel} > ${MODEL_REL_TOL}`).toBeLessThanOrEqual(MODEL_REL_TOL);
    });
  }
  // The three requests really differ (attention reads each request's own slot).
  const generated = [0, 1, 2].map((i) => report.steps.slice(0, 3).map((s) => s.next[i]));
  expect(generated[0]).not.toEqual(generated[1]);
});
