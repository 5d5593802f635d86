// The inference engine: requests in, text out, one `step()` = one iteration (vLLM's execute_model):
//
//   profiler.step() → schedule (frontend span) → profiler.beginIteration(annotation) →
//   runner.forward(batch) (one forward + sampling on the GPU) → profiler.endIteration() →
//   bookkeeping: tokens into the KV cache, sampled tokens appended and detokenized (frontend span),
//   finished requests resolved and their KV slots freed.
//
// Continuous batching: requests may be added at any time, including while others decode; they join
// at the next iteration (see scheduler.ts). GPU buffers belong to the runner, created once; a step
// allocates only small JS arrays.

import { requestGpuDevice, type AdapterFacts, type GpuBackend, type GpuDeviceOptions, type GpuRuntime } from '../gpu/device.js';
import { noProfiler, type EngineProfilerHooks, type ProfileStartOptions, type ProfileStopOptions } from '../profiler/hooks.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { EngineRequest, resolveSamplingParams, tokenizePrompt, type GenerateResult, type Prompt, type SamplingParams } from './requests.js';
import { getPreset, presetNames, validateModelConfig, type PresetName } from './presets.js';
import { deriveSeed } from './rng.js';
import type { ModelRunnerOptions } from './runner.js';
import { Scheduler, iterationAnnotation, reachedLengthLimit, validateSchedulerConfig, type SchedulerOutput } from './scheduler.js';
import { byteTokenizer, type Tokenizer } from './tokenizer.js';
import type { BatchSequence, ModelConfig, ModelRunner } from './types.js';
import type { ModelWeights } from './weights.js';

/** Default KV-cache slots (requests decoding at once). */
export const DEFAULT_MAX_SLOTS = 4;
/** Default token budget of one iteration. */
export const DEFAULT_MAX_BATCH_TOKENS = 128;

export interface EngineOptions {
  /** A preset name or a model shape. Required unless `runner` is given. */
  model?: PresetName | ModelConfig;
  /** Run on this device (the caller keeps ownership). Default: `requestGpuDevice({ backend })`, destroyed by `destroy()`. */
  device?: GPUDevice;
  /** Node: which backend when the engine gets its own device (default 'auto'). */
  backend?: GpuBackend;
  /** Token budget of one iteration: decode tokens + prompt chunks (default 128). */
  maxBatchTokens?: number;
  /** KV-cache slots = most requests in flight at once (default 4); further requests wait. */
  maxSlots?: number;
  /** Seeds the model weights and the requests that name no seed (default 0). */
  seed?: number;
  /** Weights for the runner (e.g. from loadSafetensors); default: random weights from `seed`. */
  weights?: ModelWeights;
  /** Profiler hooks to call (e.g. a `Profiler`). The engine knows only this interface (src/engine/profiled.ts makes hooks from a ProfilerConfig). */
  profiler?: EngineProfilerHooks;
  /** Use this model runner instead of creating one (tests, custom models). The engine destroys it. */
  runner?: ModelRunner;
  /** Default: the byte tokenizer. */
  tokenizer?: Tokenizer;
}

/** What one iteration did (the counts are vLLM's profiler annotation). */
export interface StepReport {
  /** 0-based index of the iteration among those this engine executed. */
  step: number;
  /** `execute_context_{contextRequests}({contextTokens})_generation_{generationRequests}({generationTokens})`. */
  annotation: string;
  /** Requests without an output token yet (new requests and chunked-prefill continuations). */
  contextRequests: number;
  contextTokens: number;
  /** Requests decoding. */
  generationRequests: number;
  generationTokens: number;
  /** Tokens sampled (first tokens of prefills that completed + one per decode). */
  sampledTokens: number;
  /** Requests that finished in this iteration. */
  finishedRequestIds: number[];
  /** Requests rejected in this iteration because the model forward failed. */
  failedRequestIds: number[];
  /** Wall time of the whole iteration (schedule + forward + bookkeeping). */
  durationMs: number;
}

export interface RequestHandle {
  readonly id: number;
  /** Resolves when the request finishes (rejects when it fails). Something must drive the engine: `step()`, `run()` or `generate()`. */
  readonly result: Promise<GenerateResult>;
  /** Ends the request now (finish reason 'abort'); a no-op once it finished. */
  abort(): void;
}

export interface EngineStats {
  steps: number;
  requestsAdded: number;
  requestsFinished: number;
  requestsFailed: number;
  /** Prompt tokens fed to the model. */
  promptTokens: number;
  generatedTokens: number;
}

export interface Engine {
  readonly config: ModelConfig;
  readonly maxSlots: number;
  readonly maxBatchTokens: number;
  /** The device the model runs on (undefined only for an injected runner without a device). */
  readonly device: GPUDevice | undefined;
  /** Facts about the adapter when the engine requested its own device. */
  readonly facts: AdapterFacts | undefined;
  readonly tokenizer: Tokenizer;
  readonly profiler: EngineProfilerHooks;
  readonly stats: Readonly<EngineStats>;
  /** Generates for one prompt (resolves to one result) or several (resolves to one result per prompt, in order). */
  generate(prompt: Prompt, params?: SamplingParams): Promise<GenerateResult>;
  generate(prompts: readonly Prompt[], params?: SamplingParams): Promise<GenerateResult[]>;
  /** Queues a request without driving the engine; throws a WgprofError when the prompt or params are invalid. */
  addRequest(prompt: Prompt, params?: SamplingParams): RequestHandle;
  /** Runs exactly one iteration; resolves to null when no request is waiting or running. */
  step(): Promise<StepReport | null>;
  /** Steps until every request added so far has finished. */
  run(): Promise<void>;
  hasUnfinishedRequests(): boolean;
  /** vLLM's /start_profile; `delayIterations` / `maxIterations` bound this session only (vLLM main's per-call overrides). */
  startProfile(options?: ProfileStartOptions): void;
  /**
   * vLLM's /stop_profile: resolves to the trace files written (`interrupted` marks the worker trace);
   * rejects when one could not be written (the Profiler's ProfilerExportError, code PROFILER_EXPORT_FAILED).
   */
  stopProfile(options?: ProfileStopOptions): Promise<string[]>;
  /** Rejects unfinished requests, waits for the iteration in flight, frees GPU resources (and the device the engine created). */
  destroy(): Promise<void>;
}

const now = (): number => performance.now();

/** WebGPU's default limits; the engine asks for more only when the model needs more. */
const DEFAULT_DEVICE_LIMITS: Readonly<Record<string, number>> = { maxStorageBufferBindingSize: 134217728, maxBufferSize: 268435456 };

function raisedLimits(needed: Record<string, number>): Record<string, number> | undefined {
  const raised = Object.entries(needed).filter(([name, bytes]) => bytes > (DEFAULT_DEVICE_LIMITS[name] ?? Number.POSITIVE_INFINITY));
  return raised.length > 0 ? Object.fromEntries(raised) : undefined;
}

/** Resolves `model` (preset name or shape) to a validated ModelConfig; errors list the valid presets. */
export function resolveModelConfig(model: PresetName | ModelConfig): ModelConfig {
  if (typeof model === 'string') return getPreset(model);
  if (model === null || typeof model !== 'object') {
    throw new WgprofError(
      'UNKNOWN_MODEL',
      `model must be a preset name (${presetNames.join(', ')}) or a ModelConfig object (got ${model === null ? 'null' : typeof model}).`,
    );
  }
  return validateModelConfig(model);
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  if (options === null || typeof options !== 'object') {
    throw new WgprofError('INVALID_ENGINE_OPTION', "createEngine needs an options object, e.g. createEngine({ model: 'tiny' }).");
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new WgprofError('INVALID_ENGINE_OPTION', `seed must be a safe integer (got ${String(seed)}).`);
  for (const key of ['maxSlots', 'maxBatchTokens'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new WgprofError('INVALID_ENGINE_OPTION', `${key} must be an integer ≥ 1 (got ${String(value)}).`);
    }
  }
  if (!options.runner && options.model === undefined) {
    throw new WgprofError('INVALID_ENGINE_OPTION', "createEngine needs `model`: 'tiny', 'small', 'gpt2' or a ModelConfig.");
  }
  // Validate the model before touching the GPU, so a typo fails fast.
  const config = options.runner ? options.runner.config : resolveModelConfig(options.model as PresetName | ModelConfig);
  const maxSlots = options.maxSlots ?? options.runner?.maxSlots ?? DEFAULT_MAX_SLOTS;
  const maxBatchTokens = options.maxBatchTokens ?? options.runner?.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS;
  // The scheduler's rules, checked before the (slow) device and runner creation.
  validateSchedulerConfig({ maxSlots, maxBatchTokens, contextLength: config.contextLength });

  const profiler = options.profiler ?? noProfiler;
  // Loaded only when needed: an injected runner never pulls in the kernels.
  const runnerModule = options.runner ? undefined : await import('./runner.js');
  let runtime: GpuRuntime | undefined;
  let device = options.device;
  if (!device && runnerModule) {
    const deviceOptions: GpuDeviceOptions = {};
    if (options.backend) deviceOptions.backend = options.backend;
    const limits = raisedLimits(runnerModule.modelDeviceLimits(config, { maxSlots, maxBatchTokens }));
    if (limits) deviceOptions.requiredLimits = limits;
    runtime = await requestGpuDevice(deviceOptions);
    device = runtime.device;
  }
  try {
    // Attach before the runner exists, so instrumentation sees its buffers and pipelines being created.
    // The adapter facts (when the engine opened the device) go into the trace's device properties.
    if (device) profiler.attach(device, runtime?.facts);
    let runner = options.runner;
    if (!runner && runnerModule && device) {
      const runnerOptions: ModelRunnerOptions = { maxSlots, maxBatchTokens, seed };
      if (runtime?.facts.backend === 'null') runnerOptions.deviceDoesNoWork = true;
      if (options.weights !== undefined) runnerOptions.weights = options.weights;
      runner = await runnerModule.createModelRunner(device, config, runnerOptions);
    }
    if (!runner) throw new WgprofError('INVALID_ENGINE_OPTION', 'createEngine could not create a model runner (no device and no runner given).');
    if (runner.maxSlots < maxSlots || runner.maxBatchTokens < maxBatchTokens) {
      throw new WgprofError(
        'INVALID_ENGINE_OPTION',
        `the model runner holds ${runner.maxSlots} slots and ${runner.maxBatchTokens} tokens per forward, fewer than the engine's ` +
          `maxSlots ${maxSlots} / maxBatchTokens ${maxBatchTokens}; create the runner with at least those.`,
      );
    }
    return new InferenceEngine({ config, runner, device, runtime, profiler, seed, maxSlots, maxBatchTokens, tokenizer: options.tokenizer ?? byteTokenizer });
  } catch (error) {
    if (device) profiler.detach();
    runtime?.destroy();
    throw error;
  }
}

interface EngineParts {
  config: ModelConfig;
  runner: ModelRunner;
  device: GPUDevice | undefined;
  runtime: GpuRuntime | undefined;
  profiler: EngineProfilerHooks;
  seed: number;
  maxSlots: number;
  maxBatchTokens: number;
  tokenizer: Tokenizer;
}

export class InferenceEngine implements Engine {
  readonly config: ModelConfig;
  readonly maxSlots: number;
  readonly maxBatchTokens: number;
  readonly device: GPUDevice | undefined;
  readonly facts: AdapterFacts | undefined;
  readonly tokenizer: Tokenizer;
  readonly profiler: EngineProfilerHooks;
  readonly stats: EngineStats = { steps: 0, requestsAdded: 0, requestsFinished: 0, requestsFailed: 0, promptTokens: 0, generatedTokens: 0 };

  private readonly runner: ModelRunner;
  private readonly runtime: GpuRuntime | undefined;
  private readonly seed: number;
  private readonly scheduler: Scheduler<EngineRequest>;
  private nextRequestId = 0;
  /** Requests of the iteration in flight (abort waits for its end). */
  private readonly inFlight = new Set<EngineRequest>();
  /** Serializes step(): iterations never overlap, whoever drives them. */
  private stepTail: Promise<unknown> = Promise.resolve();
  /** The background loop started by generate(), while it runs. */
  private loop: Promise<void> | undefined;
  /** Set once the engine cannot run any more (destroyed, device lost); thrown by every later call. */
  private fatal: WgprofError | undefined;
  private profiling = false;

  constructor(parts: EngineParts) {
    this.config = parts.config;
    this.runner = parts.runner;
    this.device = parts.device;
    this.runtime = parts.runtime;
    this.facts = parts.runtime?.facts;
    this.profiler = parts.profiler;
    this.seed = parts.seed;
    this.maxSlots = parts.maxSlots;
    this.maxBatchTokens = parts.maxBatchTokens;
    this.tokenizer = parts.tokenizer;
    this.scheduler = new Scheduler<EngineRequest>({
      maxSlots: parts.maxSlots,
      maxBatchTokens: parts.maxBatchTokens,
      contextLength: parts.config.contextLength,
    });
    parts.device?.lost.then(
      (info) => {
        if (this.fatal) return; // our own destroy()
        this.failEverything(
          new WgprofError(
            'DEVICE_LOST',
            `the GPU device was lost (reason ${JSON.stringify(info.reason)}${info.message ? `: ${info.message}` : ''}); ` +
              'unfinished requests were rejected. Create a new engine to continue.',
          ),
        );
      },
      () => undefined,
    );
  }

  generate(prompt: Prompt, params?: SamplingParams): Promise<GenerateResult>;
  generate(prompts: readonly Prompt[], params?: SamplingParams): Promise<GenerateResult[]>;
  async generate(input: Prompt | readonly Prompt[], params?: SamplingParams): Promise<GenerateResult | GenerateResult[]> {
    const many = Array.isArray(input);
    const prompts: readonly Prompt[] = many ? input : [input as Prompt];
    // All-or-nothing intake: a bad prompt rejects this call before any of its prompts is queued, and
    // gives back the ids taken, so later requests keep the seeds they would have had.
    const firstId = this.nextRequestId;
    const prepared = prompts.map((prompt, i) => {
      try {
        return this.prepare(prompt, params);
      } catch (error) {
        this.nextRequestId = firstId;
        if (many && error instanceof WgprofError)
          throw new WgprofError(error.code, `prompts[${i}]: ${error.message.slice(error.code.length + 2)}`, { cause: error });
        throw error;
      }
    });
    const handles = prepared.map((request) => this.enqueue(request));
    await this.drive(handles);
    const results = await Promise.all(handles.map((h) => h.result));
    return many ? results : (results[0] as GenerateResult);
  }

  addRequest(prompt: Prompt, params?: SamplingParams): RequestHandle {
    return this.enqueue(this.prepare(prompt, params));
  }

  hasUnfinishedRequests(): boolean {
    return this.scheduler.hasWork();
  }

  /**
   * One iteration, after any still in flight. An async function that awaits its turn and then runs the
   * iteration itself (not `tail.then(stepOnce)`): V8's async stack traces then reach from each dispatch
   * through step() to whoever drives the engine (with_stack shows the caller).
   */
  async step(): Promise<StepReport | null> {
    const previous = this.stepTail;
    let release!: () => void;
    // A failed iteration goes to its caller; the next one still runs.
    this.stepTail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await this.stepOnce();
    } finally {
      release();
    }
  }

  async run(): Promise<void> {
    this.throwIfFatal();
    while (this.scheduler.hasWork()) await this.step();
  }

  startProfile(options?: ProfileStartOptions): void {
    this.throwIfFatal();
    // vLLM's Worker.profile(): no profiler configured is an error, not a silent no-op.
    if (this.profiler === noProfiler)
      throw new WgprofError(
        'PROFILER_NOT_ENABLED',
        "Profiling is not enabled. Create the engine with profiler hooks, or with a profilerConfig such as { profiler: 'torch', torch_profiler_dir: " +
          "'./traces' } (createEngine of src/engine/profiled.ts, the package's createEngine).",
      );
    this.profiler.start(options);
    this.profiling = true;
  }

  async stopProfile(options?: ProfileStopOptions): Promise<string[]> {
    this.profiling = false;
    return this.profiler.stop(options);
  }

  async destroy(): Promise<void> {
    if (this.fatal?.code === 'ENGINE_DESTROYED') return;
    const reason = new WgprofError('ENGINE_DESTROYED', 'the engine was destroyed (engine.destroy()); create a new engine to run more requests.');
    const wasLost = this.fatal !== undefined;
    this.fatal = reason;
    // The iteration in flight still uses the runner's buffers: let it end first.
    await this.stepTail;
    if (!wasLost) this.failPending(reason);
    try {
      if (this.profiling) await this.profiler.stop();
    } catch (error) {
      log.warn(`engine.destroy(): stopping the profiler failed: ${errorMessage(error)}`);
    }
    this.profiling = false;
    try {
      this.runner.destroy();
    } finally {
      if (this.device) this.profiler.detach();
      this.runtime?.destroy();
    }
  }

  // ---- internals ----

  private throwIfFatal(): void {
    if (this.fatal) throw this.fatal;
  }

  /** Validates and tokenizes a request (frontend spans add_request > tokenize); does not queue it. */
  private prepare(prompt: Prompt, params: SamplingParams | undefined): EngineRequest {
    this.throwIfFatal();
    const id = this.nextRequestId;
    return this.profiler.frontendSpan(
      'add_request',
      () => {
        const resolved = resolveSamplingParams(params, { seed: deriveSeed(this.seed, id), vocabSize: this.config.vocabSize });
        const { text, tokenIds } = this.profiler.frontendSpan('tokenize', () => tokenizePrompt(prompt, this.tokenizer, this.config));
        this.nextRequestId++;
        return new EngineRequest({ id, promptText: text, promptTokenIds: tokenIds, params: resolved, tokenizer: this.tokenizer, arrivalMs: now() });
      },
      { request_id: id },
    );
  }

  private enqueue(request: EngineRequest): RequestHandle {
    this.throwIfFatal();
    this.scheduler.add(request);
    this.stats.requestsAdded++;
    return { id: request.id, result: request.result, abort: () => this.abort(request) };
  }

  private abort(request: EngineRequest): void {
    if (request.finished) return;
    if (this.inFlight.has(request)) {
      // Its tokens are being computed; the iteration's bookkeeping ends it.
      request.abortRequested = true;
      return;
    }
    this.scheduler.free(request);
    request.finish('abort', now());
    this.stats.requestsFinished++;
  }

  /**
   * generate()'s driver: steps until its own requests are finished, so its caller is on the async
   * stack of every dispatch it drives (with_stack); work left by others then goes on in the background
   * loop. Concurrent callers each drive: step() serializes the iterations, and a step with no work is a no-op.
   */
  private async drive(handles: readonly RequestHandle[]): Promise<void> {
    let open = handles.length;
    for (const h of handles)
      void h.result.then(
        () => open--,
        () => open--,
      );
    try {
      while (open > 0 && !this.fatal && this.scheduler.hasWork()) await this.step();
    } catch (error) {
      // step() failed outside the forward (a fatal error or a bug): no request may hang on it.
      this.failPending(
        error instanceof WgprofError ? error : new WgprofError('ENGINE_FAILED', `the engine loop failed: ${errorMessage(error)}`, { cause: error }),
      );
    }
    if (!this.fatal && this.scheduler.hasWork()) this.kick();
  }

  /** Starts the background loop unless it runs already. */
  private kick(): void {
    if (this.loop) return;
    this.loop = (async () => {
      try {
        while (!this.fatal && this.scheduler.hasWork()) await this.step();
      } catch (error) {
        // step() failed outside the forward (a fatal error or a bug): no request may hang on it.
        this.failPending(
          error instanceof WgprofError ? error : new WgprofError('ENGINE_FAILED', `the engine loop failed: ${errorMessage(error)}`, { cause: error }),
        );
      } finally {
        this.loop = undefined;
      }
    })();
  }

  private async stepOnce(): Promise<StepReport | null> {
    this.throwIfFatal();
    if (!this.scheduler.hasWork()) return null;
    const startMs = now();
    const index = this.stats.steps++;

    // vLLM's Worker.annotate_profile: profiler.step() first, before the model runs.
    this.profiler.step();
    const plan = this.profiler.frontendSpan('schedule', () => this.scheduler.schedule(), { step: index });
    const batch: BatchSequence[] = [];
    for (const chunk of plan.chunks) {
      const request = chunk.sequence;
      request.firstScheduledMs ??= startMs;
      this.inFlight.add(request);
      batch.push({
        slot: chunk.slot,
        tokens: chunk.tokenIds,
        startPosition: chunk.startPosition,
        sample: chunk.sample,
        temperature: request.params.temperature,
        topK: request.params.topK,
        // One draw per sampled token, never otherwise: a request's samples do not depend on batching.
        random: chunk.sample ? request.rng.next() : 0,
      });
    }
    const annotation = iterationAnnotation(plan);
    const report: StepReport = {
      step: index,
      annotation,
      contextRequests: plan.contextRequests,
      contextTokens: plan.contextTokens,
      generationRequests: plan.generationRequests,
      generationTokens: plan.generationTokens,
      sampledTokens: 0,
      finishedRequestIds: [],
      failedRequestIds: [],
      durationMs: 0,
    };

    let sampled: number[];
    this.profiler.beginIteration(annotation);
    try {
      sampled = await this.runner.forward(batch);
      this.checkSampled(plan, sampled);
    } catch (error) {
      this.profiler.endIteration();
      this.failIteration(plan, report, error);
      report.durationMs = now() - startMs;
      return report;
    } finally {
      this.inFlight.clear();
    }
    this.profiler.endIteration();

    this.scheduler.commit(plan);
    this.profiler.frontendSpan('detokenize', () => this.applySamples(plan, sampled, report), { step: index });
    report.durationMs = now() - startMs;
    return report;
  }

  private checkSampled(plan: SchedulerOutput<EngineRequest>, sampled: number[]): void {
    const expected = plan.chunks.reduce((n, c) => n + (c.sample ? 1 : 0), 0);
    if (!Array.isArray(sampled) || sampled.length !== expected) {
      throw new WgprofError(
        'MODEL_OUTPUT_INVALID',
        `the runner returned ${Array.isArray(sampled) ? sampled.length : typeof sampled} sampled tokens for ${expected} sampling sequences.`,
      );
    }
    for (const id of sampled) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new WgprofError('MODEL_OUTPUT_INVALID', `the runner sampled token ${String(id)}, outside the vocabulary 0..${this.config.vocabSize - 1}.`);
      }
    }
  }

  private applySamples(plan: SchedulerOutput<EngineRequest>, sampled: number[], report: StepReport): void {
    const tokenMs = now();
    let k = 0;
    for (const chunk of plan.chunks) {
      const request = chunk.sequence;
      // Rejected while the forward ran (device lost): nothing more to record.
      if (request.finished) continue;
      if (chunk.phase === 'context') this.stats.promptTokens += chunk.tokenIds.length;
      if (chunk.sample) {
        const id = sampled[k++] as number;
        report.sampledTokens++;
        this.stats.generatedTokens++;
        const stop = request.appendToken(id, tokenMs);
        if (stop !== undefined) this.finishRequest(request, 'stop', report);
        else if (reachedLengthLimit(request, request.params.maxTokens, this.config.contextLength)) this.finishRequest(request, 'length', report);
      }
      if (!request.finished && request.abortRequested) this.finishRequest(request, 'abort', report);
    }
  }

  private finishRequest(request: EngineRequest, reason: 'stop' | 'length' | 'abort', report: StepReport): void {
    this.scheduler.free(request);
    request.finish(reason, now());
    this.stats.requestsFinished++;
    report.finishedRequestIds.push(request.id);
  }

  /** A failed forward rejects the requests it carried; the others keep going. */
  private failIteration(plan: SchedulerOutput<EngineRequest>, report: StepReport, cause: unknown): void {
    const requests = [...new Set(plan.chunks.map((c) => c.sequence))];
    const ids = requests.map((r) => r.id);
    const error = new WgprofError(
      'MODEL_FORWARD_FAILED',
      `iteration ${report.step} (${report.annotation}): the model forward failed: ${errorMessage(cause).replace(/\.$/, '')}. ` +
        `Request(s) ${ids.join(', ')} were rejected; other requests continue.`,
      { cause },
    );
    log.warn(error.message);
    for (const request of requests) {
      this.scheduler.free(request);
      request.fail(error, now());
      this.stats.requestsFailed++;
      report.failedRequestIds.push(request.id);
    }
  }

  /** Rejects every unfinished request; an iteration still in flight then skips them in its bookkeeping. */
  private failPending(error: WgprofError): void {
    const { running, waiting } = this.scheduler.snapshot();
    for (const request of [...running, ...waiting]) {
      this.scheduler.free(request);
      request.fail(error, now());
      this.stats.requestsFailed++;
    }
  }

  private failEverything(error: WgprofError): void {
    this.fatal = error;
    log.warn(error.message);
    this.failPending(error);
  }
}
