// The device layer in headless Chromium (SwiftShader), and the static server the browser tests stand on.

import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPU_PAGE, expect, test, testBaseUrl } from './fixtures.js';
import { resolveRequestPath, startStaticServer } from './server.js';
import { buildPageBundle } from '../shared/page-bundle.js';
import type * as ProbeModule from '../../src/gpu/probe.js';
import type * as TimestampsModule from '../../src/gpu/timestamps.js';

/** The probe and the quantization check are `wgprof doctor`'s, not the package's: pages get them from a test bundle. */
type DoctorBundle = Pick<typeof ProbeModule, 'runProbe'> & Pick<typeof TimestampsModule, 'detectQuantization'>;
let doctorBundleUrl = '';
test.beforeAll(async () => {
  doctorBundleUrl = await buildPageBundle(
    'device-doctor',
    "export { runProbe } from './src/gpu/probe.js';\nexport { detectQuantization } from './src/gpu/timestamps.js';\n",
  );
});

/** A raw GET (no URL normalization, unlike browsers and fetch) → status and body. */
function rawGet(
  baseUrl: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

test.describe('test server', () => {
  test('pages are cross-origin isolated (COOP/COEP) and load the bundle', async ({ page, pageErrors }) => {
    const response = await page.goto(GPU_PAGE);
    expect(response?.status()).toBe(200);
    const headers = response?.headers() ?? {};
    expect(headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect(headers['content-type']).toMatch(/^text\/html/);
    await page.waitForFunction(() => window.wgprofReady === true || window.wgprofLoadError !== undefined);
    const state = await page.evaluate(() => ({
      isolated: globalThis.crossOriginIsolated,
      secure: globalThis.isSecureContext,
      loadError: window.wgprofLoadError ?? null,
      version: window.wgprof?.WGPROF_VERSION ?? null,
      hasGpu: 'gpu' in navigator,
    }));
    expect(state).toEqual({ isolated: true, secure: true, loadError: null, version: expect.any(String), hasGpu: true });
    expect(pageErrors).toEqual([]);
  });

  test('serves the bundle, onnxruntime-web at /ort/, and JSON with the right MIME types', async ({ request }) => {
    const cases: Array<[string, RegExp]> = [
      ['/dist/browser/wgprof.js', /^text\/javascript/],
      ['/ort/ort.webgpu.min.mjs', /^text\/javascript/],
      ['/ort/ort-wasm-simd-threaded.asyncify.wasm', /^application\/wasm$/],
      ['/package.json', /^application\/json/],
      [GPU_PAGE, /^text\/html/],
    ];
    for (const [path, mime] of cases) {
      const response = await request.head(path);
      expect(response.status(), path).toBe(200);
      expect(response.headers()['content-type'], path).toMatch(mime);
      expect(response.headers()['cross-origin-embedder-policy'], path).toBe('require-corp');
    }
  });

  test('serves .wgsl as text/plain and honours mounts (own root)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wgprof-server-'));
    try {
      await mkdir(join(root, 'kernels'));
      await writeFile(join(root, 'kernels/k.wgsl'), '@compute @workgroup_size(1) fn main() {}\n');
      await mkdir(join(root, 'lib'));
      await writeFile(join(root, 'lib/m.mjs'), 'export const x = 1;\n');
      const server = await startStaticServer({ root, port: 0, mounts: { '/vendor/': join(root, 'lib') } });
      try {
        const wgsl = await rawGet(server.url, '/kernels/k.wgsl');
        expect(wgsl.status).toBe(200);
        expect(wgsl.headers['content-type']).toMatch(/^text\/plain/);
        expect(wgsl.body).toContain('@compute');
        const mounted = await rawGet(server.url, '/vendor/m.mjs');
        expect(mounted.status).toBe(200);
        expect(mounted.headers['content-type']).toMatch(/^text\/javascript/);
      } finally {
        await server.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('rejects path traversal, hidden files and writes; 404 for missing files', async () => {
    const url = testBaseUrl();
    for (const path of [
      '/../package.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/ort/..%2f..%2f..%2fpackage.json',
      '/dist/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/.git/config',
      '/a%5c..%5cpackage.json',
      '/%00',
    ]) {
      const response = await rawGet(url, path);
      expect(response.status, path).toBe(403);
      expect(response.body, path).not.toContain('root:');
    }
    expect((await rawGet(url, '/no-such-file.html')).status).toBe(404);
    expect((await rawGet(url, '/package.json', 'POST')).status).toBe(405);
    expect((await rawGet(url, '/package.json', 'PUT')).status).toBe(405);
    // The resolver itself: encoded dots and backslashes never leave the root.
    expect(resolveRequestPath('/x/%2e%2e/%2e%2e/y', '/srv/root', {})).toBeNull();
    expect(resolveRequestPath('/ok/file.js', '/srv/root', {})).toBe('/srv/root/ok/file.js');
    expect(resolveRequestPath('/ort/a.wasm', '/srv/root', { '/ort/': '/opt/ort' })).toBe('/opt/ort/a.wasm');
    expect(resolveRequestPath('/%E0%A4%A', '/srv/root', {})).toBeNull();
  });
});

test.describe('WebGPU in headless Chromium', () => {
  test('requestGpuDevice() finds SwiftShader with timestamp queries inside passes', async ({ gpuPage }) => {
    const facts = await gpuPage.evaluate(async () => {
      const runtime = await window.wgprof.requestGpuDevice();
      try {
        return runtime.facts;
      } finally {
        runtime.destroy();
      }
    });
    expect(facts.runtime).toBe('browser');
    expect(facts.backend).toBe('webgpu');
    expect(`${facts.vendor} ${facts.architecture} ${facts.description}`.toLowerCase()).toContain('swiftshader');
    expect(facts.features).toContain('timestamp-query');
    expect(facts.features).toContain('chromium-experimental-timestamp-query-inside-passes');
    expect(facts.timestampMode).toBe('inside-passes');
    // The browser cannot be told to skip quantization; the profiler measures it from the data.
    expect(facts.timestampQuantizationDisabled).toBeNull();
    expect(facts.limits['maxComputeInvocationsPerWorkgroup']).toBeGreaterThanOrEqual(64);
  });

  test('the probe kernel matches the CPU reference, with ns-resolution timestamps', async ({ gpuPage }) => {
    const result = await gpuPage.evaluate(async (bundleUrl) => {
      const { requestGpuDevice } = window.wgprof;
      const { runProbe, detectQuantization } = (await import(bundleUrl)) as DoctorBundle;
      const runtime = await requestGpuDevice();
      try {
        runtime.device.pushErrorScope('validation');
        const probe = await runProbe(runtime.device, 8, 1024);
        const outer = await runtime.device.popErrorScope();
        return {
          maxAbsError: probe.maxAbsError,
          nanCount: probe.nanCount,
          validationError: probe.validationError ?? outer?.message ?? null,
          durationsNs: probe.durationsNs,
          tickCount: probe.ticks.length,
          quantization: detectQuantization(probe.ticks),
        };
      } finally {
        runtime.destroy();
      }
    }, doctorBundleUrl);
    expect(result.validationError).toBeNull();
    expect(result.nanCount).toBe(0);
    expect(result.maxAbsError).toBeLessThanOrEqual(1e-4);
    expect(result.tickCount).toBe(16);
    expect(result.durationsNs).toHaveLength(8);
    for (const durNs of result.durationsNs) expect(durNs).toBeGreaterThan(0);
    expect(result.quantization).toEqual({ quantized: false, samples: 16 });
  });

  test('writeTimestamp inside one compute pass times each dispatch of a real kernel', async ({ gpuPage }) => {
    const result = await gpuPage.evaluate(async (bundleUrl) => {
      const { detectQuantization } = (await import(bundleUrl)) as DoctorBundle;
      const runtime = await window.wgprof.requestGpuDevice();
      const { device } = runtime;
      const n = 4096;
      const dispatches = 4;
      const a = 2.5;
      // Small integers and halves: every intermediate is exact in f32, so GPU and CPU must agree bit for bit.
      const x = Float32Array.from({ length: n }, (_, i) => i % 17);
      const y0 = Float32Array.from({ length: n }, (_, i) => (i % 5) - 2);
      const expected = y0.map((y, i) => y + dispatches * a * (x[i] ?? 0));
      try {
        device.pushErrorScope('validation');
        const module = device.createShaderModule({
          label: 'saxpy',
          code: /* wgsl */ `
            struct Params { a: f32, n: u32 }
            @group(0) @binding(0) var<uniform> params: Params;
            @group(0) @binding(1) var<storage, read> x: array<f32>;
            @group(0) @binding(2) var<storage, read_write> y: array<f32>;
            @compute @workgroup_size(64)
            fn main(@builtin(global_invocation_id) id: vec3<u32>) {
              if (id.x < params.n) { y[id.x] = params.a * x[id.x] + y[id.x]; }
            }`,
        });
        const pipeline = device.createComputePipeline({ label: 'saxpy', layout: 'auto', compute: { module, entryPoint: 'main' } });
        const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
        const params = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
        const paramData = new ArrayBuffer(16);
        new Float32Array(paramData, 0, 1)[0] = a;
        new Uint32Array(paramData, 4, 1)[0] = n;
        device.queue.writeBuffer(params, 0, paramData);
        const xBuf = device.createBuffer({ size: x.byteLength, usage });
        const yBuf = device.createBuffer({ size: y0.byteLength, usage });
        device.queue.writeBuffer(xBuf, 0, x);
        device.queue.writeBuffer(yBuf, 0, y0);
        const readback = device.createBuffer({ size: y0.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * dispatches });
        const resolved = device.createBuffer({ size: 16 * dispatches, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
        const ticksBuf = device.createBuffer({ size: 16 * dispatches, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const bindGroup = device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: params } },
            { binding: 1, resource: { buffer: xBuf } },
            { binding: 2, resource: { buffer: yBuf } },
          ],
        });
        const encoder = device.createCommandEncoder();
        // writeTimestamp inside a pass is what chromium-experimental-timestamp-query-inside-passes adds (not in @webgpu/types).
        const pass = encoder.beginComputePass() as GPUComputePassEncoder & { writeTimestamp(q: GPUQuerySet, index: number): undefined };
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        for (let d = 0; d < dispatches; d++) {
          pass.writeTimestamp(querySet, 2 * d);
          pass.dispatchWorkgroups(Math.ceil(n / 64));
          pass.writeTimestamp(querySet, 2 * d + 1);
        }
        pass.end();
        encoder.copyBufferToBuffer(yBuf, 0, readback, 0, y0.byteLength);
        encoder.resolveQuerySet(querySet, 0, 2 * dispatches, resolved, 0);
        encoder.copyBufferToBuffer(resolved, 0, ticksBuf, 0, 16 * dispatches);
        device.queue.submit([encoder.finish()]);
        const validation = await device.popErrorScope();
        await Promise.all([readback.mapAsync(GPUMapMode.READ), ticksBuf.mapAsync(GPUMapMode.READ)]);
        const output = new Float32Array(readback.getMappedRange().slice(0));
        const ticks = [...new BigUint64Array(ticksBuf.getMappedRange().slice(0))];
        let maxAbsError = 0;
        for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs((output[i] ?? NaN) - (expected[i] ?? NaN)));
        const durationsNs: number[] = [];
        for (let d = 0; d < dispatches; d++) durationsNs.push(Number((ticks[2 * d + 1] ?? 0n) - (ticks[2 * d] ?? 0n)));
        let monotonic = true;
        for (let i = 1; i < ticks.length; i++) if ((ticks[i] ?? 0n) < (ticks[i - 1] ?? 0n)) monotonic = false;
        return {
          validationError: validation?.message ?? null,
          maxAbsError,
          sample: [output[0], output[1], output[n - 1]],
          expectedSample: [expected[0], expected[1], expected[n - 1]],
          durationsNs,
          monotonic,
          quantization: detectQuantization(ticks),
        };
      } finally {
        runtime.destroy();
      }
    }, doctorBundleUrl);
    expect(result.validationError).toBeNull();
    expect(result.sample).toEqual(result.expectedSample);
    expect(result.maxAbsError).toBe(0);
    expect(result.monotonic).toBe(true);
    expect(result.durationsNs).toHaveLength(4);
    for (const durNs of result.durationsNs) expect(durNs).toBeGreaterThan(0);
    expect(result.quantization.quantized).toBe(false);
  });

  test('an invalid WGSL kernel is reported as a validation error inside the error scope', async ({ gpuPage }) => {
    const result = await gpuPage.evaluate(async () => {
      const runtime = await window.wgprof.requestGpuDevice();
      const { device } = runtime;
      let uncaptured = 0;
      device.addEventListener('uncapturederror', () => uncaptured++);
      try {
        device.pushErrorScope('validation');
        const module = device.createShaderModule({
          label: 'broken',
          code: '@compute @workgroup_size(64) fn main() { let v = not_declared_anywhere + 1.0; }',
        });
        device.createComputePipeline({ label: 'broken', layout: 'auto', compute: { module, entryPoint: 'main' } });
        const error = await device.popErrorScope();
        const info = await module.getCompilationInfo();
        return {
          kind: error?.constructor.name ?? null,
          message: error?.message ?? null,
          compileErrors: info.messages.filter((m) => m.type === 'error').map((m) => m.message),
          uncaptured,
        };
      } finally {
        runtime.destroy();
      }
    });
    expect(result.kind).toBe('GPUValidationError');
    expect(result.message).toContain('not_declared_anywhere');
    expect(result.compileErrors.join('\n')).toContain('not_declared_anywhere');
    // Inside a scope the error is captured, not leaked to the device's uncapturederror event.
    expect(result.uncaptured).toBe(0);
  });

  test('a required feature the adapter lacks throws FEATURE_UNSUPPORTED naming it', async ({ gpuPage }) => {
    const result = await gpuPage.evaluate(async () => {
      const adapter = await navigator.gpu.requestAdapter();
      const candidates = [
        'texture-compression-etc2',
        'texture-compression-astc',
        'texture-compression-bc',
        'shader-f16',
        'float32-blendable',
        'clip-distances',
        'dual-source-blending',
        'subgroups',
      ];
      const missing = candidates.find((f) => !adapter?.features.has(f));
      if (!missing) return { missing: null, code: null, message: null };
      try {
        const runtime = await window.wgprof.requestGpuDevice({ requiredFeatures: [missing as GPUFeatureName] });
        runtime.destroy();
        return { missing, code: 'NO ERROR', message: null };
      } catch (error) {
        return { missing, code: (error as { code?: string }).code ?? null, message: (error as Error).message };
      }
    });
    expect(result.missing, 'SwiftShader should lack at least one of the candidate features').not.toBeNull();
    expect(result.code).toBe('FEATURE_UNSUPPORTED');
    expect(result.message).toContain(`"${result.missing}"`);
    expect(result.message).toContain('swiftshader');
  });
});
