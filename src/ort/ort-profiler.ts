// wgprof/ort: profile onnxruntime-web sessions on either WebGPU back end (JSEP: `onnxruntime-web`,
// `onnxruntime-web/all`; the native EP: `onnxruntime-web/webgpu`), in a page or in Node.
//
//   const prof = await profileOrt(ort, { config: { profiler: 'torch', torch_profiler_dir: './traces', max_iterations: 3 } });
//   const session = await prof.createSession(modelBytes);   // or prof.profileSession(existing)
//   prof.start();
//   for (...) await session.run(feeds);                     // each run() is one iteration (profiler.step())
//   await prof.stop();                                      // → files written
//
// What it does (reference/webgpu-runtime-notes.md): opens a device with the timestamp features and the
// limits ORT asks for, makes ORT use it (JSEP through `env.webgpu.adapter`, the native EP through the
// EP option `device`), attaches a Profiler, and names the captured dispatches after their ONNX nodes in
// the Profiler's beforeExport (./attribute.ts): JSEP's `env.webgpu.profiling.ondata` is switched on for
// the runs inside the capture window only; the native EP's per-dispatch data and the CPU execution
// provider's node times come from ORT's `enableProfiling` profile, which onnxruntime-web can produce
// once per session (endProfiling ends it, startProfiling is a no-op): wgprof ends it when the first
// window that ran the session closes. Later windows reuse those names for runs with the same program
// sequence; other runs keep ORT's program names.
//
// Limits: call profileOrt() before the first InferenceSession.create of the process (ORT binds its
// stdout when its wasm initializes, and JSEP reads env.webgpu.adapter once); the wasm proxy worker
// (`env.wasm.proxy = true`) prints its profile in the worker, out of reach; runs of one OrtProfiler
// are assumed not to overlap.

import type { AdapterFacts } from '../capture/model.js';
import { parseProfilerConfig } from '../config/index.js';
import type { ProfilerConfig, ProfilerConfigInput } from '../config/index.js';
import { Profiler, type ProfilerOptions } from '../profiler/profiler.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { monotonicNowNs } from '../util/runtime.js';
import { attributeCapture, dispatchesPerRun, type AttributionStats, type KernelAttribution, type RunSpan, type SessionProfile } from './attribute.js';
import { adapterFor, installNodeShims, openOrtDevice, type NodeShims, type OrtDevice } from './device.js';
import { captureProfileLines, installProfileTap, parseProfileLines } from './profile-output.js';
import type { JsepKernelRecord, OrtBuild, OrtModuleLike, OrtSessionLike } from './types.js';

export interface OrtProfilerOptions {
  /** vLLM's ProfilerConfig (parsed or not). */
  config: ProfilerConfig | ProfilerConfigInput;
  /** Profiler options (sink, workerName, rank, strict, ...). Its beforeExport runs after wgprof's own. */
  profiler?: ProfilerOptions;
  /** The device ORT should run on (default: one wgprof opens with the timestamp features). */
  device?: { device: GPUDevice; adapter: GPUAdapter; facts?: AdapterFacts };
  /** Which build `ort` is (default 'auto': told apart after the first session is created). */
  build?: OrtBuild | 'auto';
  /**
   * Session option `enableProfiling` on sessions created through createSession(), for node names on the
   * native EP and CPU-EP node times on both (default true). Off: JSEP still names every dispatch.
   */
  ortProfiling?: boolean;
  /** How long beforeExport waits for JSEP's profiling records of a window (default 3000 ms). */
  recordTimeoutMs?: number;
  /** The annotation of each run's iteration (default `{session}.run({input}=[dims], ...)`). */
  annotate?: (sessionName: string, feeds: unknown) => string;
}

interface SessionState {
  id: number;
  name: string;
  session: OrtSessionLike;
  originalRun: OrtSessionLike['run'];
  hadOwnRun: PropertyDescriptor | undefined;
  /** Created with enableProfiling, and its profile not yet printed. */
  profiling: boolean;
}

interface CaptureWindowRuns {
  runs: RunSpan[];
  sessions: Set<SessionState>;
  profiles: SessionProfile[];
}

let nextSessionId = 1;

function defaultAnnotation(name: string, feeds: unknown): string {
  if (feeds === null || typeof feeds !== 'object') return `${name}.run`;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(feeds as Record<string, unknown>)) {
    const dims = (value as { dims?: unknown } | null)?.dims;
    parts.push(Array.isArray(dims) ? `${key}=[${dims.join(',')}]` : key);
  }
  return `${name}.run(${parts.join(', ')})`;
}

export class OrtProfiler {
  readonly profiler: Profiler;
  readonly device: GPUDevice;
  readonly facts: AdapterFacts | undefined;
  /** What each exported window's attribution did, oldest first. */
  readonly windows: AttributionStats[] = [];

  private buildKnown: OrtBuild | undefined;
  private readonly sessions = new Set<SessionState>();
  private current: CaptureWindowRuns | undefined;
  private readonly closed: CaptureWindowRuns[] = [];
  private readonly jsepRecords: JsepKernelRecord[] = [];
  private readonly known = new Map<number, Map<string, KernelAttribution[]>>();
  private readonly profiling: { mode: 'off' | 'default'; ondata: (data: JsepKernelRecord) => void };
  private disposed = false;

  private constructor(
    readonly ort: OrtModuleLike,
    private readonly options: OrtProfilerOptions,
    private readonly opened: OrtDevice | undefined,
    device: { device: GPUDevice; adapter: GPUAdapter; facts?: AdapterFacts },
    private readonly shims: NodeShims | undefined,
  ) {
    this.device = device.device;
    this.facts = device.facts;
    this.buildKnown = options.build === 'auto' ? undefined : options.build;
    this.profiling = { mode: 'off', ondata: (data) => void this.jsepRecords.push(data) };
    const config = parseProfilerConfig(options.config);
    const userBeforeExport = options.profiler?.beforeExport;
    this.profiler = new Profiler(config, {
      ...options.profiler,
      beforeExport: async (record) => {
        await this.enrich(record);
        await userBeforeExport?.(record);
      },
    });
    this.profiler.attach(this.device, device.facts);
  }

  /** Prepares `ort` and opens (or takes) the device; call it before the first InferenceSession.create. */
  static async create(ort: OrtModuleLike, options: OrtProfilerOptions): Promise<OrtProfiler> {
    if (!ort || typeof ort.InferenceSession?.create !== 'function' || typeof ort.env?.webgpu !== 'object') {
      throw new WgprofError(
        'ORT_MODULE_INVALID',
        `profileOrt(ort) expects the onnxruntime-web module (import * as ort from 'onnxruntime-web/webgpu' or 'onnxruntime-web'); got ` +
          `${ort === null ? 'null' : typeof ort}.`,
      );
    }
    if (options?.build !== undefined && !['auto', 'jsep', 'native'].includes(options.build)) {
      throw new WgprofError('INVALID_OPTION', `profileOrt option "build" must be 'auto', 'jsep' or 'native'; got ${JSON.stringify(options.build)}.`);
    }
    parseProfilerConfig(options?.config);
    await installProfileTap();
    const opened = options.device ? undefined : await openOrtDevice();
    const device = options.device ?? opened!;
    const shims = await installNodeShims(device.adapter, device.device);
    const env = ort.env.webgpu;
    const profiler = new OrtProfiler(ort, options, opened, device, shims);
    try {
      env.adapter = adapterFor(device.adapter, device.device);
    } catch (error) {
      log.warn(
        `profileOrt: could not set env.webgpu.adapter (${errorMessage(error)}): JSEP was already initialized and runs on its own device, which wgprof ` +
          `does not see. Call profileOrt() before the first InferenceSession.create.`,
      );
    }
    env.profiling = profiler.profiling;
    return profiler;
  }

  /** The build the sessions run on (known after the first session is created, or as given). */
  get build(): OrtBuild | undefined {
    return this.buildKnown;
  }

  /**
   * Creates a session on the profiled device: the WebGPU EP entry (a string or an object) of
   * `options.executionProviders` gets the device (other providers, e.g. a 'wasm' fallback, stay), and
   * `enableProfiling` is set unless `ortProfiling: false`. The session is returned profiled.
   */
  async createSession(model: Uint8Array | ArrayBuffer | string, options: Record<string, unknown> = {}, name?: string): Promise<OrtSessionLike> {
    this.checkLive();
    const providers = Array.isArray(options['executionProviders']) ? (options['executionProviders'] as unknown[]) : ['webgpu'];
    let sawWebGpu = false;
    const executionProviders = providers.map((p) => {
      const pname = typeof p === 'string' ? p : (p as { name?: unknown } | null)?.name;
      if (pname !== 'webgpu') return p;
      sawWebGpu = true;
      return { ...(typeof p === 'object' ? p : {}), name: 'webgpu', device: this.device };
    });
    if (!sawWebGpu) {
      throw new WgprofError(
        'ORT_NO_WEBGPU_EP',
        `createSession: executionProviders ${JSON.stringify(providers.map((p) => (typeof p === 'string' ? p : (p as { name?: unknown })?.name)))} has ` +
          `no 'webgpu' entry; wgprof profiles the WebGPU EP. Add 'webgpu' (first).`,
      );
    }
    const profiling = this.options.ortProfiling !== false;
    const session = await this.ort.InferenceSession.create(model, { ...options, executionProviders, ...(profiling ? { enableProfiling: true } : {}) });
    this.detectBuild();
    return this.adopt(session, name, profiling);
  }

  /**
   * Profiles a session created elsewhere (e.g. by a library): each run() becomes an iteration. JSEP
   * sessions run on the profiled device when created after profileOrt(); a native-EP session must have
   * been given `{ name: 'webgpu', device: prof.device }`.
   */
  profileSession(session: OrtSessionLike, name?: string): OrtSessionLike {
    this.checkLive();
    this.detectBuild();
    return this.adopt(session, name, false);
  }

  start(): void {
    this.profiler.start();
  }

  /** Stops the capture (a window still open is exported) and resolves to the files written. */
  async stop(): Promise<string[]> {
    this.closeWindow();
    return this.profiler.stop();
  }

  /** Stops, restores every profiled session's run() and the Node shims, and destroys the device wgprof opened. */
  async dispose(): Promise<string[]> {
    if (this.disposed) return [];
    const files = await this.stop();
    this.disposed = true;
    for (const state of this.sessions) {
      if (state.hadOwnRun) Object.defineProperty(state.session, 'run', state.hadOwnRun);
      else delete (state.session as unknown as Record<string, unknown>)['run'];
    }
    this.sessions.clear();
    this.profiler.detach();
    this.profiling.mode = 'off';
    this.shims?.restore();
    this.opened?.destroy();
    return files;
  }

  // ---- runs --------------------------------------------------------------------------------------

  private adopt(session: OrtSessionLike, name: string | undefined, profiling: boolean): OrtSessionLike {
    for (const state of this.sessions) if (state.session === session) return session;
    const id = nextSessionId++;
    const state: SessionState = {
      id,
      name: name ?? `session${id}`,
      session,
      originalRun: session.run,
      hadOwnRun: Object.getOwnPropertyDescriptor(session, 'run'),
      profiling,
    };
    const self = this;
    Object.defineProperty(session, 'run', {
      value: function run(this: OrtSessionLike, ...args: unknown[]) {
        return self.run(state, this, args);
      },
      configurable: true,
      writable: true,
      enumerable: false,
    });
    this.sessions.add(state);
    return session;
  }

  private async run(state: SessionState, thisArg: OrtSessionLike, args: unknown[]): Promise<Record<string, unknown>> {
    const profiler = this.profiler;
    const wasRunning = profiler.running;
    profiler.step();
    // The (max+1)-th step() closed the window: its runs are done, end their sessions' ORT profiles now.
    if (wasRunning && !profiler.running) this.closeWindow();
    const capturing = profiler.running;
    if (capturing) {
      this.current ??= { runs: [], sessions: new Set(), profiles: [] };
      profiler.beginIteration((this.options.annotate ?? defaultAnnotation)(state.name, args[0]));
    }
    // JSEP reads the mode at each run's start: its per-dispatch records only for captured runs.
    this.profiling.mode = capturing ? 'default' : 'off';
    const startNs = monotonicNowNs();
    try {
      return await state.originalRun.apply(thisArg, args);
    } finally {
      const window = this.current;
      if (capturing && window) {
        window.runs.push({ sessionId: state.id, startNs, endNs: monotonicNowNs() });
        window.sessions.add(state);
        profiler.endIteration();
      }
    }
  }

  private detectBuild(): void {
    if (this.buildKnown) return;
    // JSEP defines env.webgpu.device (ours, through the adapter); the native EP leaves it undefined.
    this.buildKnown = this.ort.env.webgpu.device === this.device ? 'jsep' : 'native';
  }

  /** The window's runs are complete: print (and keep) the ORT profiles of the sessions it ran. */
  private closeWindow(): void {
    this.profiling.mode = 'off';
    const window = this.current;
    if (!window) return;
    this.current = undefined;
    for (const state of window.sessions) {
      if (!state.profiling) continue;
      state.profiling = false;
      let lines: string[] = [];
      try {
        lines = captureProfileLines(() => state.session.endProfiling());
      } catch (error) {
        log.warn(`wgprof/ort: ${state.name}.endProfiling() failed: ${errorMessage(error)}`);
      }
      const events = parseProfileLines(lines);
      if (events.length === 0) {
        log.warnOnce(
          'ort.no-profile',
          `wgprof/ort: ORT printed no profile for ${state.name}: node names (native EP) and CPU-EP node times are missing. ` +
            'Call profileOrt() before the first InferenceSession.create of the process, and keep env.wasm.proxy off.',
        );
      }
      window.profiles.push({ sessionId: state.id, events });
    }
    this.closed.push(window);
  }

  // ---- export ------------------------------------------------------------------------------------

  private async enrich(record: Parameters<NonNullable<ProfilerOptions['beforeExport']>>[0]): Promise<void> {
    // A window stopped through this.profiler directly was not closed by us: close it now.
    if (this.closed.length === 0) this.closeWindow();
    const window = this.closed.shift();
    if (!window) return;
    const build = this.buildKnown ?? 'native';
    if (build === 'jsep') {
      const needed = dispatchesPerRun(record.dispatches, window.runs).reduce((n, ds) => n + ds.length, 0);
      await this.awaitJsepRecords(needed);
    }
    const stats = attributeCapture(record, {
      build,
      runs: window.runs,
      takeJsepRecords: (n) => this.jsepRecords.splice(0, n),
      profiles: window.profiles,
      known: this.known,
    });
    this.windows.push(stats);
    const { bothTimed: _both, ...summary } = stats;
    record.meta.extra = { ...record.meta.extra, ort: summary };
    if (stats.mismatchedRuns > 0) {
      log.warn(`wgprof/ort: ${stats.mismatchedRuns} run(s) of the window did not match ORT's own records; their kernels keep ORT's program names.`);
    }
  }

  /** JSEP's records arrive after their GPU work is read back: wait (bounded) until the window's are in. */
  private async awaitJsepRecords(needed: number): Promise<void> {
    const deadline = monotonicNowNs() + (this.options.recordTimeoutMs ?? 3000) * 1e6;
    while (this.jsepRecords.length < needed && monotonicNowNs() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private checkLive(): void {
    if (this.disposed) throw new WgprofError('ORT_PROFILER_DISPOSED', 'this OrtProfiler was disposed; call profileOrt() again.');
  }
}

/** Prepares onnxruntime-web for profiling and returns the OrtProfiler (see the file comment). */
export function profileOrt(ort: OrtModuleLike, options: OrtProfilerOptions): Promise<OrtProfiler> {
  return OrtProfiler.create(ort, options);
}
