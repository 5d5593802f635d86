// wgprof/auto: profile a page's WebGPU without changing its code. installAuto() wraps
// `navigator.gpu.requestAdapter` (an own property of this page's navigator.gpu, nothing on shared
// prototypes) so that every adapter's `requestDevice` adds the timestamp features the adapter offers
// and every device it returns gets a Profiler attached, before the page uses it. Iterations are
// marked by the policy chosen:
// - 'manual': `wgprof.step()` (the page, the console, or a test calls it at the start of an iteration);
// - 'frame': each animation frame is an iteration (a requestAnimationFrame loop registered first, so
//   its callback runs before the page's in every frame);
// - 'submit': GPU work separated by idle gaps: the first createCommandEncoder/writeBuffer on a device
//   after `idleGapMs` without a submit starts that device's next iteration.
// start()/stop()/step() are on `globalThis.wgprof` (unless the page defines its own) and
// `globalThis.wgprofAuto`. Traces go to `options.sink`, else to a Playwright binding
// (`__wgprofSaveTrace`, the fixture's), else a browser download.

import type { ProfilerConfigInput } from '../config/index.js';
import { parseProfilerConfig } from '../config/index.js';
import { Profiler, type ProfilerOptions } from '../profiler/profiler.js';
import { DownloadSink, type TraceSink, type TraceSinkWriter } from '../trace/sinks.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

export type IterationPolicy = 'manual' | 'frame' | 'submit';
export const ITERATION_POLICIES: readonly IterationPolicy[] = ['manual', 'frame', 'submit'];

export interface AutoOptions {
  /** vLLM's ProfilerConfig (default `{ profiler: 'torch', torch_profiler_dir: 'wgprof_traces' }`). */
  config?: ProfilerConfigInput;
  /** How iterations are marked (default 'manual'). */
  iterations?: IterationPolicy;
  /** 'submit': the idle time that separates two iterations, ms (default 50). */
  idleGapMs?: number;
  /** Start profiling as soon as installed (default false: call start()). */
  autoStart?: boolean;
  /** Worker name prefix; each device adds `-dev{i}` (default `wgprof-page`). */
  workerName?: string;
  rank?: number;
  worldSize?: number;
  /** Where traces go (default: the Playwright fixture's binding when present, else a download). */
  sink?: TraceSink;
}

/** The Playwright fixture's binding: (file name, base64 bytes) → the path written. */
export const SAVE_TRACE_BINDING = '__wgprofSaveTrace';

export interface WgprofAuto {
  readonly options: Readonly<AutoOptions>;
  /** Starts profiling on every device requested so far and every device requested later. */
  start(): void;
  /** Marks the start of an iteration on every device ('manual'; the other policies call it themselves). */
  step(): void;
  /** Stops every profiler; resolves to every file written. */
  stop(): Promise<string[]>;
  /** Devices instrumented so far. */
  readonly devices: number;
  /** Iterations marked so far (step() calls, on any device). */
  readonly iterations: number;
  /** Whether profiling was started and not stopped. */
  readonly started: boolean;
  /** Restores navigator.gpu and detaches every profiler (their open windows are exported first). */
  uninstall(): Promise<string[]>;
}

declare global {
  var wgprofAuto: WgprofAuto | undefined;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) s += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(s);
}

/** A sink that hands each whole file to the fixture's binding: nothing reaches the disk until commit. */
export class BindingSink implements TraceSink {
  readonly location = 'playwright';
  constructor(private readonly save: (name: string, data: string) => Promise<string>) {}

  async open(name: string): Promise<TraceSinkWriter> {
    const parts: Uint8Array[] = [];
    const save = this.save;
    return {
      async write(chunk) {
        parts.push(chunk);
      },
      async commit() {
        const size = parts.reduce((n, p) => n + p.length, 0);
        const all = new Uint8Array(size);
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        parts.length = 0;
        return save(name, base64(all));
      },
      async abort() {
        parts.length = 0;
      },
    };
  }
}

function defaultSink(): TraceSink {
  const binding = (globalThis as Record<string, unknown>)[SAVE_TRACE_BINDING];
  if (typeof binding === 'function') return new BindingSink(binding as (name: string, data: string) => Promise<string>);
  return new DownloadSink();
}

function checkOptions(options: AutoOptions): void {
  if (options.iterations !== undefined && !ITERATION_POLICIES.includes(options.iterations)) {
    throw new WgprofError(
      'INVALID_OPTION',
      `wgprof/auto option "iterations" must be one of ${ITERATION_POLICIES.map((p) => `'${p}'`).join(', ')}; got ${JSON.stringify(options.iterations)}.`,
    );
  }
  const gap = options.idleGapMs;
  if (gap !== undefined && !(Number.isFinite(gap) && gap > 0)) {
    throw new WgprofError('INVALID_OPTION', `wgprof/auto option "idleGapMs" must be a number > 0 (ms); got ${String(gap)}.`);
  }
}

interface Instrumented {
  device: GPUDevice;
  profiler: Profiler;
  restore: (() => void)[];
}

/** Installs the wrappers (once per page: a second call returns the first installation). */
export function installAuto(options: AutoOptions = {}): WgprofAuto {
  const existing = globalThis.wgprofAuto;
  if (existing) return existing;
  checkOptions(options);
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    throw new WgprofError(
      'WEBGPU_UNAVAILABLE',
      'wgprof/auto: navigator.gpu is undefined: serve the page from http://127.0.0.1 or https (a secure context) and, in headless Chromium, launch ' +
        'with --enable-unsafe-webgpu.',
    );
  }
  const config = parseProfilerConfig(options.config ?? { profiler: 'torch', torch_profiler_dir: 'wgprof_traces' });
  const policy = options.iterations ?? 'manual';
  const gapNs = (options.idleGapMs ?? 50) * 1e6;
  const sink = options.sink ?? defaultSink();
  const devices: Instrumented[] = [];
  let started = false;
  let iterations = 0;
  let frameHandle: number | undefined;
  const files: string[] = [];

  const profilerOptions = (index: number): ProfilerOptions => {
    const out: ProfilerOptions = { sink, workerName: `${options.workerName ?? 'wgprof-page'}-dev${index}` };
    if (options.rank !== undefined) out.rank = options.rank;
    if (options.worldSize !== undefined) out.worldSize = options.worldSize;
    return out;
  };

  const stepOne = (entry: Instrumented): void => {
    if (!started) return;
    iterations++;
    entry.profiler.step();
  };

  const instrument = (device: GPUDevice): void => {
    const entry: Instrumented = { device, profiler: new Profiler(config, profilerOptions(devices.length)), restore: [] };
    if (policy === 'submit') watchIdleGaps(entry, gapNs, () => stepOne(entry));
    // After our own wrappers: the instrumentation wraps them (its own properties are defined last).
    entry.profiler.attach(device);
    if (started) entry.profiler.start();
    devices.push(entry);
    log.debug(`wgprof/auto: instrumented device #${devices.length - 1} (${device.label || 'unlabelled'}).`);
  };

  const originalRequestAdapter = gpu.requestAdapter;
  const hadOwn = Object.getOwnPropertyDescriptor(gpu, 'requestAdapter');
  Object.defineProperty(gpu, 'requestAdapter', {
    value: async function requestAdapter(this: GPU, ...args: Parameters<GPU['requestAdapter']>) {
      const adapter = await originalRequestAdapter.apply(this, args);
      if (adapter) wrapAdapter(adapter, instrument);
      return adapter;
    },
    configurable: true,
    writable: true,
    enumerable: false,
  });

  const frame = (): void => {
    if (!started) return;
    for (const entry of devices) stepOne(entry);
    frameHandle = requestAnimationFrame(frame);
  };

  const stopAll = async (): Promise<string[]> => {
    started = false;
    if (frameHandle !== undefined) cancelAnimationFrame(frameHandle);
    frameHandle = undefined;
    const written: string[] = [];
    for (const entry of devices) {
      try {
        written.push(...(await entry.profiler.stop()));
      } catch (error) {
        log.warn(`wgprof/auto: stopping the profiler of device ${entry.device.label || '#'} failed: ${errorMessage(error)}`);
      }
    }
    files.push(...written);
    return written;
  };

  const api: WgprofAuto = {
    options: Object.freeze({ ...options }),
    start() {
      if (started) return;
      started = true;
      if (policy !== 'frame') {
        for (const entry of devices) entry.profiler.start();
        return;
      }
      // 'frame': the capture starts with a frame, so that no frame is captured in part.
      frameHandle = requestAnimationFrame(() => {
        if (!started) return;
        for (const entry of devices) entry.profiler.start();
        frame();
      });
    },
    step() {
      for (const entry of devices) stepOne(entry);
    },
    stop: stopAll,
    get devices() {
      return devices.length;
    },
    get iterations() {
      return iterations;
    },
    get started() {
      return started;
    },
    async uninstall() {
      const written = await stopAll();
      for (const entry of devices) {
        entry.profiler.detach();
        for (const restore of entry.restore.reverse()) restore();
      }
      devices.length = 0;
      if (hadOwn) Object.defineProperty(gpu, 'requestAdapter', hadOwn);
      else delete (gpu as unknown as Record<string, unknown>)['requestAdapter'];
      if (globalThis.wgprofAuto === api) globalThis.wgprofAuto = undefined;
      if ((globalThis as Record<string, unknown>)['wgprof'] === api) delete (globalThis as Record<string, unknown>)['wgprof'];
      return written;
    },
  };
  globalThis.wgprofAuto = api;
  if (!('wgprof' in globalThis)) (globalThis as Record<string, unknown>)['wgprof'] = api;
  if (options.autoStart) api.start();
  return api;
}

/** Adds the timestamp features the adapter offers to every requestDevice, and instruments the device. */
function wrapAdapter(adapter: GPUAdapter, instrument: (device: GPUDevice) => void): void {
  const original = adapter.requestDevice;
  Object.defineProperty(adapter, 'requestDevice', {
    value: async function requestDevice(this: GPUAdapter, descriptor?: GPUDeviceDescriptor) {
      const features = new Set<GPUFeatureName>(descriptor?.requiredFeatures ?? []);
      for (const f of ['timestamp-query', 'chromium-experimental-timestamp-query-inside-passes'] as GPUFeatureName[]) {
        if (this.features.has(f)) features.add(f);
      }
      const device = await original.call(this, { ...descriptor, requiredFeatures: [...features] });
      try {
        instrument(device);
      } catch (error) {
        // The page gets its device either way: a profiler failure never takes it down.
        log.warn(`wgprof/auto: could not instrument the device: ${errorMessage(error)}`);
      }
      return device;
    },
    configurable: true,
    writable: true,
    enumerable: false,
  });
}

/**
 * 'submit' policy: own properties on this device and its queue (defined before the profiler attaches,
 * so its instrumentation wraps them): the first command encoder or writeBuffer after `gapNs` without a
 * submit starts an iteration, before the encoder is created (so the iteration captures it).
 */
function watchIdleGaps(entry: Instrumented, gapNs: number, step: () => void): void {
  const { device } = entry;
  const queue = device.queue;
  let lastActivityNs = -Infinity;
  const activity = (): void => {
    const now = performance.now() * 1e6;
    if (now - lastActivityNs >= gapNs) step();
    lastActivityNs = now;
  };
  const define = <T extends object>(target: T, name: string, wrap: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): void => {
    const before = Object.getOwnPropertyDescriptor(target, name);
    const original = (target as Record<string, (...args: unknown[]) => unknown>)[name]!;
    Object.defineProperty(target, name, { value: wrap(original), configurable: true, writable: true, enumerable: false });
    entry.restore.push(() => {
      if (before) Object.defineProperty(target, name, before);
      else delete (target as Record<string, unknown>)[name];
    });
  };
  define(
    device,
    'createCommandEncoder',
    (original) =>
      function (this: GPUDevice, ...args: unknown[]) {
        activity();
        return original.apply(this, args);
      },
  );
  define(
    queue,
    'writeBuffer',
    (original) =>
      function (this: GPUQueue, ...args: unknown[]) {
        activity();
        return original.apply(this, args);
      },
  );
  define(
    queue,
    'submit',
    (original) =>
      function (this: GPUQueue, ...args: unknown[]) {
        const result = original.apply(this, args);
        lastActivityNs = performance.now() * 1e6;
        return result;
      },
  );
}
