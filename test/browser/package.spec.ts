// The package as users meet it: packed (`npm pack`, whose `prepare` builds dist/ with declarations
// and fails over the browser size budget) and installed into an empty project (test/shared/packed-package.ts; once for this file). Then, from
// that project: Node imports `wgprof` and its subpaths, `npx wgprof` runs, the packed .d.ts export what
// the API reports list, and a tiny app importing `wgprof`, bundled with esbuild for the browser (the
// `browser` export condition), profiles a WebGPU device in Chromium and writes its trace through a
// CallbackSink; the trace is read back here with the installed package's Node build.

import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { API_REPORT_DIR, apiEntries, apiReports, type ApiEntry } from '../../scripts/api-report.js';
import { packAndInstall, run, REPO_ROOT, type PackedPackage } from '../shared/packed-package.js';
import { expect, test } from './fixtures.js';
import { startStaticServer } from './server.js';

test.describe.configure({ mode: 'serial' });

let packed: PackedPackage;
let entries: ApiEntry[];

test.beforeAll(async () => {
  test.setTimeout(300_000);
  packed = await packAndInstall();
  entries = apiEntries(JSON.parse(readFileSync(join(packed.installedDir, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> });
});

test.afterAll(() => packed?.cleanup());

/** The runtime (value) exports a checked-in API report lists for an entry. */
function reportedValues(reportName: string): string[] {
  const lines = readFileSync(join(API_REPORT_DIR, reportName), 'utf8').split('\n').slice(1).filter(Boolean);
  return lines
    .filter((line) => /^(class|function|const|let|enum|namespace)\b/.test(line))
    .map((line) => line.slice(line.lastIndexOf(' ') + 1))
    .sort();
}

test('the tarball holds every export target, the bin and the declarations, and no test bundles', () => {
  const files = new Set(packed.files);
  const pkg = JSON.parse(readFileSync(join(packed.installedDir, 'package.json'), 'utf8')) as { bin: Record<string, string>; exports: Record<string, unknown> };
  const targets = Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t as Record<string, string>)));
  for (const target of [...targets, ...Object.values(pkg.bin)]) expect(files.has(target.replace(/^\.\//, '')), `${target} is packed`).toBe(true);
  expect(packed.files.filter((f) => f.startsWith('dist/test/') || f === 'dist/.stamp')).toEqual([]);
  expect(packed.files.filter((f) => f.startsWith('test/'))).toEqual([]);
});

test('Node: wgprof, wgprof/engine, wgprof/ort and wgprof/auto import from the installed package, with the reported names', async () => {
  const script = `
    import * as wgprof from 'wgprof';
    import * as engine from 'wgprof/engine';
    import * as ort from 'wgprof/ort';
    import * as auto from 'wgprof/auto';
    const config = wgprof.parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: 'traces' });
    const gpu = await wgprof.requestGpuDevice({ backend: 'null' });
    const hasDevice = typeof gpu.device.createBuffer === 'function';
    gpu.destroy();
    console.log(JSON.stringify({
      resolved: import.meta.resolve('wgprof'),
      names: { wgprof: Object.keys(wgprof).sort(), engine: Object.keys(engine).sort(), ort: Object.keys(ort).sort(), auto: Object.keys(auto).sort() },
      version: wgprof.WGPROF_VERSION,
      dir: config.torch_profiler_dir,
      hasDevice,
    }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], packed.appDir);
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    resolved: string;
    names: Record<'wgprof' | 'engine' | 'ort' | 'auto', string[]>;
    version: string;
    dir: string;
    hasDevice: boolean;
  };
  expect(out.resolved).toBe(pathToFileURL(join(packed.installedDir, 'dist/index.js')).href);
  expect(out.names.wgprof).toEqual(reportedValues('wgprof.api.txt'));
  expect(out.names.engine).toEqual(reportedValues('wgprof-engine.api.txt'));
  expect(out.names.ort).toEqual(reportedValues('wgprof-ort.api.txt'));
  expect(out.names.auto).toEqual(reportedValues('wgprof-auto.api.txt'));
  expect(out.version).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  expect(out.dir).toBe(join(packed.appDir, 'traces'));
  expect(out.hasDevice).toBe(true);
});

test('npx wgprof: --help lists the commands, and `config` runs from the installed package', async () => {
  const help = await run('npx', ['--no-install', 'wgprof', '--help'], packed.appDir);
  expect(help.stdout).toMatch(/^usage: wgprof <command>/);
  for (const command of ['doctor', 'config', 'run', 'summarize', 'serve', 'bench serve', 'report', 'compare', 'merge']) {
    expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  }
  const config = await run(
    'npx',
    ['--no-install', 'wgprof', 'config', '--json', '--profiler-config', '{"profiler": "torch", "torch_profiler_dir": "t"}'],
    packed.appDir,
  );
  const printed = JSON.parse(config.stdout) as { config: { torch_profiler_dir: string }; hash: string };
  expect(printed.config.torch_profiler_dir).toBe(join(packed.appDir, 't'));
  expect(printed.hash).toBe(createHash('md5').update('[]').digest('hex'));
});

test('the packed declarations export exactly what the API reports list', () => {
  const reports = apiReports(
    entries.map((e) => ({ path: join(packed.installedDir, e.types), title: `${e.specifier} (${e.source})` })),
    packed.installedDir,
  );
  entries.forEach((entry, i) => {
    expect(reports[i], `${entry.types} against test/unit/api/${entry.reportName}`).toBe(readFileSync(join(API_REPORT_DIR, entry.reportName), 'utf8'));
  });
});

const APP = `
import { CallbackSink, Profiler, defineKernel, noteDispatch, parseProfilerConfig, requestGpuDevice } from 'wgprof';

const N = 1024;
const doublePlusOne = defineKernel({
  name: 'double_plus_one',
  label: 'double_plus_one',
  source: \`@group(0) @binding(0) var<storage, read_write> x: array<f32>;
    @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
      if (id.x < arrayLength(&x)) { x[id.x] = x[id.x] * 2.0 + 1.0; }
    }\`,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ n }) => [Math.ceil(n / 64), 1, 1],
  cost: ({ n }) => ({ flops: 2 * n, bytesRead: 4 * n, bytesWritten: 4 * n }),
});

async function main() {
  const files = [];
  const { device, facts, destroy } = await requestGpuDevice();
  const config = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: 'app-traces', ignore_frontend: true, torch_profiler_with_flops: true });
  const profiler = new Profiler(config, { sink: new CallbackSink((name, bytes) => void files.push({ name, bytes })), workerName: 'app', strict: true });
  profiler.attach(device, facts);
  const module = device.createShaderModule({ label: doublePlusOne.label, code: doublePlusOne.source });
  const pipeline = device.createComputePipeline({ label: doublePlusOne.label, layout: 'auto', compute: { module, entryPoint: 'main' } });
  const x = device.createBuffer({ label: 'x', size: 4 * N, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ label: 'read', size: 4 * N, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(x, 0, new Float32Array(N).fill(1));
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: x } }] });
  profiler.start();
  for (let i = 0; i < 3; i++) {
    profiler.step();
    profiler.beginIteration('app_iteration_' + i);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    noteDispatch(device, doublePlusOne, { n: N });
    pass.dispatchWorkgroups(...doublePlusOne.dispatch({ n: N }));
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    profiler.endIteration();
  }
  const written = await profiler.stop();
  profiler.detach();
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(x, 0, read, 0, 4 * N);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const values = [...new Set(new Float32Array(read.getMappedRange()))];
  read.unmap();
  destroy();
  const base64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));
  window.appResult = { written, values, files: files.map((f) => ({ name: f.name, base64: base64(f.bytes) })) };
}

main().catch((error) => {
  window.appResult = { error: String(error && error.stack ? error.stack : error) };
});
`;

test('a page bundled with esbuild from `wgprof` (browser condition) profiles its device into a CallbackSink; the trace reads back valid', async ({
  page,
  pageErrors,
}) => {
  const srcDir = join(packed.appDir, 'src');
  const publicDir = join(packed.appDir, 'public');
  mkdirSync(srcDir, { recursive: true });
  mkdirSync(publicDir, { recursive: true });
  writeFileSync(join(srcDir, 'main.js'), APP);
  writeFileSync(
    join(publicDir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>app</title><link rel="icon" href="data:,"><script type="module" src="./app.js"></script>\n',
  );
  // A user's bundler setup: nothing wgprof-specific (no externals, no Node polyfills).
  const bundled = await build({
    absWorkingDir: packed.appDir,
    entryPoints: ['src/main.js'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: 'public/app.js',
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(bundled.metafile.inputs).filter((path) => path.includes('node_modules/wgprof/'));
  expect(inputs.length).toBeGreaterThan(0);
  expect(
    inputs.filter((path) => !path.startsWith('node_modules/wgprof/dist/browser/')),
    'modules not from the browser build',
  ).toEqual([]);
  const imports = Object.values(bundled.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  expect(imports, 'imports left for the browser to resolve').toEqual([]);

  const server = await startStaticServer({ root: publicDir, port: 0, mounts: {} });
  try {
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => (window as unknown as { appResult?: unknown }).appResult !== undefined, undefined, { timeout: 60_000 });
    const result = (await page.evaluate(() => (window as unknown as { appResult: unknown }).appResult)) as {
      error?: string;
      written: string[];
      values: number[];
      files: { name: string; base64: string }[];
    };
    expect(result.error ?? '').toBe('');
    expect(result.values).toEqual([15]); // ((1·2+1)·2+1)·2+1: the profiled dispatches computed what they compute unprofiled
    expect(result.files.map((f) => f.name).sort()).toEqual([...result.written].sort());

    // Read back with the installed package's Node build.
    const nodeEntry = createRequire(join(packed.appDir, 'package.json')).resolve('wgprof');
    const wgprof = (await import(pathToFileURL(nodeEntry).href)) as typeof import('../../src/index.js');
    const trace = result.files.find((f) => f.name.endsWith('.pt.trace.json.gz'));
    expect(trace?.name).toMatch(/^app\.\d{19}\.pt\.trace\.json\.gz$/);
    const parsed = wgprof.parseTraceBytes(Buffer.from(trace!.base64, 'base64'), trace!.name);
    expect(wgprof.validateTrace(parsed)).toEqual([]);
    const events = parsed.traceEvents;
    expect(events.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).map((e) => e.name)).toEqual([
      'ProfilerStep#1',
      'ProfilerStep#2',
      'ProfilerStep#3',
    ]);
    const kernels = events.filter((e) => e.cat === 'kernel');
    expect(kernels).toHaveLength(3);
    for (const kernel of kernels) expect(kernel.dur).toBeGreaterThan(0);
    expect(events.filter((e) => e.cat === 'cpu_op' && e.name === 'double_plus_one').map((e) => e.args?.['flops'])).toEqual([2048, 2048, 2048]);
  } finally {
    await server.close();
  }
  expect(pageErrors).toEqual([]);
});
