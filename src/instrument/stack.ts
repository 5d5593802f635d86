// JS stacks at dispatch time (with_stack), in two halves so the hot path stays cheap:
// - captureStackHolder() at dispatch: V8 records the frames (function, script, position) into a
//   holder object but formats nothing until `.stack` is read. Formatting is the expensive half
//   (under Node with source maps, tens of µs per stack), so it waits for flush.
// - formatStack() at flush: reads `.stack` once and cleans it into frames.
// V8 (Node, Chromium) lets us cut our own frames off at capture time with Error.captureStackTrace;
// elsewhere `new Error()` captures everything and cleanStack drops frames naming wgprof's own files.

import type { Method } from './patch.js';

/** Frames pointing into these wgprof folders are removed (the instrumentation and the profiler). */
const OWN_FRAME = /[\\/](?:src|dist)[\\/](?:instrument|profiler)[\\/]/;

/**
 * Frames captured beyond `maxFrames`: for the ones cleanStack drops (wgprof's own frames mid-stack) and
 * folds (a runtime's wasm frames, e.g. onnxruntime-web's ~20 between a kernel and the caller), so that
 * the caller is still reached. Only deep stacks pay for them: V8 walks as many frames as there are.
 */
const SPARE_FRAMES = 40;

/**
 * Who a frame belongs to when it is not the user's: 'wasm' for WebAssembly frames, a package name for
 * frames in node_modules, the file for minified bundles (`*.min.js` / `*.min.mjs`, e.g. onnxruntime-web
 * served from a page); undefined for the user's own frames.
 */
export function foreignOwner(frame: string): string | undefined {
  // Cheap substring tests first: this runs for every frame of every stack when a window is collected.
  if (frame.includes('wasm')) {
    if (frame.includes('wasm://') || frame.includes('wasm-function[')) return 'wasm';
  }
  const modules = frame.indexOf('node_modules');
  if (modules >= 0) {
    const pkg = /^[\\/]((?:@[^\\/]+[\\/])?[^\\/:]+)/.exec(frame.slice(modules + 'node_modules'.length));
    if (pkg) return pkg[1]!.replace('\\', '/');
  }
  const min = frame.indexOf('.min.');
  if (min < 0) return undefined;
  // The bundle's file name: back from ".min." to the last separator, forward to "js" or "mjs".
  const bundle = /[^\\/()\s@]*\.min\.m?js/.exec(frame.slice(frame.lastIndexOf('/', min) + 1));
  return bundle ? bundle[0] : undefined;
}

/**
 * Turns an `Error.stack` string into frames, innermost first: the message line dropped, `at `
 * stripped, wgprof's own frames removed, each run of two or more frames of one foreign owner (wasm, a
 * library) folded into one marker frame `[N frames in OWNER]`, then at most `maxFrames` kept — so the
 * user's frames (and the async caller chain, `async fn (...)`) survive a deep runtime in between.
 */
export function cleanStack(stack: string | undefined, maxFrames: number): string[] {
  if (!stack) return [];
  const frames: string[] = [];
  let runOwner: string | undefined;
  let runStart = 0;
  const endRun = (): void => {
    const length = frames.length - runStart;
    if (runOwner !== undefined && length >= 2) frames.splice(runStart, length, `[${length} frames in ${runOwner}]`);
    runOwner = undefined;
  };
  for (const line of stack.split('\n')) {
    const raw = line.trim();
    // V8 frames start with "at "; Firefox/Safari frames are "fn@url:line:col". The first V8 line is the message.
    let frame: string;
    if (raw.startsWith('at ')) frame = raw.slice(3);
    else if (raw.includes('@') && /:\d+(?::\d+)?$/.test(raw)) frame = raw;
    else continue;
    if (OWN_FRAME.test(frame)) continue;
    const owner = foreignOwner(frame);
    if (owner !== runOwner) {
      endRun();
      if (frames.length >= maxFrames) break;
      runOwner = owner;
      runStart = frames.length;
    }
    frames.push(frame);
  }
  endRun();
  return frames.slice(0, maxFrames);
}

export interface V8ErrorConstructor {
  captureStackTrace?(target: object, constructorOpt?: Method): void;
  stackTraceLimit?: number | undefined;
}

/** `Error`, typed with V8's extras. */
export const V8Error = Error as unknown as V8ErrorConstructor;
const hasCaptureStackTrace = typeof V8Error.captureStackTrace === 'function';

/** Error.stackTraceLimit to capture with: `maxFrames` plus spares for the frames cleanStack drops. */
export function stackTraceLimitFor(maxFrames: number): number {
  return maxFrames + SPARE_FRAMES;
}

/** An unformatted stack: read `.stack` (formatStack) to format it. */
export interface StackHolder {
  readonly stack?: string | undefined;
}

/**
 * Records the caller's stack without formatting it: frames from `omitFrom` inwards (and `omitFrom`
 * itself) are left out on V8. Keep the holder and call formatStack() later.
 */
export function captureStackHolder(omitFrom: Method, maxFrames: number): StackHolder {
  if (!hasCaptureStackTrace) return new Error();
  const holder: { stack?: string } = {};
  const previous = V8Error.stackTraceLimit;
  V8Error.stackTraceLimit = stackTraceLimitFor(maxFrames);
  try {
    V8Error.captureStackTrace!(holder, omitFrom);
  } finally {
    V8Error.stackTraceLimit = previous;
  }
  return holder;
}

/** The frames of a captured stack, innermost first, wgprof's own removed, at most `maxFrames`. */
export function formatStack(holder: StackHolder, maxFrames: number): string[] {
  let text: string | undefined;
  try {
    text = holder.stack;
  } catch {
    // A user Error.prepareStackTrace that throws: no frames rather than a failed flush.
    text = undefined;
  }
  return cleanStack(typeof text === 'string' ? text : undefined, maxFrames);
}

/** The caller's stack, omitting `omitFrom` and everything it called (V8), innermost first. */
export function captureStack(omitFrom: Method, maxFrames: number): string[] {
  return formatStack(captureStackHolder(omitFrom, maxFrames), maxFrames);
}
