// The device onnxruntime-web runs on while wgprof profiles it, and how each build is made to use it
// (reference/webgpu-runtime-notes.md §2c, §3):
// - JSEP ignores a handed-in device but calls `env.webgpu.adapter.requestDevice(desc)`: the adapter
//   we set answers with our device (JSEP on Chromium asks only for the inside-passes timestamp
//   feature; ours also has `timestamp-query`, which wgprof's timing needs).
// - The native EP takes the EP option `{ name: 'webgpu', device }`.
// - Node (dawn.node): `navigator.gpu` is defined for ORT's availability check, our queue's writeBuffer
//   copies SharedArrayBuffer data (dawn.node rejects ORT's shared wasm memory), and V8 compiles wasm
//   with Liftoff only (TurboFan on ORT's 27 MB wasm stalls the first run for a minute).

import { requestGpuDevice, type AdapterFacts, type GpuRuntime } from '../gpu/device.js';
import { WgprofError } from '../util/errors.js';
import { isNode } from '../util/runtime.js';
import { sourceBytes } from '../instrument/passes.js';

/** Features ORT uses when offered, besides the timestamp features requestGpuDevice asks for. */
const ORT_OPTIONAL_FEATURES = ['shader-f16', 'subgroups'] as const;

/** Limits JSEP requests at the adapter's maximum. */
const ORT_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
] as const;

export interface OrtDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  facts: AdapterFacts;
  /** Destroys the device when wgprof created it. */
  destroy(): void;
}

/**
 * Opens a device with the features and limits ORT asks for plus the timestamp features. The adapter's
 * offer is read from a first adapter (an adapter grants one device), then the device comes from a second.
 */
export async function openOrtDevice(): Promise<OrtDevice> {
  const probe = await requestGpuDevice({ label: 'wgprof.ort.probe' });
  const requiredFeatures = ORT_OPTIONAL_FEATURES.filter((f) => probe.adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const key of ORT_LIMITS) {
    const value = (probe.adapter.limits as unknown as Record<string, number | undefined>)[key];
    if (typeof value === 'number') requiredLimits[key] = value;
  }
  probe.destroy();
  const runtime: GpuRuntime = await requestGpuDevice({ label: 'wgprof.ort', requiredFeatures, requiredLimits });
  return { device: runtime.device, adapter: runtime.adapter, facts: runtime.facts, destroy: runtime.destroy };
}

/**
 * The adapter handed to JSEP as `env.webgpu.adapter`: the real adapter's features, limits and info,
 * and a requestDevice that answers with `device` when it has every feature asked for.
 */
export function adapterFor(adapter: GPUAdapter, device: GPUDevice): GPUAdapter {
  const requestDevice = async (descriptor?: GPUDeviceDescriptor): Promise<GPUDevice> => {
    const missing = [...(descriptor?.requiredFeatures ?? [])].filter((f) => !device.features.has(f));
    if (missing.length > 0) {
      throw new WgprofError(
        'ORT_DEVICE_FEATURES',
        `onnxruntime-web asked for feature(s) ${missing.join(', ')} that the profiled device lacks (it has ${[...device.features].sort().join(', ')}); ` +
          'pass profileOrt() a device created with them (options.device).',
      );
    }
    return device;
  };
  return {
    features: adapter.features,
    limits: adapter.limits,
    info: adapter.info,
    isFallbackAdapter: false,
    requestDevice,
    requestAdapterInfo: async () => adapter.info,
  } as unknown as GPUAdapter;
}

export interface NodeShims {
  flags: string[];
  restore(): void;
}

/** Node only: what ORT's WebGPU builds need from dawn.node (see the file comment). Undefined in a page. */
export async function installNodeShims(adapter: GPUAdapter, device: GPUDevice): Promise<NodeShims | undefined> {
  if (!isNode) return undefined;
  const flags: string[] = [];
  const v8 = (await import('node:v8')).default;
  // Takes effect for wasm compiled from now on: call profileOrt() before the first session is created.
  if (!process.execArgv.includes('--liftoff-only')) v8.setFlagsFromString('--liftoff-only');
  flags.push('--liftoff-only');

  const g = globalThis as { navigator?: { gpu?: unknown } };
  const addedNavigator = g.navigator === undefined;
  if (addedNavigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  const nav = g.navigator!;
  const ownGpu = Object.getOwnPropertyDescriptor(nav, 'gpu');
  if (nav.gpu === undefined) {
    Object.defineProperty(nav, 'gpu', {
      value: { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'rgba8unorm', wgslLanguageFeatures: new Set<string>() },
      configurable: true,
      writable: true,
    });
    flags.push('navigator.gpu answering with the profiled adapter');
  }

  // An own property of this queue only (defined before the profiler attaches, which wraps it).
  const queue = device.queue;
  const hadOwn = Object.getOwnPropertyDescriptor(queue, 'writeBuffer');
  const original = queue.writeBuffer;
  Object.defineProperty(queue, 'writeBuffer', {
    value: function writeBuffer(
      this: GPUQueue,
      buffer: GPUBuffer,
      offset: number,
      data: BufferSource | SharedArrayBuffer,
      dataOffset?: number,
      size?: number,
    ): undefined {
      const backing = ArrayBuffer.isView(data) ? data.buffer : data;
      if (typeof SharedArrayBuffer !== 'undefined' && backing instanceof SharedArrayBuffer) {
        // WebGPU counts dataOffset/size in elements for typed arrays and in bytes otherwise.
        const element = ArrayBuffer.isView(data) ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
        const start = (ArrayBuffer.isView(data) ? data.byteOffset : 0) + (dataOffset ?? 0) * element;
        const copy = new Uint8Array(backing, start, sourceBytes(data, dataOffset, size)).slice();
        return original.call(this, buffer, offset, copy);
      }
      return original.call(this, buffer, offset, data as BufferSource, dataOffset, size);
    },
    configurable: true,
    writable: true,
    enumerable: false,
  });
  flags.push('queue.writeBuffer copies SharedArrayBuffer data');

  return {
    flags,
    restore() {
      if (hadOwn) Object.defineProperty(queue, 'writeBuffer', hadOwn);
      else delete (queue as unknown as Record<string, unknown>)['writeBuffer'];
      if (ownGpu) Object.defineProperty(nav, 'gpu', ownGpu);
      else if (!addedNavigator) delete nav.gpu;
      if (addedNavigator) delete g.navigator;
    },
  };
}
