// requestGpuDevice() on dawn.node: SwiftShader found automatically, real kernels checked against the
// CPU, unquantized timestamps, the null backend, and the errors users see when something is missing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SWIFTSHADER_ICD_CANDIDATES, requestGpuDevice, type GpuRuntime } from '../../src/gpu/device.js';
import { runProbe } from '../../src/gpu/probe.js';
import { detectQuantization } from '../../src/gpu/timestamps.js';
import { WgprofError } from '../../src/util/errors.js';

const DEBIAN_SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const REGISTER = fileURLToPath(new URL('../../scripts/register.mjs', import.meta.url));
const DEVICE_MODULE = new URL('../../src/gpu/device.ts', import.meta.url).href;

/** Same rule as device.ts: with a GPU device node, 'auto' tries the hardware driver before SwiftShader. */
function machineHasGpu(): boolean {
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** Features a SwiftShader adapter may lack; the tests pick the first one it does lack. */
const OPTIONAL_FEATURES: GPUFeatureName[] = [
  'shader-f16',
  'texture-compression-astc',
  'texture-compression-etc2',
  'texture-compression-bc',
  'dual-source-blending',
  'clip-distances',
  'float32-blendable',
];

/** Runs an ES module snippet in a fresh Node (TS loader registered) with the given env; never hangs the suite. */
function runChild(code: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, ['--import', REGISTER, '--input-type=module', '-e', code], {
    env,
    encoding: 'utf8',
    // A safety net against a hung child (a failure by itself), not a speed assertion.
    timeout: 120_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** The last line of a child's stdout, parsed as JSON. */
function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

describe('requestGpuDevice on dawn.node (auto backend)', () => {
  let runtime: GpuRuntime;
  before(async () => {
    // The test is about discovery: start from an environment that names no driver.
    delete process.env['VK_ICD_FILENAMES'];
    delete process.env['VK_DRIVER_FILES'];
    runtime = await requestGpuDevice();
  });
  after(() => runtime?.destroy());

  test('finds SwiftShader (or, on a machine with a GPU, a working Vulkan adapter) with timestamp-query', (t) => {
    const { facts } = runtime;
    assert.equal(facts.runtime, 'node');
    assert.equal(facts.backend, 'vulkan');
    assert.ok(process.env['XDG_RUNTIME_DIR'], 'XDG_RUNTIME_DIR is set for Dawn');
    if (facts.architecture === 'swiftshader' || !machineHasGpu()) {
      assert.equal(
        facts.architecture,
        'swiftshader',
        `no GPU device node here, so the adapter must be SwiftShader (got ${facts.vendor}/${facts.architecture})`,
      );
      assert.equal(facts.vendor, 'google');
      assert.equal(facts.isFallbackAdapter, true);
      assert.ok(SWIFTSHADER_ICD_CANDIDATES.includes(facts.vulkanIcd ?? ''), `vulkanIcd ${facts.vulkanIcd} is a SwiftShader candidate`);
      if (existsSync(DEBIAN_SWIFTSHADER_ICD)) assert.equal(facts.vulkanIcd, DEBIAN_SWIFTSHADER_ICD);
      assert.equal(process.env['VK_ICD_FILENAMES'], facts.vulkanIcd);
    } else {
      t.diagnostic(`hardware adapter: ${facts.vendor} ${facts.architecture} ${facts.description}; SwiftShader-specific checks do not apply`);
      assert.equal(facts.isFallbackAdapter, false);
    }
    assert.ok(facts.features.includes('timestamp-query'), `features: ${facts.features.join(', ')}`);
    assert.deepEqual(facts.features, [...facts.features].sort(), 'features are sorted');
    assert.ok(!facts.features.includes('chromium-experimental-timestamp-query-inside-passes'));
    assert.equal(facts.timestampMode, 'pass-boundaries');
    assert.equal(facts.timestampQuantizationDisabled, true);
    assert.ok((facts.limits['maxStorageBufferBindingSize'] ?? 0) >= 128 * 1024 * 1024, 'limits are read from the device');
    assert.ok(runtime.device.features.has('timestamp-query'), 'the device (not only the adapter) has timestamp-query');
  });

  test('a matmul kernel matches the CPU reference inside a validation error scope, timed per pass', async () => {
    const { device } = runtime;
    const [m, k, n] = [16, 24, 8];
    // Small integers: every product and sum is exact in f32, so the GPU result must equal the CPU's exactly.
    const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
    const b = Float32Array.from({ length: k * n }, (_, i) => (i % 5) - 2);
    const expected = new Float32Array(m * n);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let sum = 0;
        for (let i = 0; i < k; i++) sum += (a[r * k + i] ?? 0) * (b[i * n + c] ?? 0);
        expected[r * n + c] = sum;
      }
    }
    device.pushErrorScope('validation');
    const module = device.createShaderModule({
      label: 'test_matmul',
      code: /* wgsl */ `
        struct Dims { m: u32, k: u32, n: u32 }
        @group(0) @binding(0) var<uniform> dims: Dims;
        @group(0) @binding(1) var<storage, read> a: array<f32>;
        @group(0) @binding(2) var<storage, read> b: array<f32>;
        @group(0) @binding(3) var<storage, read_write> c: array<f32>;
        @compute @workgroup_size(8, 8)
        fn main(@builtin(global_invocation_id) id: vec3<u32>) {
          let row = id.y;
          let col = id.x;
          if (row >= dims.m || col >= dims.n) { return; }
          var sum = 0.0;
          for (var i = 0u; i < dims.k; i++) { sum += a[row * dims.k + i] * b[i * dims.n + col]; }
          c[row * dims.n + col] = sum;
        }`,
    });
    const pipeline = device.createComputePipeline({ label: 'test_matmul', layout: 'auto', compute: { module, entryPoint: 'main' } });
    const dims = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(dims, 0, new Uint32Array([m, k, n, 0]));
    const aBuf = device.createBuffer({ size: a.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const bBuf = device.createBuffer({ size: b.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const cBuf = device.createBuffer({ size: expected.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const readback = device.createBuffer({ size: expected.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(aBuf, 0, a);
    device.queue.writeBuffer(bBuf, 0, b);
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const ticksBuf = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [dims, aBuf, bBuf, cBuf].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(n / 8), Math.ceil(m / 8));
    pass.end();
    encoder.copyBufferToBuffer(cBuf, 0, readback, 0, expected.byteLength);
    encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, ticksBuf, 0, 16);
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    assert.equal(error, null, `validation error: ${error?.message}`);
    await Promise.all([readback.mapAsync(GPUMapMode.READ), ticksBuf.mapAsync(GPUMapMode.READ)]);
    const output = new Float32Array(readback.getMappedRange().slice(0));
    const [begin = 0n, end = 0n] = new BigUint64Array(ticksBuf.getMappedRange().slice(0));
    for (const buffer of [dims, aBuf, bBuf, cBuf, readback, resolved, ticksBuf]) buffer.destroy();
    querySet.destroy();
    assert.deepEqual([...output], [...expected]);
    assert.ok(
      expected.some((v) => v !== 0),
      'the reference is not trivially zero',
    );
    assert.ok(begin > 0n && end > begin, `kernel interval [${begin}, ${end}] has a positive duration`);
  });

  test('the probe matches the CPU reference and its timestamps are not quantized', async () => {
    runtime.device.pushErrorScope('validation');
    const probe = await runProbe(runtime.device, 8, 1024);
    const outer = await runtime.device.popErrorScope();
    assert.equal(outer, null, `validation error: ${outer?.message}`);
    assert.equal(probe.validationError, undefined);
    assert.equal(probe.nanCount, 0);
    assert.ok(probe.maxAbsError <= 1e-4, `max |GPU - CPU| = ${probe.maxAbsError}`);
    assert.equal(probe.ticks.length, 16);
    assert.equal(probe.durationsNs.length, 8);
    for (const durNs of probe.durationsNs) assert.ok(durNs > 0, `durations ${probe.durationsNs.join(', ')} ns are all > 0`);
    assert.deepEqual(detectQuantization(probe.ticks), { quantized: false, samples: 16 });
  });
});

describe('requestGpuDevice options', () => {
  test("Dawn's default quantization (re-enabled through dawnOptions) is reported in facts and detected in the ticks", async () => {
    // A later disable-dawn-features replaces ours (Dawn keeps the last value of a key).
    const runtime = await requestGpuDevice({ dawnOptions: ['disable-dawn-features=dump_shaders'] });
    try {
      assert.equal(runtime.facts.timestampQuantizationDisabled, false);
      const probe = await runProbe(runtime.device, 8, 256);
      assert.equal(probe.validationError, undefined);
      assert.ok(probe.maxAbsError <= 1e-4);
      const report = detectQuantization(probe.ticks);
      assert.equal(report.quantized, true, `ticks ${probe.ticks.join(', ')}`);
      assert.equal(report.quantumNs, 65536);
    } finally {
      runtime.destroy();
    }
  });

  test("backend 'null' gives a device that accepts work but runs none", async () => {
    const runtime = await requestGpuDevice({ backend: 'null' });
    try {
      assert.equal(runtime.facts.backend, 'null');
      assert.equal(runtime.facts.runtime, 'node');
      assert.equal(runtime.facts.vulkanIcd, undefined);
      assert.notEqual(runtime.facts.architecture, 'swiftshader');
      runtime.device.pushErrorScope('validation');
      const probe = await runProbe(runtime.device, 2, 64);
      const error = await runtime.device.popErrorScope();
      assert.equal(error, null, `validation error: ${error?.message}`);
      assert.equal(probe.validationError, undefined);
      // Nothing ran, so no meaningful timestamps: never called quantized or unquantized on this data.
      assert.equal(probe.ticks.length, 4);
    } finally {
      runtime.destroy();
    }
  });

  test('timestamps: false leaves the timestamp features off (timestampMode none)', async () => {
    const runtime = await requestGpuDevice({ timestamps: false });
    try {
      assert.ok(!runtime.facts.features.includes('timestamp-query'));
      assert.equal(runtime.facts.timestampMode, 'none');
      const probe = await runProbe(runtime.device, 2, 256);
      assert.deepEqual(probe.ticks, []);
      assert.deepEqual(probe.durationsNs, []);
      assert.ok(probe.maxAbsError <= 1e-4);
      assert.deepEqual(detectQuantization(probe.ticks), { quantized: null, samples: 0 });
    } finally {
      runtime.destroy();
    }
  });

  test('a required feature the adapter lacks throws FEATURE_UNSUPPORTED naming the feature and the adapter', async () => {
    const probe = await requestGpuDevice();
    const missing = OPTIONAL_FEATURES.find((f) => !probe.adapter.features.has(f));
    probe.destroy();
    assert.ok(missing, `the adapter lacks none of ${OPTIONAL_FEATURES.join(', ')}`);
    await assert.rejects(requestGpuDevice({ requiredFeatures: [missing] }), (error: unknown) => {
      assert.ok(error instanceof WgprofError);
      assert.equal(error.code, 'FEATURE_UNSUPPORTED');
      assert.match(error.message, new RegExp(`"${missing}"`));
      assert.match(error.message, /it offers: .*timestamp-query/);
      return true;
    });
  });

  test('a required feature the adapter has is granted', async () => {
    const runtime = await requestGpuDevice({ requiredFeatures: ['timestamp-query'], timestamps: false });
    try {
      assert.ok(runtime.device.features.has('timestamp-query'));
      assert.equal(runtime.facts.timestampMode, 'pass-boundaries');
    } finally {
      runtime.destroy();
    }
  });
});

describe('requestGpuDevice in a fresh process', () => {
  test('NO_ADAPTER names what was tried and the fix when the named Vulkan driver does not exist', () => {
    const code = `
      const { requestGpuDevice } = await import(${JSON.stringify(DEVICE_MODULE)});
      try { const r = await requestGpuDevice(); r.destroy(); console.log(JSON.stringify({ code: 'NO ERROR' })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const child = runChild(code, { ...process.env, VK_ICD_FILENAMES: '/nonexistent.json' });
    assert.equal(child.status, 0, child.stderr);
    const result = lastJsonLine(child.stdout);
    assert.equal(result['code'], 'NO_ADAPTER');
    const message = String(result['message']);
    assert.match(message, /tried the Vulkan driver named by the environment \(\/nonexistent\.json\)/);
    assert.match(message, /apt-get install -y chromium libvulkan1/);
    assert.match(message, /VK_ICD_FILENAMES/);
  });

  test('a process that used a device and destroyed it exits on its own', () => {
    const code = `
      const { requestGpuDevice } = await import(${JSON.stringify(DEVICE_MODULE)});
      const r = await requestGpuDevice();
      const buffer = r.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      await buffer.mapAsync(GPUMapMode.READ);
      buffer.unmap();
      r.destroy();
      console.log(JSON.stringify({ architecture: r.facts.architecture }));`;
    const env = { ...process.env };
    delete env['VK_ICD_FILENAMES'];
    const child = runChild(code, env);
    assert.equal(child.status, 0, `exit ${child.status}; stderr: ${child.stderr}`);
    assert.ok(lastJsonLine(child.stdout)['architecture'] !== undefined);
  });
});
