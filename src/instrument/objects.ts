// What the instrumentation remembers about the device's objects, so that dispatches can be named and
// sized without a descriptor: shader modules (label, WGSL source), compute pipelines (module, entry
// point, constants, and the workgroup size and workgroup memory parsed from the source, once each), bind groups (the sizes of their
// buffer bindings). Recorded for every object created while attached, inside the window or not, in
// WeakMaps (nothing is kept alive).

import type { KernelDescriptor } from '../../kernels/define.js';
import type { OwnPatch } from './patch.js';
import { parseWorkgroupMemoryBytes, parseWorkgroupSize, type WorkgroupSize } from './wgsl.js';

interface PipelineInfo {
  module: GPUShaderModule;
  entryPoint?: string;
  constants?: Record<string, number>;
  /** What its WGSL source says, parsed on first use. */
  parsed?: ParsedSource;
  /** The pipeline's label, read once at its first dispatch (a native getter call each time otherwise). */
  label?: string;
}

/** Facts of a pipeline's entry point read from its WGSL (undefined: the source does not say). */
interface ParsedSource {
  workgroupSize: WorkgroupSize | undefined;
  workgroupMemoryBytes: number | undefined;
}

interface ModuleInfo {
  label?: string;
  code: string;
}

function isBuffer(value: unknown): value is GPUBuffer {
  return typeof value === 'object' && value !== null && typeof (value as GPUBuffer).mapAsync === 'function';
}

/** Binding sizes of a bind group's buffer entries, in binding order. */
export function bindGroupBufferBytes(entries: Iterable<GPUBindGroupEntry>): number[] {
  const sized: [number, number][] = [];
  // A one-shot iterator was consumed by the real call: only arrays can be read again.
  if (!Array.isArray(entries)) return [];
  for (const entry of entries as GPUBindGroupEntry[]) {
    const resource = entry.resource as unknown;
    if (isBuffer(resource)) sized.push([entry.binding, resource.size]);
    else if (typeof resource === 'object' && resource !== null && isBuffer((resource as GPUBufferBinding).buffer)) {
      const binding = resource as GPUBufferBinding;
      sized.push([entry.binding, binding.size ?? binding.buffer.size - (binding.offset ?? 0)]);
    }
  }
  return sized.sort((a, b) => a[0] - b[0]).map(([, bytes]) => bytes);
}

export class DeviceObjects {
  private readonly modules = new WeakMap<GPUShaderModule, ModuleInfo>();
  private readonly pipelines = new WeakMap<GPUComputePipeline, PipelineInfo>();
  private readonly bindGroupBytes = new WeakMap<GPUBindGroup, number[]>();

  /** Wraps the device's shader module, pipeline and bind group creation. */
  install(patch: OwnPatch<GPUDevice>): void {
    const modules = this.modules;
    const bindGroupBytes = this.bindGroupBytes;
    patch.define(
      'createShaderModule',
      (original) =>
        function (this: GPUDevice, desc: GPUShaderModuleDescriptor) {
          const module = original().apply(this, arguments) as GPUShaderModule;
          const info: ModuleInfo = { code: desc.code };
          if (desc.label) info.label = desc.label;
          modules.set(module, info);
          return module;
        },
    );
    const note = (pipeline: GPUComputePipeline, desc: GPUComputePipelineDescriptor): void => {
      const info: PipelineInfo = { module: desc.compute.module };
      if (desc.compute.entryPoint !== undefined) info.entryPoint = desc.compute.entryPoint;
      if (desc.compute.constants) info.constants = desc.compute.constants as Record<string, number>;
      this.pipelines.set(pipeline, info);
    };
    patch.define(
      'createComputePipeline',
      (original) =>
        function (this: GPUDevice, desc: GPUComputePipelineDescriptor) {
          const pipeline = original().apply(this, arguments) as GPUComputePipeline;
          note(pipeline, desc);
          return pipeline;
        },
    );
    patch.define(
      'createComputePipelineAsync',
      (original) =>
        function (this: GPUDevice, desc: GPUComputePipelineDescriptor) {
          const promise = original().apply(this, arguments) as Promise<GPUComputePipeline>;
          // Rejections pass through to the caller untouched; noting cannot throw.
          return promise.then((pipeline) => {
            note(pipeline, desc);
            return pipeline;
          });
        },
    );
    patch.define(
      'createBindGroup',
      (original) =>
        function (this: GPUDevice, desc: GPUBindGroupDescriptor) {
          const group = original().apply(this, arguments) as GPUBindGroup;
          // Sizes now, not at dispatch: callers reuse and mutate descriptor objects between creations.
          bindGroupBytes.set(group, bindGroupBufferBytes(desc.entries));
          return group;
        },
    );
  }

  /**
   * The kernel's name: the pipeline's label, else the hinted kernel's label, else the shader module's
   * label. A pipeline created while attached has its label read once, at its first dispatch: a label
   * set on it later is not seen.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  kernelName(pipeline: GPUComputePipeline | undefined, kernel: KernelDescriptor<any> | undefined): string {
    const info = pipeline ? this.pipelines.get(pipeline) : undefined;
    const label = info ? (info.label ??= pipeline!.label) : pipeline?.label;
    if (label) return label;
    if (kernel?.label) return kernel.label;
    const moduleLabel = info ? (this.modules.get(info.module)?.label ?? info.module.label) : undefined;
    return moduleLabel || 'unlabeled_pipeline';
  }

  /** The pipeline's entry point as its WGSL source describes it, parsed once per pipeline. */
  private parsed(pipeline: GPUComputePipeline | undefined): ParsedSource | undefined {
    const info = pipeline ? this.pipelines.get(pipeline) : undefined;
    if (!info) return undefined;
    if (info.parsed === undefined) {
      const code = this.modules.get(info.module)?.code;
      info.parsed =
        code === undefined
          ? { workgroupSize: undefined, workgroupMemoryBytes: undefined }
          : {
              workgroupSize: parseWorkgroupSize(code, info.entryPoint, info.constants),
              workgroupMemoryBytes: parseWorkgroupMemoryBytes(code, info.entryPoint, info.constants),
            };
    }
    return info.parsed;
  }

  /** The pipeline's workgroup size from its WGSL source (undefined when unknown). */
  workgroupSize(pipeline: GPUComputePipeline | undefined): WorkgroupSize | undefined {
    return this.parsed(pipeline)?.workgroupSize;
  }

  /** Bytes of workgroup memory the pipeline's entry point uses, from its WGSL source (undefined when unknown). */
  workgroupMemoryBytes(pipeline: GPUComputePipeline | undefined): number | undefined {
    return this.parsed(pipeline)?.workgroupMemoryBytes;
  }

  /**
   * Sizes of the buffers bound in these groups, in group order. With one sized group (the usual case)
   * that group's own array is returned, shared and never mutated: the record copies it.
   */
  boundBytes(groups: readonly (GPUBindGroup | undefined)[]): readonly number[] | undefined {
    let out: number[] | undefined;
    let shared = false;
    for (const group of groups) {
      if (!group) continue;
      const sizes = this.bindGroupBytes.get(group);
      if (!sizes || sizes.length === 0) continue;
      if (out === undefined) {
        out = sizes;
        shared = true;
      } else {
        if (shared) {
          out = out.slice();
          shared = false;
        }
        for (const bytes of sizes) out.push(bytes);
      }
    }
    return out;
  }
}
