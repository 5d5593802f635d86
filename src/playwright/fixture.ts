// wgprof/playwright: a Playwright fixture that profiles the pages of a test with wgprof/auto.
//
//   import { test, expect } from 'wgprof/playwright';
//   test.use({ wgprof: { config: { profiler: 'torch', torch_profiler_dir: './traces', max_iterations: 5 }, iterations: 'frame' } });
//   test('bench', async ({ page, profiling }) => { await page.goto('/'); ...; const files = await profiling.stop(); });
//
// What it does:
// - launch: adds the WebGPU flags (--enable-unsafe-webgpu: without it headless Chromium has no adapter
//   on machines without a GPU; --enable-webgpu-developer-features: unquantized timestamps) to the
//   browser's launch options; timestamps inside passes come from the device feature, which wgprof/auto
//   requests whenever the adapter offers it;
// - every page of the test's context gets wgprof/auto as an init script (before the page's own code)
//   with the options given, and a binding through which each trace reaches the disk whole: the file is
//   written by FsSink (temp file + rename) only once the page has produced all of it, so a page that
//   crashes leaves no partial file;
// - worker names carry the shard and the Playwright worker index (`pw-shard{c}of{t}-w{i}-p{n}-dev{d}`),
//   and the rank is the shard's index (world size = shard count): `--shard` runs on several machines
//   write distinct files into one directory, like vLLM ranks;
// - at teardown, pages still profiling are stopped (their traces written), and every trace and
//   key-averages table is attached to the test's report;
// - `profiler: 'cuda'`: Chromium's own tracing follows the page's capture window (connectChromiumTracing)
//   and its trace is saved beside ours.

import { test as base, type Browser, type BrowserContext, type Page, type TestInfo } from '@playwright/test';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AutoOptions, IterationPolicy } from '../auto/auto.js';
import { SAVE_TRACE_BINDING } from '../auto/auto.js';
import { AUTO_OPTIONS_GLOBAL } from '../auto/page.js';
import { parseProfilerConfig, type ProfilerConfigInput } from '../config/index.js';
import { FsSink } from '../trace/sinks.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { connectChromiumTracing, type ChromiumTracing } from './chromium-tracing.js';

/** Flags the fixture adds to Chromium's launch arguments. */
export const WEBGPU_LAUNCH_FLAGS: readonly string[] = ['--enable-unsafe-webgpu', '--enable-webgpu-developer-features'];

/** The directory examples and the default config write into: $WGPROF_TRACE_DIR, else ./wgprof_traces. */
export function defaultTraceDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['WGPROF_TRACE_DIR'] || 'wgprof_traces';
}

export interface WgprofFixtureOptions {
  /** vLLM's ProfilerConfig (default `{ profiler: 'torch', torch_profiler_dir: defaultTraceDir() }`). */
  config?: ProfilerConfigInput;
  /** How the page's iterations are marked (wgprof/auto; default 'manual'). */
  iterations?: IterationPolicy;
  idleGapMs?: number;
  /** Start profiling when the page loads (default true); false: call `profiling.start()`. */
  autoStart?: boolean;
  /** Attach traces and tables to the test report (default true). */
  attach?: boolean;
}

export interface ProfiledPages {
  /** Where files go (`torch_profiler_dir`, absolute). */
  readonly dir: string;
  /** Files written so far (traces, tables, Chromium traces), absolute paths. */
  readonly files: string[];
  /** start/step/stop on every open page of the context (the page's `wgprof` API). */
  start(): Promise<void>;
  step(): Promise<void>;
  /** Stops profiling in every open page; resolves to the files written by this call. */
  stop(): Promise<string[]>;
  /** Teardown: stops pages still profiling, finishes Chromium tracing, attaches files to the report. */
  finish(): Promise<string[]>;
}

/** Where the classic-script build of wgprof/auto is (dist/browser/wgprof-auto.js), from src/ or dist/. */
export function autoScriptPath(): string {
  const candidates = [new URL('./browser/wgprof-auto.js', import.meta.url), new URL('../../dist/browser/wgprof-auto.js', import.meta.url)].map((u) =>
    fileURLToPath(u),
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new WgprofError(
      'AUTO_SCRIPT_MISSING',
      `wgprof/playwright: the init script is missing (looked at ${candidates.join(', ')}); build it with \`npm run build\`.`,
    );
  }
  return found;
}

/** `pw-shard{c}of{t}-w{workerIndex}` (no shard: `pw-shard1of1-...`). */
export function workerNamePrefix(testInfo: Pick<TestInfo, 'workerIndex'> & { config: { shard: { current: number; total: number } | null } }): string {
  const shard = testInfo.config.shard ?? { current: 1, total: 1 };
  return `pw-shard${shard.current}of${shard.total}-w${testInfo.workerIndex}`;
}

/**
 * Profiles every page of `context` (call before the pages navigate). The fixture calls this; tests
 * that need the teardown's outcome call it themselves and then finish().
 */
export async function profilePages(context: BrowserContext, browser: Browser, testInfo: TestInfo, options: WgprofFixtureOptions = {}): Promise<ProfiledPages> {
  const configInput = options.config ?? { profiler: 'torch', torch_profiler_dir: defaultTraceDir() };
  const config = parseProfilerConfig(configInput, { runtime: 'node' });
  const dir = resolve(config.torch_profiler_dir || defaultTraceDir());
  const shard = testInfo.config.shard ?? { current: 1, total: 1 };
  const prefix = workerNamePrefix(testInfo);
  const sink = new FsSink(dir);
  const files: string[] = [];
  const pages = new Map<Page, { index: number; crashed: boolean; tracing?: ChromiumTracing }>();
  let pageCount = 0;

  await context.exposeBinding(SAVE_TRACE_BINDING, async (_source, name: unknown, data: unknown) => {
    if (typeof name !== 'string' || typeof data !== 'string')
      throw new WgprofError('BAD_TRACE_FILE', `${SAVE_TRACE_BINDING}(name, base64): got ${typeof name}, ${typeof data}.`);
    // Every file a page writes is named after its worker (tables too: `{worker}.{time_ns}.profiler_out.txt`), so pages never collide.
    const writer = await sink.open(name);
    try {
      await writer.write(Buffer.from(data, 'base64'));
      const path = await writer.commit();
      files.push(path);
      return path;
    } catch (error) {
      await writer.abort();
      throw error;
    }
  });

  const autoOptions = (index: number): AutoOptions => {
    const out: AutoOptions = {
      config: configInput,
      iterations: options.iterations ?? 'manual',
      autoStart: options.autoStart ?? true,
      workerName: `${prefix}-p${index}`,
      rank: shard.current - 1,
      worldSize: shard.total,
    };
    if (options.idleGapMs !== undefined) out.idleGapMs = options.idleGapMs;
    return out;
  };
  const script = await readFile(autoScriptPath(), 'utf8');

  const setUp = async (page: Page): Promise<void> => {
    const index = pageCount++;
    const entry: { index: number; crashed: boolean; tracing?: ChromiumTracing } = { index, crashed: false };
    pages.set(page, entry);
    // A crashed page wrote nothing it had not finished: there is nothing to stop there.
    page.on('crash', () => {
      entry.crashed = true;
    });
    // Per page, before its scripts: the options, then the init script itself.
    await page.addInitScript(`globalThis.${AUTO_OPTIONS_GLOBAL} = ${JSON.stringify(autoOptions(index))};\n${script}`);
    if (config.profiler === 'cuda') {
      entry.tracing = await connectChromiumTracing(page, browser as unknown as Parameters<typeof connectChromiumTracing>[1], {
        path: join(dir, `${prefix}-p${index}.chrome-trace.json`),
      });
    }
  };
  for (const page of context.pages()) await setUp(page);
  const pending: Promise<void>[] = [];
  context.on('page', (page) => void pending.push(setUp(page)));

  const eachPage = async <T>(fn: (page: Page) => Promise<T>): Promise<T[]> => {
    await Promise.all(pending);
    const out: T[] = [];
    for (const [page, entry] of pages) {
      if (page.isClosed() || entry.crashed) continue;
      try {
        out.push(await fn(page));
      } catch (error) {
        // A crashed or navigating page: nothing to stop there (and no partial file was written).
        process.stderr.write(`wgprof/playwright: page ${pages.get(page)?.index}: ${errorMessage(error)}\n`);
      }
    }
    return out;
  };

  const stop = async (): Promise<string[]> => {
    const lists = await eachPage((page) => page.evaluate(() => globalThis.wgprofAuto?.stop() ?? Promise.resolve([])));
    return lists.flat().filter((f): f is string => typeof f === 'string');
  };

  return {
    dir,
    files,
    start: async () => void (await eachPage((page) => page.evaluate(() => globalThis.wgprofAuto?.start()))),
    step: async () => void (await eachPage((page) => page.evaluate(() => globalThis.wgprofAuto?.step()))),
    stop,
    async finish() {
      await stop();
      for (const entry of pages.values()) {
        const last = await entry.tracing?.done();
        if (last) files.push(...(entry.tracing?.files() ?? []));
      }
      if (options.attach !== false) {
        for (const file of [...new Set(files)]) {
          const contentType = file.endsWith('.gz') ? 'application/gzip' : file.endsWith('.txt') ? 'text/plain' : 'application/json';
          await testInfo.attach(basename(file), { path: file, contentType });
        }
      }
      return [...new Set(files)];
    },
  };
}

export interface WgprofFixtures {
  /** The fixture's options: `test.use({ wgprof: { config, iterations: 'frame' } })`. */
  wgprof: WgprofFixtureOptions;
  /** The test's handle: start/step/stop in every page, files written, the directory. */
  profiling: ProfiledPages;
}

export const test = base.extend<WgprofFixtures>({
  wgprof: [{}, { option: true }],
  launchOptions: [
    async ({ launchOptions }, use) => {
      const args = [...(launchOptions.args ?? [])];
      for (const flag of WEBGPU_LAUNCH_FLAGS) if (!args.includes(flag)) args.push(flag);
      await use({ ...launchOptions, args });
    },
    { scope: 'worker' },
  ],
  profiling: async ({ context, browser, wgprof }, use, testInfo) => {
    const profiled = await profilePages(context, browser, testInfo, wgprof);
    await use(profiled);
    await profiled.finish();
  },
  // Every test that uses `page` profiles it: the fixture above is set up before the page navigates.
  page: async ({ page, profiling }, use) => {
    void profiling;
    await use(page);
  },
});

export { expect } from '@playwright/test';
