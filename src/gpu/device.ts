// Getting a WebGPU device in the browser (navigator.gpu) or in Node (dawn.node through the `webgpu`
// package), with timestamp queries switched on wherever the adapter has them.
//
// Node facts (reference/webgpu-runtime-notes.md): dawn.node needs a Vulkan driver; with no GPU it is
// SwiftShader from Debian's chromium package; XDG_RUNTIME_DIR must be set; Dawn rounds timestamps to
// 65 536 ns unless `timestamp_quantization` is disabled; `backend=null` gives a device that does no GPU
// work (for measuring CPU-side cost).

import type { AdapterFacts, TimestampMode } from '../capture/model.js';
import { WgprofError } from '../util/errors.js';

export type { AdapterFacts, TimestampMode } from '../capture/model.js';
import { isNode } from '../util/runtime.js';

export type GpuBackend = 'auto' | 'vulkan' | 'null';

export interface GpuDeviceOptions {
  /** Node only. 'auto' = a hardware Vulkan GPU if present, else SwiftShader; 'null' = Dawn's null backend. */
  backend?: GpuBackend;
  powerPreference?: GPUPowerPreference;
  /** Features the caller needs on top of the timestamp features (which are requested when offered). */
  requiredFeatures?: GPUFeatureName[];
  requiredLimits?: Record<string, number>;
  /** Request timestamp features when the adapter has them (default true). */
  timestamps?: boolean;
  /**
   * Node only: extra dawn.node options (`name=value` strings passed to `create()`, after ours). Dawn keeps the
   * last value of a key, so a `disable-dawn-features=...` here replaces ours: list `timestamp_quantization` in it
   * to keep ns timestamps (facts.timestampQuantizationDisabled tells which happened).
   */
  dawnOptions?: string[];
  label?: string;
}

export interface GpuRuntime {
  device: GPUDevice;
  adapter: GPUAdapter;
  facts: AdapterFacts;
  /** Destroys the device. */
  destroy(): void;
}

/** Places a SwiftShader Vulkan ICD is found, in order (Debian's chromium first). */
export const SWIFTSHADER_ICD_CANDIDATES: readonly string[] = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

const TIMESTAMP_FEATURES = ['timestamp-query', 'chromium-experimental-timestamp-query-inside-passes'] as const;

export const DAWN_UNQUANTIZED_TIMESTAMPS = 'disable-dawn-features=timestamp_quantization';

export async function requestGpuDevice(options: GpuDeviceOptions = {}): Promise<GpuRuntime> {
  if (isNode && !(typeof navigator !== 'undefined' && (navigator as Navigator & { gpu?: GPU }).gpu)) {
    return requestNodeDevice(options);
  }
  const gpu = typeof navigator !== 'undefined' ? (navigator as Navigator & { gpu?: GPU }).gpu : undefined;
  if (!gpu) {
    throw new WgprofError(
      'WEBGPU_UNAVAILABLE',
      'navigator.gpu is undefined in this page. WebGPU needs a secure context (serve the page from ' +
        'http://127.0.0.1 or https, not file:// or about:blank) and, in headless Chromium without a GPU, ' +
        'the flag --enable-unsafe-webgpu.',
    );
  }
  const adapterOptions: GPURequestAdapterOptions = {};
  if (options.powerPreference) adapterOptions.powerPreference = options.powerPreference;
  const adapter = await gpu.requestAdapter(adapterOptions);
  if (!adapter) {
    throw new WgprofError(
      'NO_ADAPTER',
      'navigator.gpu.requestAdapter() returned null. In headless Chromium launch with --enable-unsafe-webgpu ' +
        '(without it there is no adapter on machines with no GPU); check chrome://gpu for a blocklisted driver.',
    );
  }
  return openDevice(adapter, options, { runtime: 'browser', backend: 'webgpu', timestampQuantizationDisabled: null });
}

async function requestNodeDevice(options: GpuDeviceOptions): Promise<GpuRuntime> {
  const backend = options.backend ?? 'auto';
  const tried: string[] = [];
  let vulkanIcd: string | undefined;
  const env = process.env;
  if (!env['XDG_RUNTIME_DIR']) {
    // Dawn's Vulkan backend prints errors without it; any writable directory will do.
    const { tmpdir } = await import('node:os');
    env['XDG_RUNTIME_DIR'] = tmpdir();
  }
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (error) {
    throw new WgprofError('DAWN_NODE_MISSING', `could not load the "webgpu" package (dawn.node): ${String(error)}. Run \`npm ci\`.`, {
      cause: error,
    });
  }
  installGlobals(webgpu.globals);
  const dawnOptions = [DAWN_UNQUANTIZED_TIMESTAMPS, ...(options.dawnOptions ?? []), `backend=${backend === 'null' ? 'null' : 'vulkan'}`];
  const adapterOptions: GPURequestAdapterOptions = {};
  if (options.powerPreference) adapterOptions.powerPreference = options.powerPreference;
  // The GPU instance must stay referenced while its devices live: once it is collected, dawn.node
  // tears the instance down under them (the process exits or aborts mid-mapAsync).
  let gpu: GPU | undefined;
  const requestAdapter = () => {
    gpu = webgpu.create(dawnOptions);
    return gpu.requestAdapter(adapterOptions);
  };

  let adapter: GPUAdapter | null = null;
  if (backend === 'null') {
    tried.push('Dawn null backend');
    adapter = await requestAdapter();
  } else if (userIcd()) {
    tried.push(`the Vulkan driver named by the environment (${userIcd()})`);
    adapter = await requestAdapter();
  } else {
    // A hardware GPU first, when the machine has one; the Vulkan loader reads VK_ICD_FILENAMES at each
    // create(), so falling back to SwiftShader afterwards works in the same process.
    if (await hasGpuDeviceNode()) {
      tried.push('the system Vulkan drivers');
      adapter = await requestAdapter();
    }
    if (!adapter) {
      const { existsSync } = await import('node:fs');
      const icd = SWIFTSHADER_ICD_CANDIDATES.find((candidate) => existsSync(candidate));
      tried.push(icd ? `SwiftShader (${icd})` : `SwiftShader (none of ${SWIFTSHADER_ICD_CANDIDATES.join(', ')} exists)`);
      if (icd) {
        env['VK_ICD_FILENAMES'] = icd;
        vulkanIcd = icd;
        adapter = await requestAdapter();
      }
    }
  }
  if (!adapter) {
    throw new WgprofError(
      'NO_ADAPTER',
      `dawn.node found no WebGPU adapter (backend ${backend}; tried ${tried.join('; ')}). ` +
        "Without a GPU, install Debian's chromium package, which ships the SwiftShader Vulkan driver, and the Vulkan " +
        'loader: `apt-get update && apt-get install -y chromium libvulkan1` (or set VK_ICD_FILENAMES to a Vulkan ICD json). ' +
        'With a GPU, install its Vulkan driver (e.g. mesa-vulkan-drivers or the NVIDIA driver).',
    );
  }
  const facts: Pick<AdapterFacts, 'runtime' | 'backend' | 'timestampQuantizationDisabled'> & { vulkanIcd?: string } = {
    runtime: 'node',
    backend: backend === 'null' ? 'null' : 'vulkan',
    timestampQuantizationDisabled: quantizationDisabled(dawnOptions),
  };
  const icdInUse = env['VK_ICD_FILENAMES'] ?? env['VK_DRIVER_FILES'] ?? vulkanIcd;
  if (backend !== 'null' && icdInUse) facts.vulkanIcd = icdInUse;
  const runtime = await openDevice(adapter, options, facts);
  const instance = gpu;
  liveInstances.add(instance);
  return {
    ...runtime,
    destroy() {
      runtime.destroy();
      // Dropping the last reference lets Node exit once the device is gone.
      liveInstances.delete(instance);
    },
  };
}

/** Whether the effective (last) `disable-dawn-features` option turns off timestamp quantization. */
function quantizationDisabled(dawnOptions: readonly string[]): boolean {
  const key = 'disable-dawn-features=';
  const last = dawnOptions.filter((o) => o.startsWith(key)).at(-1);
  return (
    last !== undefined &&
    last
      .slice(key.length)
      .split(',')
      .map((f) => f.trim())
      .includes('timestamp_quantization')
  );
}

/** dawn.node GPU instances with live devices (see requestNodeDevice). */
const liveInstances = new Set<GPU | undefined>();

/** Exposes GPUBufferUsage, GPUMapMode, ... as globals, as browsers do. Never overwrites existing ones. */
function installGlobals(globals: object): void {
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
}

function userIcd(): string | undefined {
  return process.env['VK_ICD_FILENAMES'] || process.env['VK_DRIVER_FILES'] || undefined;
}

/** Whether the machine exposes a GPU to user space (DRM render node or NVIDIA device). */
async function hasGpuDeviceNode(): Promise<boolean> {
  const { existsSync, readdirSync } = await import('node:fs');
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

async function openDevice(
  adapter: GPUAdapter,
  options: GpuDeviceOptions,
  base: Pick<AdapterFacts, 'runtime' | 'backend' | 'timestampQuantizationDisabled'> & { vulkanIcd?: string },
): Promise<GpuRuntime> {
  const wanted = new Set<string>(options.requiredFeatures ?? []);
  if (options.timestamps !== false) {
    for (const feature of TIMESTAMP_FEATURES) if (adapter.features.has(feature)) wanted.add(feature);
  }
  const missing = [...wanted].filter((f) => !adapter.features.has(f));
  if (missing.length) {
    throw new WgprofError(
      'FEATURE_UNSUPPORTED',
      `adapter "${describeAdapter(adapter.info)}" lacks required feature(s) ${missing.map((f) => `"${f}"`).join(', ')}; ` +
        `it offers: ${[...adapter.features].sort().join(', ') || 'none'}.`,
    );
  }
  const descriptor: GPUDeviceDescriptor = { requiredFeatures: [...wanted] as GPUFeatureName[] };
  if (options.requiredLimits) descriptor.requiredLimits = options.requiredLimits;
  if (options.label) descriptor.label = options.label;
  const device = await adapter.requestDevice(descriptor);
  const info = adapter.info;
  const features = [...device.features].sort();
  const facts: AdapterFacts = {
    ...base,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features,
    limits: limitsOf(device.limits),
    timestampMode: timestampModeOf(device.features),
  };
  return { device, adapter, facts, destroy: () => device.destroy() };
}

export function timestampModeOf(features: GPUSupportedFeatures | ReadonlySet<string>): TimestampMode {
  if (!features.has('timestamp-query')) return 'none';
  return features.has('chromium-experimental-timestamp-query-inside-passes') ? 'inside-passes' : 'pass-boundaries';
}

export function describeAdapter(info: Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'description' | 'device'>): string {
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
}

function limitsOf(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as prototype getters, so walk the prototype chain.
  for (let proto: object | null = limits; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || key in out) continue;
      const value = (limits as unknown as Record<string, unknown>)[key];
      if (typeof value === 'number') out[key] = value;
    }
  }
  return out;
}
