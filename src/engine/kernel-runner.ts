// Generic plumbing between kernel descriptors (kernels/*.ts) and a GPUDevice: one pipeline per
// descriptor, labelled with the descriptor's label (pipeline, shader module, passes), and one compute
// pass per dispatch. A pass per dispatch is what lets a profiler time each kernel with
// `timestampWrites` on devices without timestamps inside passes (dawn.node); on a real GPU the cost
// of a pass boundary is a few microseconds, small next to a transformer layer's kernels.

import type { KernelDescriptor } from '../../kernels/define.js';
import { noteDispatch } from '../instrument/hints.js';
import { WgprofError } from '../util/errors.js';

/** A descriptor compiled for one device. */
export interface CompiledKernel<Shape> {
  readonly device: GPUDevice;
  readonly kernel: KernelDescriptor<Shape>;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroupLayout: GPUBindGroupLayout;
}

/** The pipeline constants for a descriptor: WG_X/WG_Y/WG_Z from `workgroupSize`, then `constants`. */
export function pipelineConstants(kernel: KernelDescriptor<unknown>): Record<string, number> {
  const [x, y, z] = kernel.workgroupSize;
  return { WG_X: x, WG_Y: y, WG_Z: z, ...kernel.constants };
}

/**
 * Compiles a descriptor (asynchronously, so several compile in parallel where the runtime can).
 * A WGSL or pipeline error becomes KERNEL_COMPILE_FAILED carrying the compiler's messages.
 */
export function compileKernel<Shape>(device: GPUDevice, kernel: KernelDescriptor<Shape>): Promise<CompiledKernel<Shape>> {
  // Pipelines are immutable, so runners on one device share them (SwiftShader compiles take seconds).
  let perDevice = compiledByDevice.get(device);
  if (!perDevice) compiledByDevice.set(device, (perDevice = new Map()));
  const key = kernel as KernelDescriptor<unknown>;
  let compiled = perDevice.get(key);
  if (!compiled) {
    compiled = compileUncached(device, key);
    perDevice.set(key, compiled);
    // A failed compile is not cached: the error is reported to this caller, and a retry recompiles.
    compiled.catch(() => perDevice?.delete(key));
  }
  return compiled as Promise<CompiledKernel<Shape>>;
}

/** Per device: compiled pipelines by descriptor. */
const compiledByDevice = new WeakMap<GPUDevice, Map<KernelDescriptor<unknown>, Promise<CompiledKernel<unknown>>>>();

async function compileUncached(device: GPUDevice, kernel: KernelDescriptor<unknown>): Promise<CompiledKernel<unknown>> {
  const module = device.createShaderModule({ label: kernel.label, code: kernel.source });
  const constants = pipelineConstants(kernel);
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label: kernel.label,
      layout: 'auto',
      compute: { module, entryPoint: kernel.entryPoint, constants },
    });
  } catch (error) {
    const info = await module.getCompilationInfo();
    const messages = info.messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`);
    throw new WgprofError(
      'KERNEL_COMPILE_FAILED',
      `kernel "${kernel.label}" (entry point ${kernel.entryPoint}, constants ${JSON.stringify(constants)}) failed to compile: ` +
        `${messages.join('; ') || (error instanceof Error ? error.message : String(error))}`,
      { cause: error },
    );
  }
  return { device, kernel, pipeline, bindGroupLayout: pipeline.getBindGroupLayout(0) };
}

/** Creates a bind group for a compiled kernel: binding i is buffers[i] (whole buffer or a range). */
export function createKernelBindGroup(
  compiled: CompiledKernel<unknown>,
  buffers: readonly (GPUBuffer | GPUBufferBinding)[],
  label = compiled.kernel.label,
): GPUBindGroup {
  return compiled.device.createBindGroup({
    label,
    layout: compiled.bindGroupLayout,
    entries: buffers.map((resource, binding) => ({ binding, resource: 'buffer' in resource ? resource : { buffer: resource } })),
  });
}

/**
 * Encodes one dispatch of `compiled` for `shape` in its own compute pass. Tells an attached profiler
 * the kernel and shape (noteDispatch) right before `dispatchWorkgroups`.
 */
export function encodeKernel<Shape>(encoder: GPUCommandEncoder, compiled: CompiledKernel<Shape>, shape: Shape, bindGroup: GPUBindGroup): void {
  const { device, kernel } = compiled;
  const workgroups = kernel.dispatch(shape);
  const limit = device.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((count) => count > limit)) {
    throw new WgprofError(
      'DISPATCH_TOO_LARGE',
      `kernel "${kernel.label}" needs workgroups [${workgroups.join(', ')}] for shape ${JSON.stringify(shape)}, ` +
        `but the device allows at most ${limit} per dimension. Use a smaller batch (maxBatchTokens) or model.`,
    );
  }
  const pass = encoder.beginComputePass({ label: kernel.label });
  pass.setPipeline(compiled.pipeline);
  pass.setBindGroup(0, bindGroup);
  noteDispatch(device, kernel, shape);
  pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
  pass.end();
}
