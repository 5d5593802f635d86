// `wgprof run`: runs the inference engine over a set of prompts (continuous batching), prints each
// request's text and a summary (throughput, TTFT, per-token latency), optionally under the profiler
// (`--profiler-config`, vLLM's forms). Ctrl-C / SIGTERM stop the run after the step in flight, write
// what the profiler captured (marked interrupted), and exit 130 / 143; a second signal exits at once.
// A profile that could not be written (any of its files) exits 1, naming each file and the cause.

import { ProfilerConfigError } from '../config/index.js';
import { presetNames } from '../engine/presets.js';
import { errorMessage } from '../util/errors.js';
import { EXIT, UsageError, type Command } from './command.js';
import { runEngine } from './run/engine.js';
import { formatRun } from './run/format.js';
import {
  DEFAULT_REQUESTS,
  DEFAULT_RUN_MAX_TOKENS,
  MAX_BATCH_TOKENS,
  MAX_REQUESTS,
  checkDeviceLimits,
  loadPrompts,
  parseRunArgs,
  type RunOptions,
} from './run/options.js';
import { Progress } from './run/progress.js';

const help = `usage: wgprof run [options]

Runs wgprof's inference engine (continuous batching, chunked prefill, one KV-cache slot per request)
on WebGPU: N requests cycling through the prompts, all submitted at once. Prints each request's
generated text and a summary: tokens/s, time to first token (TTFT) and per-token latency.
The models have seeded random weights: the text is noise, the work is real.

options:
  --model NAME              ${presetNames.join(' | ')} (default tiny)
  --prompt TEXT             a prompt; repeat for several
  --prompts-file FILE       prompts, one per line (empty lines skipped)
  --requests N              requests to run, cycling through the prompts, at most ${MAX_REQUESTS}
                            (default: one per given prompt, else ${DEFAULT_REQUESTS} over built-in prompts)
  --max-tokens N            tokens to generate per request (default ${DEFAULT_RUN_MAX_TOKENS})
  --temperature X           sampling temperature, 0 = greedy (default 1)
  --top-k N                 sample among the k most likely tokens; 0 = all (default 0)
  --stop TEXT               stop a request when its text contains TEXT; repeatable
  --seed N                  seeds the weights and every request's sampling (default 0)
  --max-batch-tokens N      token budget of one engine iteration (default 128, at most ${MAX_BATCH_TOKENS}
                            and what the adapter's buffer limits allow)
  --max-slots N             requests decoding at once = KV-cache slots (default 4, at most --max-batch-tokens)
  --backend NAME            auto (default), vulkan, or null (Dawn's null backend: no GPU work)
  --json                    print one JSON object (requests, summary, adapter) on stdout
  --quiet                   print only the summary (no progress, no per-request text)
  --profiler-config JSON    profile the run; vLLM's ProfilerConfig as JSON, e.g.
                            '{"profiler": "torch", "torch_profiler_dir": "./traces"}'
  --profiler-config.KEY=V   set one profiler config field (vLLM's dotted form)
  --launch-names NAMES      how the trace names launches: webgpu (the WebGPU call, default) or cuda
                            (cudaLaunchKernel / cudaMemcpyAsync, for HTA's queue length, launch stats
                            and critical path; the WebGPU call stays in the launch's args); default
                            $WGPROF_LAUNCH_NAMES when set. Needs a "torch" --profiler-config

Numbers are decimal integers (no 0x10, 1e2). Progress (steps, tokens, tokens/s) goes to stderr: a live
bar on a terminal, else a line every 5 s. Ctrl-C (or SIGTERM) stops after the current step, writes what
the profiler captured (the trace says "interrupted") and exits 130 (143); a second Ctrl-C exits at once.
exit status: 0 on success, 1 when the run failed (no device, a failed request, a profile file that
could not be written: each file and its cause are printed), 2 on bad usage, 130/143 when interrupted.`;

/** The conventional exit status of a process ended by the signal: 128 + its number. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Until disposed, the first SIGINT/SIGTERM is recorded (and announced); a second one exits at once. */
function catchSignals(): { signal: () => string | undefined; dispose: () => void } {
  let caught: string | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (caught) process.exit(SIGNAL_EXIT[signal]);
    caught = signal;
    process.stderr.write(`\nwgprof run: ${signal}: stopping after the current step and writing what was captured (again to exit at once)\n`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: () => caught,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export const command: Command = {
  summary: 'run the inference engine (optionally profiled)',
  help,
  async main(argv) {
    let options: RunOptions;
    try {
      const parsed = parseRunArgs(argv);
      options = { ...parsed, prompts: await loadPrompts(parsed) };
      await checkDeviceLimits(options);
    } catch (error) {
      process.stderr.write(`wgprof run: ${errorMessage(error)}\n`);
      return error instanceof UsageError || error instanceof ProfilerConfigError ? EXIT.usage : EXIT.failed;
    }
    const expected = (options.requests > 0 ? options.requests : options.prompts.length) * options.maxTokens;
    const progress = new Progress(expected, !options.quiet);
    const signals = catchSignals();
    let run;
    try {
      run = await runEngine(options, { interrupted: signals.signal, onProgress: (steps, tokens, ms) => progress.update(steps, tokens, ms) });
    } catch (error) {
      progress.done();
      process.stderr.write(`wgprof run: ${errorMessage(error)}\n`);
      return error instanceof UsageError ? EXIT.usage : EXIT.failed;
    } finally {
      signals.dispose();
    }
    progress.done();
    const { engine, results, summary, profileError } = run;
    try {
      process.stdout.write(formatRun(engine, options, results, summary));
      // Asked to profile and a file was not written: the run failed (each file and its cause on stderr).
      if (profileError) process.stderr.write(`wgprof run: the profile could not be written: ${profileError.message}\n`);
      if (summary.interrupted) return SIGNAL_EXIT[summary.interrupted] ?? EXIT.failed;
      const failed = results.filter((r): r is Error => r instanceof Error);
      if (failed.length > 0) {
        process.stderr.write(`wgprof run: ${failed.length} of ${results.length} requests failed; first error: ${failed[0]?.message}\n`);
        return EXIT.failed;
      }
      return profileError ? EXIT.failed : EXIT.ok;
    } finally {
      await engine.destroy();
    }
  },
};
