// Instrumentation micro-benchmark: the CPU cost of encoding and submitting one compute pass with a few
// dispatches, on Dawn's null backend (no GPU work, so the numbers are the CPU side only):
//   detached        no instrumentation on the device
//   off-window      attached, not capturing (the wrapped methods only check a flag)
//   capture         capturing with default options (pass splitting + timestamps, readback per submit)
//   capture-all     capturing with shapes, stack, memory and flops
// Each variant has its own device (one instrumentation per device); they run in interleaved blocks so
// machine drift hits all alike. Reported: per-iteration µs distributions and the median of the paired
// ratios to 'detached' (warm-up excluded, every sample kept).
//
//   node scripts/run-ts.mjs test/bench/instrument.ts [--rounds 10] [--block 50] [--dispatches 4]

import { pathToFileURL } from 'node:url';
import { requestGpuDevice, type AdapterFacts, type GpuRuntime } from '../../src/gpu/device.js';
import { Instrumentation, type InstrumentationOptions } from '../../src/instrument/index.js';
import { distribution, formatNumber, formatRatio, formatTable, pairedRatios, type Distribution } from './util.js';

export type InstrumentVariant = 'detached' | 'off-window' | 'capture' | 'capture-all';
const VARIANTS: readonly InstrumentVariant[] = ['detached', 'off-window', 'capture', 'capture-all'];

export interface BenchInstrumentOptions {
  rounds?: number;
  /** Iterations per variant per round (default 50). */
  block?: number;
  /** Dispatches per pass (default 4). */
  dispatches?: number;
  onProgress?: (line: string) => void;
}

export interface InstrumentVariantResult {
  variant: InstrumentVariant;
  /** Per-iteration encode + submit time, µs. */
  iterationUs: Distribution;
  /** Median of paired ratios to 'detached'. */
  ratioToDetached: number;
}

export interface BenchInstrumentResult {
  adapter: AdapterFacts;
  backend: 'null';
  dispatchesPerPass: number;
  variants: InstrumentVariantResult[];
  table: string;
}

const WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&data)) { data[id.x] = data[id.x] + 1.0; }
}`;

interface Rig {
  variant: InstrumentVariant;
  runtime: GpuRuntime;
  inst?: Instrumentation;
  iterate(): void;
}

async function makeRig(variant: InstrumentVariant, dispatches: number): Promise<Rig> {
  const runtime = await requestGpuDevice({ backend: 'null' });
  const { device } = runtime;
  let inst: Instrumentation | undefined;
  if (variant !== 'detached') {
    const options: InstrumentationOptions =
      variant === 'capture-all' ? { recordShapes: true, withStack: true, withMemory: true, withFlops: true } : {};
    inst = new Instrumentation(options);
    inst.attach(device);
    if (variant !== 'off-window') inst.setCapturing(true);
  }
  const module = device.createShaderModule({ label: 'bench_add_one', code: WGSL });
  const pipeline = device.createComputePipeline({ label: 'bench_add_one', layout: 'auto', compute: { module, entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
  const rig: Rig = {
    variant,
    runtime,
    iterate() {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      for (let d = 0; d < dispatches; d++) pass.dispatchWorkgroups(16);
      pass.end();
      device.queue.submit([encoder.finish()]);
    },
  };
  if (inst) rig.inst = inst;
  return rig;
}

export async function benchInstrument(options: BenchInstrumentOptions = {}): Promise<BenchInstrumentResult> {
  const rounds = options.rounds ?? 10;
  const block = options.block ?? 50;
  const dispatches = options.dispatches ?? 4;
  const rigs: Rig[] = [];
  for (const v of VARIANTS) rigs.push(await makeRig(v, dispatches));
  const samples = new Map<InstrumentVariant, number[]>(VARIANTS.map((v) => [v, []]));
  try {
    // Warm-up: JIT, Dawn's caches.
    for (const rig of rigs) for (let i = 0; i < block; i++) rig.iterate();
    for (const rig of rigs) await rig.inst?.flush();
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round.
      const order = rigs.map((_, i) => rigs[(i + round) % rigs.length]!);
      for (const rig of order) {
        for (let i = 0; i < block; i++) {
          const t0 = performance.now();
          rig.iterate();
          samples.get(rig.variant)!.push((performance.now() - t0) * 1000);
        }
        // Drain readbacks outside the timed region, as a profiler's flush would.
        await rig.inst?.flush();
      }
      options.onProgress?.(`instrument bench: round ${round + 1}/${rounds}`);
    }
  } finally {
    for (const rig of rigs) {
      rig.inst?.detach();
      rig.runtime.destroy();
    }
  }
  const base = samples.get('detached')!;
  const variants = VARIANTS.map((variant) => {
    const s = samples.get(variant)!;
    return { variant, iterationUs: distribution(s, 'us'), ratioToDetached: distribution(pairedRatios(s, base), 'ratio').median };
  });
  const table = formatInstrumentBench({ variants, dispatchesPerPass: dispatches });
  return { adapter: rigs[0]!.runtime.facts, backend: 'null', dispatchesPerPass: dispatches, variants, table };
}

export function formatInstrumentBench(result: Pick<BenchInstrumentResult, 'variants' | 'dispatchesPerPass'>): string {
  const rows = result.variants.map((v) => [
    v.variant,
    formatNumber(v.iterationUs.median),
    formatNumber(v.iterationUs.min),
    formatNumber(v.iterationUs.p90),
    formatRatio(v.ratioToDetached),
  ]);
  return `encode + submit of one pass with ${result.dispatchesPerPass} dispatches (null backend, µs per iteration)\n` +
    formatTable(['variant', 'median', 'min', 'p90', 'vs detached'], rows);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const opts: BenchInstrumentOptions = { onProgress: (line) => process.stderr.write(`${line}\n`) };
  const rounds = arg('rounds');
  const block = arg('block');
  const dispatches = arg('dispatches');
  if (rounds !== undefined) opts.rounds = rounds;
  if (block !== undefined) opts.block = block;
  if (dispatches !== undefined) opts.dispatches = dispatches;
  const result = await benchInstrument(opts);
  process.stdout.write(`${result.table}\n`);
}
