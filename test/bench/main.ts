// `npm run bench -- [engine|profiler|trace|matmul|instrument|timing|browser|all] [--iterations=N] [--out=DIR] [--no-json]`
//
// Runs the named benchmarks (default: all), prints each one's table to stdout (progress to stderr) and
// writes every result, with the adapter and flags, to bench-results/<name>-<timestamp>.json.
// `engine` is the engine bench plus our matmul vs onnxruntime-web's (the issue groups them); `matmul` is
// the latter alone. Bench modules are imported lazily: a missing or broken one is a clear error for that
// bench, and the others still run.
//
// A bench module exports `bench<Name>(options?)` returning its result, and optionally
// `format<Name>Bench(result): string` for its table (else a `table` string on the result is printed).

import { benchEnvironment, BENCH_RESULTS_DIR, writeBenchJson } from './util.js';

export type BenchName = 'engine' | 'matmul' | 'profiler' | 'trace' | 'instrument' | 'timing' | 'browser';
const ALL: readonly BenchName[] = ['engine', 'matmul', 'profiler', 'trace', 'instrument', 'timing', 'browser'];

interface BenchSpec {
  /** Module path relative to this file, and the names of its entry points. */
  module: string;
  run: string;
  format: string;
}

const SPECS: Record<BenchName, BenchSpec> = {
  engine: { module: './engine.js', run: 'benchEngine', format: 'formatEngineBench' },
  matmul: { module: './matmul-ort.js', run: 'benchMatmulVsOrt', format: 'formatMatmulBench' },
  profiler: { module: './profiler.js', run: 'benchProfiler', format: 'formatProfilerBench' },
  trace: { module: './trace.js', run: 'benchTrace', format: 'formatTraceBench' },
  instrument: { module: './instrument.js', run: 'benchInstrument', format: 'formatInstrumentBench' },
  timing: { module: './timing.js', run: 'benchTiming', format: 'formatTimingBench' },
  // Headless Chromium: capture overhead on the engine, and on the PaddleOCR classifier next to ORT's own profiling.
  browser: { module: './browser.js', run: 'benchBrowser', format: 'formatBrowserBench' },
};

const USAGE = 'usage: npm run bench -- [engine|profiler|trace|matmul|instrument|timing|browser|all]... [--iterations=N] [--out=DIR] [--no-json]';

export interface BenchArgs {
  benches: BenchName[];
  /** Timed iterations for the matmul bench (others use their own defaults). */
  iterations?: number;
  outDir: string;
  json: boolean;
}

/** Parses the command line; `engine` brings `matmul` along, `all` (or nothing) means every bench. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const names = new Set<BenchName>();
  const args: BenchArgs = { benches: [], outDir: BENCH_RESULTS_DIR, json: true };
  for (const arg of argv) {
    if (arg === 'all') for (const name of ALL) names.add(name);
    else if ((ALL as readonly string[]).includes(arg)) {
      names.add(arg as BenchName);
      if (arg === 'engine') names.add('matmul');
    } else if (arg.startsWith('--iterations=')) {
      const value = Number(arg.slice('--iterations='.length));
      if (!Number.isInteger(value) || value < 1) throw new Error(`--iterations must be a positive integer; got "${arg}". ${USAGE}`);
      args.iterations = value;
    } else if (arg.startsWith('--out=')) args.outDir = arg.slice('--out='.length);
    else if (arg === '--no-json') args.json = false;
    else throw new Error(`unknown argument "${arg}". ${USAGE}`);
  }
  if (names.size === 0) for (const name of ALL) names.add(name);
  args.benches = ALL.filter((name) => names.has(name));
  return args;
}

function progress(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function runBench(name: BenchName, args: BenchArgs): Promise<{ result: unknown; table: string }> {
  const spec = SPECS[name];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec.module)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`bench "${name}": could not load test/bench/${spec.module.replace(/\.js$/, '.ts')}: ${String(error)}`, { cause: error });
  }
  const run = mod[spec.run];
  if (typeof run !== 'function') {
    throw new Error(
      `bench "${name}": test/bench/${spec.module.replace(/\.js$/, '.ts')} exports no function ${spec.run}() (exports: ${Object.keys(mod).join(', ') || 'none'})`,
    );
  }
  // Progress under both names the bench modules use; a bench ignores options it does not know.
  const options: Record<string, unknown> = {
    progress: (line: string) => progress(`${name}: ${line}`),
    onProgress: (line: string) => progress(`${name}: ${line}`),
  };
  if (name === 'matmul' && args.iterations !== undefined) options['iterations'] = args.iterations;
  const result: unknown = await (run as (options: Record<string, unknown>) => Promise<unknown>)(options);
  const format = mod[spec.format];
  let table: string;
  if (typeof format === 'function') table = String((format as (r: unknown) => unknown)(result));
  else if (result && typeof result === 'object' && typeof (result as { table?: unknown }).table === 'string') table = (result as { table: string }).table;
  else table = compactJson(result);
  return { result, table };
}

/** A bench without a formatter: its result as JSON with long arrays (samples) cut short; the file has them all. */
export function compactJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (Array.isArray(v) && v.length > 6) return [...v.slice(0, 3), `... ${v.length - 3} more`];
      return v;
    },
    2,
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const results: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const name of args.benches) {
    const startMs = performance.now();
    progress(`${name}: running`);
    try {
      const { result, table } = await runBench(name, args);
      results[name] = result;
      process.stdout.write(`\n== ${name} ==\n${table}\n`);
      progress(`${name}: done in ${((performance.now() - startMs) / 1000).toFixed(1)} s`);
    } catch (error) {
      errors[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`bench "${name}" FAILED: ${errors[name]}\n`);
    }
  }
  if (args.json) {
    const label = args.benches.length === ALL.length ? 'all' : args.benches.join('-');
    // Each bench records the adapter it ran on; this records the process (Node, flags, argv).
    const file = writeBenchJson(label, { benches: args.benches, environment: await benchEnvironment(null), results, errors }, args.outDir);
    process.stdout.write(`\nresults: ${file}\n`);
  }
  return Object.keys(errors).length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('test/bench/main.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
