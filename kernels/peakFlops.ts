import { defineKernel } from './define.js';
import source from './peakFlops.wgsl';

export interface PeakFlopsShape {
  /** Workgroups of 64 invocations (at most 65535 per dimension; more spill into y). */
  workgroups: number;
  /** Rounds of 8 vec4 FMAs per invocation. */
  iterations: number;
}

const WG = 64;
const MAX_X = 65535;

/** Compute-bound calibration kernel: 64 FLOPs per round per invocation, one vec4 written per invocation. */
export const peakFlops = defineKernel<PeakFlopsShape>({
  name: 'peakFlops',
  label: 'peakFlops',
  source,
  entryPoint: 'main',
  workgroupSize: [WG, 1, 1],
  dispatch: ({ workgroups }) => [Math.min(workgroups, MAX_X), Math.ceil(workgroups / MAX_X), 1],
  cost: ({ workgroups, iterations }) => ({ flops: 64 * iterations * workgroups * WG, bytesRead: 0, bytesWritten: 16 * workgroups * WG }),
});

export function peakFlopsParams(shape: PeakFlopsShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.iterations, 0, 0, 0);
}

/** The value the kernel writes for invocation `index` (f32 arithmetic as the GPU does it, unfused). */
export function peakFlopsReference(index: number, iterations: number): [number, number, number, number] {
  const f = Math.fround;
  const seed = f((index % 1024) * 0.0009765625);
  const lanes = [seed, f(seed + 0.125), f(seed + 0.25), f(seed + 0.375)];
  const out: [number, number, number, number] = [0, 0, 0, 0];
  lanes.forEach((lane, k) => {
    const acc = [lane, f(lane + 0.5), f(lane + 1), f(lane + 1.5)];
    for (let i = 0; i < iterations; i++) for (let r = 0; r < 2; r++) for (let j = 0; j < 4; j++) acc[j] = f(f(acc[j]! * 0.5) + 0.25);
    out[k] = f(f(f(acc[0]! + acc[1]!) + acc[2]!) + acc[3]!);
  });
  return out;
}
