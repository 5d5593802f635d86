// Measuring a device's peak for the roofline with a calibration kernel pair (kernels/peakFlops: an
// FMA-bound kernel; kernels/peakBandwidth: a vec4 copy) on a WebGPU device.
//
// Each kernel's work grows (x4) until one run lasts at least `minMs`, then the best of `runs` timed
// runs counts. GPU time comes from timestamp queries around the pass when the device has
// `timestamp-query`, else from the wall clock around submit → onSubmittedWorkDone (an underestimate of
// the peak: it includes the submit and the wait).

import { peakBandwidth, peakBandwidthParams } from '../../kernels/peakBandwidth.js';
import type { PeakBandwidthShape } from '../../kernels/peakBandwidth.js';
import { peakFlops, peakFlopsParams } from '../../kernels/peakFlops.js';
import type { PeakFlopsShape } from '../../kernels/peakFlops.js';
import type { KernelDescriptor } from '../../kernels/define.js';
import { WgprofError } from '../util/errors.js';

export interface PeakMeasurement {
  gflops: number;
  gbps: number;
  timing: 'timestamp-query' | 'wall-clock';
  flops: { workgroups: number; iterations: number; flops: number; ns: number };
  bandwidth: { count: number; bytes: number; ns: number };
  /** What the kernels wrote, for checking them against a CPU reference. */
  flopsSample: Float32Array;
  copyOk: boolean;
}

interface Timer {
  timing: PeakMeasurement['timing'];
  /** Runs `encode` in one pass and resolves to its GPU time in ns. */
  run(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, groups: [number, number, number]): Promise<number>;
  destroy(): void;
}

function makeTimer(device: GPUDevice): Timer {
  if (!device.features.has('timestamp-query')) {
    return {
      timing: 'wall-clock',
      async run(pipeline, bindGroup, groups) {
        const encoder = device.createCommandEncoder({ label: 'wgprof.peak' });
        const pass = encoder.beginComputePass({ label: 'wgprof.peak' });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(...groups);
        pass.end();
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        return (performance.now() - t0) * 1e6;
      },
      destroy() {},
    };
  }
  const querySet = device.createQuerySet({ label: 'wgprof.peak', type: 'timestamp', count: 2 });
  const resolve = device.createBuffer({ label: 'wgprof.peak.resolve', size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ label: 'wgprof.peak.read', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  return {
    timing: 'timestamp-query',
    async run(pipeline, bindGroup, groups) {
      const encoder = device.createCommandEncoder({ label: 'wgprof.peak' });
      const pass = encoder.beginComputePass({ label: 'wgprof.peak', timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...groups);
      pass.end();
      encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, read, 0, 16);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const [t0, t1] = new BigInt64Array(read.getMappedRange().slice(0));
      read.unmap();
      return Number(t1! - t0!);
    },
    destroy() {
      querySet.destroy();
      resolve.destroy();
      read.destroy();
    },
  };
}

async function pipelineFor(device: GPUDevice, kernel: KernelDescriptor<never>): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ label: kernel.label, code: kernel.source });
  const [x, y, z] = kernel.workgroupSize;
  return device.createComputePipelineAsync({
    label: kernel.label,
    layout: 'auto',
    compute: { module, entryPoint: kernel.entryPoint, constants: { WG_X: x, WG_Y: y, WG_Z: z } },
  });
}

function uniform(device: GPUDevice, data: Uint32Array<ArrayBuffer>): GPUBuffer {
  const buffer = device.createBuffer({ label: 'wgprof.peak.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

async function readBack(device: GPUDevice, src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const read = device.createBuffer({ label: 'wgprof.peak.readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(src, 0, read, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = read.getMappedRange().slice(0);
  read.destroy();
  return out;
}

export interface MeasurePeakOptions {
  /** Shortest run that counts, ms (default 10). */
  minMs?: number;
  /** Timed runs per kernel after one warm-up; the best counts (default 3). */
  runs?: number;
  /** Largest copy, bytes per buffer (default: 64 MiB, or the device's storage binding limit). */
  maxCopyBytes?: number;
}

/** Measures peak GFLOP/s and GB/s on `device` with the calibration kernel pair. */
export async function measureDevicePeak(device: GPUDevice, options: MeasurePeakOptions = {}): Promise<PeakMeasurement> {
  const minNs = (options.minMs ?? 10) * 1e6;
  const runs = options.runs ?? 3;
  const timer = makeTimer(device);
  const owned: GPUBuffer[] = [];
  const best = async (pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, groups: [number, number, number]): Promise<number> => {
    await timer.run(pipeline, bindGroup, groups);
    let ns = Infinity;
    for (let r = 0; r < runs; r++) ns = Math.min(ns, await timer.run(pipeline, bindGroup, groups));
    if (!(ns > 0))
      throw new WgprofError(
        'PEAK_MEASURE_FAILED',
        `the calibration kernel's GPU time was ${ns} ns; the device's timestamps are unusable for a peak. Give --peak-gflops and --peak-gbps instead.`,
      );
    return ns;
  };
  try {
    // Compute: grow iterations (then workgroups) until a run lasts minMs.
    const fp = await pipelineFor(device, peakFlops as KernelDescriptor<never>);
    let shape: PeakFlopsShape = { workgroups: 64, iterations: 64 };
    let ns = 0;
    let out: GPUBuffer | undefined;
    for (;;) {
      out?.destroy();
      out = device.createBuffer({ label: 'wgprof.peak.flops', size: 16 * 64 * shape.workgroups, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const params = uniform(device, peakFlopsParams(shape));
      owned.push(params);
      const bind = device.createBindGroup({
        layout: fp.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: params } },
          { binding: 1, resource: { buffer: out } },
        ],
      });
      ns = await best(fp, bind, peakFlops.dispatch(shape));
      if (ns >= minNs || shape.iterations >= 1 << 16) break;
      shape = shape.workgroups < 1024 ? { ...shape, workgroups: shape.workgroups * 4 } : { ...shape, iterations: shape.iterations * 4 };
    }
    owned.push(out);
    const flops = peakFlops.cost!(shape).flops;
    const flopsSample = new Float32Array(await readBack(device, out, 16 * 64));

    // Memory: grow the copy until a run lasts minMs or the buffers reach their limit.
    const bp = await pipelineFor(device, peakBandwidth as KernelDescriptor<never>);
    const limit = Math.min(options.maxCopyBytes ?? 64 * 2 ** 20, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    let copy: PeakBandwidthShape = { count: 1 << 16 };
    let copyNs = 0;
    let copyOk = false;
    for (;;) {
      const bytes = 16 * copy.count;
      const src = device.createBuffer({ label: 'wgprof.peak.src', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      const dst = device.createBuffer({ label: 'wgprof.peak.dst', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const pattern = new Uint32Array(4096).map((_, i) => i * 2654435761);
      device.queue.writeBuffer(src, 0, pattern);
      const params = uniform(device, peakBandwidthParams(copy));
      owned.push(params, src, dst);
      const bind = device.createBindGroup({
        layout: bp.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: params } },
          { binding: 1, resource: { buffer: src } },
          { binding: 2, resource: { buffer: dst } },
        ],
      });
      copyNs = await best(bp, bind, peakBandwidth.dispatch(copy));
      const head = new Uint32Array(await readBack(device, dst, pattern.byteLength));
      copyOk = head.every((v, i) => v === pattern[i]);
      if (copyNs >= minNs || bytes * 4 > limit) break;
      copy = { count: copy.count * 4 };
    }
    const cost = peakBandwidth.cost!(copy);
    const moved = cost.bytesRead + cost.bytesWritten;
    return {
      gflops: flops / ns,
      gbps: moved / copyNs,
      timing: timer.timing,
      flops: { ...shape, flops, ns },
      bandwidth: { count: copy.count, bytes: moved, ns: copyNs },
      flopsSample,
      copyOk,
    };
  } finally {
    timer.destroy();
    for (const b of owned) b.destroy();
  }
}
