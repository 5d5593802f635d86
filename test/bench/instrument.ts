// Instrumentation micro-benchmark: the CPU cost of encoding and submitting one command encoder, on
// Dawn's null backend (no GPU work, so the numbers are the CPU side only), for two shapes of work:
//   split      1 pass with 4 dispatches (pass-boundaries mode splits it into 4 passes)
//   engine     25 passes with 1 dispatch each, like the tiny engine's forward (one pass per kernel)
// and these variants:
//   detached        no instrumentation on the device
//   off-window      attached, not capturing (the wrapped methods only check a flag)
//   capture         capturing, Instrumentation defaults (timestamps, pass splitting, no stack)
//   capture-stack   capturing with withStack (what the profiler does with vLLM's defaults)
//   capture-all     capturing with shapes, stack, memory and flops
// Each variant has its own device (one instrumentation per device). Blocks of a few iterations run
// interleaved and rotated, many rounds, so drift of a shared machine hits all alike; a capturing
// variant flushes after each block (untimed), as a profiler's window would. Reported per shape:
// per-iteration µs (p10, median, p90 of block means; warm-up excluded, every sample kept), the extra µs
// per dispatch at p10 and the median of paired block ratios to 'detached'.
//
//   node scripts/run-ts.mjs test/bench/instrument.ts [--rounds 60] [--block 10]

import { pathToFileURL } from 'node:url';
import { requestGpuDevice, type AdapterFacts, type GpuRuntime } from '../../src/gpu/device.js';
import { Instrumentation, noteDispatch, type InstrumentationOptions } from '../../src/instrument/index.js';
import { ceilDiv, defineKernel } from '../../kernels/define.js';
import { distribution, formatNumber, formatRatio, formatTable, pairedRatios, type Distribution } from './util.js';

export type InstrumentVariant = 'detached' | 'off-window' | 'capture' | 'capture-stack' | 'capture-all';
const VARIANTS: readonly InstrumentVariant[] = ['detached', 'off-window', 'capture', 'capture-stack', 'capture-all'];

export interface InstrumentShape {
  name: string;
  passes: number;
  dispatchesPerPass: number;
}

export const SHAPES: readonly InstrumentShape[] = [
  { name: 'split', passes: 1, dispatchesPerPass: 4 },
  { name: 'engine', passes: 25, dispatchesPerPass: 1 },
];

export interface BenchInstrumentOptions {
  /** Interleaved rounds (default 60). */
  rounds?: number;
  /** Iterations per variant per round (default 10). */
  block?: number;
  shapes?: readonly InstrumentShape[];
  onProgress?: (line: string) => void;
}

export interface InstrumentVariantResult {
  variant: InstrumentVariant;
  /** Per-iteration encode + submit time, µs: one sample per block (its mean). */
  iterationUs: Distribution;
  /** Median of the paired block ratios to 'detached'. */
  ratioToDetached: number;
  /** (p10 of this variant − p10 of 'detached') / dispatches per iteration, µs. */
  extraUsPerDispatch: number;
}

export interface InstrumentShapeResult extends InstrumentShape {
  variants: InstrumentVariantResult[];
}

export interface BenchInstrumentResult {
  adapter: AdapterFacts;
  backend: 'null';
  shapes: InstrumentShapeResult[];
  table: string;
}

const WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&data)) { data[id.x] = data[id.x] + 1.0; }
}`;

/** A hint like the engine's kernels give (noteDispatch before each dispatch). */
const addOne = defineKernel<{ n: number }>({
  name: 'bench_add_one',
  label: 'bench_add_one',
  source: WGSL,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ n }) => [ceilDiv(n, 64), 1, 1],
  cost: ({ n }) => ({ flops: n, bytesRead: 4 * n, bytesWritten: 4 * n }),
  inputs: ({ n }) => ({ dims: [[n]], types: ['float'] }),
});

interface Rig {
  variant: InstrumentVariant;
  runtime: GpuRuntime;
  inst?: Instrumentation;
  iterate(): void;
}

function optionsOf(variant: InstrumentVariant): InstrumentationOptions {
  if (variant === 'capture-all') return { recordShapes: true, withStack: true, withMemory: true, withFlops: true };
  if (variant === 'capture-stack') return { withStack: true };
  return {};
}

async function makeRig(variant: InstrumentVariant, shape: InstrumentShape): Promise<Rig> {
  const runtime = await requestGpuDevice({ backend: 'null' });
  const { device } = runtime;
  let inst: Instrumentation | undefined;
  if (variant !== 'detached') {
    inst = new Instrumentation(optionsOf(variant));
    inst.attach(device);
    if (variant !== 'off-window') inst.setCapturing(true);
  }
  const module = device.createShaderModule({ label: 'bench_add_one', code: WGSL });
  const pipeline = device.createComputePipeline({ label: 'bench_add_one', layout: 'auto', compute: { module, entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
  const n = 1024;
  const rig: Rig = {
    variant,
    runtime,
    iterate() {
      const encoder = device.createCommandEncoder();
      for (let p = 0; p < shape.passes; p++) {
        const pass = encoder.beginComputePass({ label: 'bench_add_one' });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        for (let d = 0; d < shape.dispatchesPerPass; d++) {
          noteDispatch(device, addOne, { n });
          pass.dispatchWorkgroups(ceilDiv(n, 64));
        }
        pass.end();
      }
      device.queue.submit([encoder.finish()]);
    },
  };
  if (inst) rig.inst = inst;
  return rig;
}

/** Nearest-rank quantile. */
function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function benchShape(shape: InstrumentShape, rounds: number, block: number, progress: (line: string) => void): Promise<{ result: InstrumentShapeResult; adapter: AdapterFacts }> {
  const rigs: Rig[] = [];
  const samples = new Map<InstrumentVariant, number[]>(VARIANTS.map((v) => [v, []]));
  try {
    for (const v of VARIANTS) rigs.push(await makeRig(v, shape));
    // Warm-up: JIT, Dawn's caches, the pools.
    for (let i = 0; i < 5; i++) {
      for (const rig of rigs) for (let j = 0; j < block; j++) rig.iterate();
      for (const rig of rigs) await rig.inst?.flush();
    }
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round.
      for (let j = 0; j < rigs.length; j++) {
        const rig = rigs[(j + round) % rigs.length]!;
        const t0 = performance.now();
        for (let i = 0; i < block; i++) rig.iterate();
        samples.get(rig.variant)!.push(((performance.now() - t0) * 1000) / block);
        // Drain readbacks outside the timed region, as a profiler's flush would.
        await rig.inst?.flush();
      }
      if (round % 20 === 19) progress(`instrument bench (${shape.name}): round ${round + 1}/${rounds}`);
    }
    const base = samples.get('detached')!;
    const dispatches = shape.passes * shape.dispatchesPerPass;
    const variants = VARIANTS.map((variant) => {
      const s = samples.get(variant)!;
      return {
        variant,
        iterationUs: distribution(s, 'us'),
        ratioToDetached: distribution(pairedRatios(s, base), 'ratio').median,
        extraUsPerDispatch: (quantile(s, 0.1) - quantile(base, 0.1)) / dispatches,
      };
    });
    return { result: { ...shape, variants }, adapter: rigs[0]!.runtime.facts };
  } finally {
    for (const rig of rigs) {
      rig.inst?.detach();
      rig.runtime.destroy();
    }
  }
}

export async function benchInstrument(options: BenchInstrumentOptions = {}): Promise<BenchInstrumentResult> {
  const rounds = options.rounds ?? 60;
  const block = options.block ?? 10;
  const progress = options.onProgress ?? (() => undefined);
  const shapes: InstrumentShapeResult[] = [];
  let adapter: AdapterFacts | undefined;
  for (const shape of options.shapes ?? SHAPES) {
    const run = await benchShape(shape, rounds, block, progress);
    shapes.push(run.result);
    adapter ??= run.adapter;
  }
  return { adapter: adapter!, backend: 'null', shapes, table: formatInstrumentBench({ shapes }) };
}

export function formatInstrumentBench(result: Pick<BenchInstrumentResult, 'shapes'>): string {
  return result.shapes
    .map((shape) => {
      const rows = shape.variants.map((v) => [
        v.variant,
        formatNumber(quantile(v.iterationUs.samples, 0.1)),
        formatNumber(v.iterationUs.median),
        formatNumber(v.iterationUs.p90),
        formatRatio(v.ratioToDetached),
        v.variant === 'detached' ? '' : formatNumber(v.extraUsPerDispatch),
      ]);
      return (
        `${shape.name}: encode + submit of ${shape.passes} pass(es) × ${shape.dispatchesPerPass} dispatch(es) (null backend, µs per iteration)\n` +
        formatTable(['variant', 'p10', 'median', 'p90', 'vs detached', '+µs/dispatch (p10)'], rows)
      );
    })
    .join('\n\n');
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
  if (rounds !== undefined) opts.rounds = rounds;
  if (block !== undefined) opts.block = block;
  const result = await benchInstrument(opts);
  process.stdout.write(`${result.table}\n`);
}
