// GET /metrics: Prometheus text format through prom-client (the maintained Node client), in a
// registry of this server's own (never prom-client's global one, so two servers in one process,
// as in tests, do not mix). Names follow vLLM's where one exists (vllm:num_requests_running →
// wgprof_num_requests_running).

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StepReport } from '../engine/engine.js';
import type { GenerateResult } from '../engine/requests.js';

export interface MetricsSources {
  /** Requests the engine holds now (waiting or running). */
  unfinished(): number;
  /** Profiler state, when a profiler is configured: active = started and not stopped, capturing = inside the delay/max window. */
  profiler(): { active: boolean; capturing: boolean } | undefined;
}

const LATENCY_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'outcome'>;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly steps: Histogram;
  private readonly ttft: Histogram;
  private readonly e2e: Histogram;
  private readonly profileFiles: Counter<'result'>;
  /** Requests in the latest iteration that did not finish in it (vLLM's num_requests_running). */
  private running = 0;

  constructor(model: string, sources: MetricsSources) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ model_name: model });
    this.requests = new Counter({
      name: 'wgprof_requests_total',
      help: 'Completion requests, by outcome: stop, length, abort (finish reasons), error (failed or rejected).',
      labelNames: ['outcome'],
      registers,
    });
    this.promptTokens = new Counter({ name: 'wgprof_prompt_tokens_total', help: 'Prompt tokens fed to the model.', registers });
    this.generationTokens = new Counter({ name: 'wgprof_generation_tokens_total', help: 'Tokens generated.', registers });
    this.steps = new Histogram({
      name: 'wgprof_step_duration_seconds',
      help: 'Wall time of one engine iteration (schedule + forward + sampling + bookkeeping).',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.ttft = new Histogram({
      name: 'wgprof_time_to_first_token_seconds',
      help: 'Arrival to first generated token, per request.',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.e2e = new Histogram({ name: 'wgprof_e2e_request_latency_seconds', help: 'Arrival to finish, per request.', buckets: LATENCY_BUCKETS_S, registers });
    this.profileFiles = new Counter({
      name: 'wgprof_profiler_files_total',
      help: 'Profiler files, by result: written, or failed (the error names where a failed upload was kept).',
      labelNames: ['result'],
      registers,
    });
    const self = this;
    new Gauge({
      name: 'wgprof_num_requests_running',
      help: 'Requests scheduled in the latest engine iteration that have not finished.',
      registers,
      collect() {
        this.set(Math.min(self.running, sources.unfinished()));
      },
    });
    new Gauge({
      name: 'wgprof_num_requests_waiting',
      help: 'Queue depth: requests the engine holds that the latest iteration did not schedule.',
      registers,
      collect() {
        this.set(Math.max(0, sources.unfinished() - self.running));
      },
    });
    new Gauge({
      name: 'wgprof_profiler_active',
      help: 'Profiler started and not stopped (1), else 0; absent without --profiler-config.',
      registers,
      collect() {
        const state = sources.profiler();
        if (state) this.set(state.active ? 1 : 0);
      },
    });
    new Gauge({
      name: 'wgprof_profiler_capturing',
      help: 'Profiler capturing iterations now, inside the delay_iterations/max_iterations window (1), else 0.',
      registers,
      collect() {
        const state = sources.profiler();
        if (state) this.set(state.capturing ? 1 : 0);
      },
    });
  }

  step(report: StepReport): void {
    this.steps.observe(report.durationMs / 1000);
    this.promptTokens.inc(report.contextTokens);
    this.generationTokens.inc(report.sampledTokens);
    const scheduled = report.contextRequests + report.generationRequests;
    this.running = Math.max(0, scheduled - report.finishedRequestIds.length - report.failedRequestIds.length);
  }

  finished(result: GenerateResult): void {
    this.requests.inc({ outcome: result.finishReason });
    if (result.timings.ttftMs !== null) this.ttft.observe(result.timings.ttftMs / 1000);
    this.e2e.observe(result.timings.totalMs / 1000);
  }

  failed(): void {
    this.requests.inc({ outcome: 'error' });
  }

  profileFile(ok: boolean): void {
    this.profileFiles.inc({ result: ok ? 'written' : 'failed' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
