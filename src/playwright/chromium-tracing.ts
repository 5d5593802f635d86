// `profiler: 'cuda'` under Playwright: Chromium's own tracing started and stopped at the capture
// window's edges, as nsys `--capture-range=cudaProfilerApi --capture-range-end repeat` follows vLLM's
// cudaProfilerStart/Stop.
//
// Runs on the Playwright (Node) side. connectChromiumTracing() exposes `wgprofCaptureRange(edge)` in
// the page (page.exposeFunction); the page's CudaRangeMarker calls it at each window edge when no
// `onRange` was given (cuda-range.ts). 'start' → browser.startTracing(page, { path, categories }),
// 'stop' → browser.stopTracing(), which makes Playwright write the trace to `path`. So the file
// handling is Playwright's and this module has no Node imports; Playwright's types are not imported
// either: the page and browser are the small structural interfaces below (Page and Browser fit them).
//
// Windows: one at a time (Chromium traces once per browser). Edges are served in order, each after
// the previous finished, so a restart right after an auto-stop waits for that stop's file. A 'start'
// while a window is open, or a 'stop' with none, is ignored with a warning (another Profiler in the
// page, or a page reloaded mid-window). The n-th window (n >= 2) writes `path` with `.{n-1}` before
// its extension: trace.json, trace.1.json, trace.2.json, ... (no extension: trace, trace.1, ...).
//
// Failures (Chromium refusing to trace, e.g. because someone else is tracing this browser) reject the
// page's hook call, which the page logs (log.warn) and carries on; Node-side they are logged too.

import { CAPTURE_RANGE_HOOK, type RangeEdge } from '../profiler/cuda-range.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

export { CAPTURE_RANGE_HOOK, captureRangeSettled } from '../profiler/cuda-range.js';

/**
 * Categories that record the window (User Timing), the page's main-thread work (DevTools' timeline),
 * and the GPU process: 'gpu' for command-buffer work and Dawn's own trace events (WebGPU).
 */
export const DEFAULT_TRACING_CATEGORIES: readonly string[] = Object.freeze([
  '-*',
  'blink.user_timing',
  'blink.console',
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'toplevel',
  'v8.execute',
  'gpu',
  'disabled-by-default-gpu.dawn',
]);

/** The part of Playwright's Page used here. */
export interface TracingPage {
  exposeFunction(name: string, callback: (edge: unknown) => Promise<void>): Promise<unknown>;
}

/** The part of Playwright's (Chromium) Browser used here. */
export interface TracingBrowser {
  startTracing(page?: TracingPage, options?: { path?: string; categories?: string[]; screenshots?: boolean }): Promise<void>;
  stopTracing(): Promise<unknown>;
}

export interface ChromiumTracingOptions {
  /** Where the first window's trace goes (Playwright writes it); later windows get `.1`, `.2`, ... */
  path: string;
  /** Tracing categories (default DEFAULT_TRACING_CATEGORIES). */
  categories?: string[];
  /** Page screenshots in the trace (Playwright's option; default false). */
  screenshots?: boolean;
}

export interface ChromiumTracing {
  /** Awaits edges in flight, stops a window still open (its file is written), returns the last path written. */
  done(): Promise<string | undefined>;
  /** Every trace file written so far, in order. */
  files(): string[];
}

/** The n-th window's file (n from 0): `path` itself, then `.{n}` before the extension. */
export function windowTracePath(path: string, index: number): string {
  if (index === 0) return path;
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const dot = path.lastIndexOf('.');
  // A dot that starts the file name (".trace") or sits in a folder name is no extension.
  if (dot <= slash + 1) return `${path}.${index}`;
  return `${path.slice(0, dot)}.${index}${path.slice(dot)}`;
}

/**
 * Exposes `wgprofCaptureRange` in `page` so that a 'cuda' Profiler there starts and stops Chromium's
 * tracing at its window edges. Call it before the page starts profiling (the function also survives
 * navigations). Call `done()` before reading the files.
 */
export async function connectChromiumTracing(page: TracingPage, browser: TracingBrowser, options: ChromiumTracingOptions): Promise<ChromiumTracing> {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw new WgprofError(
      'TRACING_PATH_MISSING',
      `connectChromiumTracing: options.path must be a non-empty file path; got ${options?.path === '' ? "''" : typeof options?.path}. Pass e.g. { ` +
        `path: testInfo.outputPath('chrome-trace.json') }.`,
    );
  }
  const categories = [...(options.categories ?? DEFAULT_TRACING_CATEGORIES)];
  const screenshots = options.screenshots ?? false;
  const written: string[] = [];
  let windows = 0;
  let openPath: string | undefined;
  // Edges run one after another; the chain itself never rejects (each caller gets its own outcome).
  let chain: Promise<unknown> = Promise.resolve();
  const serve = (op: () => Promise<void>): Promise<void> => {
    const run = chain.then(op);
    chain = run.catch(() => undefined);
    return run;
  };

  const start = async (): Promise<void> => {
    if (openPath !== undefined) {
      log.warn(`Chromium tracing: a window opened while ${openPath} is still being recorded; ignored (one window at a time).`);
      return;
    }
    const path = windowTracePath(options.path, windows);
    // Playwright's startTracing appends the screenshot category to the array it is given: pass a copy.
    await browser.startTracing(page, { path, categories: [...categories], screenshots });
    windows += 1;
    openPath = path;
  };
  const stop = async (): Promise<void> => {
    const path = openPath;
    if (path === undefined) {
      log.warn('Chromium tracing: a window closed that was never opened (or whose start failed); ignored.');
      return;
    }
    openPath = undefined;
    await browser.stopTracing();
    written.push(path);
  };

  await page.exposeFunction(CAPTURE_RANGE_HOOK, async (edge: unknown) => {
    if (edge !== 'start' && edge !== 'stop') {
      throw new WgprofError('BAD_RANGE_EDGE', `${CAPTURE_RANGE_HOOK}(edge): edge must be 'start' or 'stop'; got ${JSON.stringify(edge)}.`);
    }
    const range: RangeEdge = edge;
    try {
      await serve(range === 'start' ? start : stop);
    } catch (error) {
      log.warn(`Chromium tracing: ${range} failed: ${errorMessage(error)}`);
      throw error;
    }
  });

  return {
    async done() {
      await chain;
      if (openPath !== undefined) {
        try {
          await serve(stop);
        } catch (error) {
          log.warn(`Chromium tracing: stopping the open window failed: ${errorMessage(error)}`);
        }
      }
      return written.at(-1);
    },
    files: () => [...written],
  };
}
