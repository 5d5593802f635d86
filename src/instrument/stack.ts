// JS stacks at dispatch time (with_stack). V8 (Node, Chromium) lets us cut our own frames off at
// capture time with Error.captureStackTrace; elsewhere we drop frames that name wgprof's own files.

/** Frames pointing into these wgprof folders are removed (the instrumentation and the profiler). */
const OWN_FRAME = /[\\/](?:src|dist)[\\/](?:instrument|profiler)[\\/]/;

/**
 * Turns an `Error.stack` string into frames, innermost first: the message line dropped, `at `
 * stripped, wgprof's own frames removed, at most `maxFrames` kept.
 */
export function cleanStack(stack: string | undefined, maxFrames: number): string[] {
  if (!stack) return [];
  const frames: string[] = [];
  const lines = stack.split('\n');
  for (let i = 0; i < lines.length && frames.length < maxFrames; i++) {
    const raw = (lines[i] ?? '').trim();
    // V8 frames start with "at "; Firefox/Safari frames are "fn@url:line:col". The first V8 line is the message.
    let frame: string;
    if (raw.startsWith('at ')) frame = raw.slice(3);
    else if (raw.includes('@') && /:\d+(?::\d+)?$/.test(raw)) frame = raw;
    else continue;
    if (OWN_FRAME.test(frame)) continue;
    frames.push(frame);
  }
  return frames;
}

interface V8ErrorConstructor {
  captureStackTrace?(target: object, constructorOpt?: Function): void;
  stackTraceLimit?: number | undefined;
}

/** The caller's stack, omitting `omitFrom` and everything it called (V8), innermost first. */
export function captureStack(omitFrom: Function, maxFrames: number): string[] {
  const E = Error as unknown as V8ErrorConstructor;
  if (typeof E.captureStackTrace === 'function') {
    const holder: { stack?: string } = {};
    const previous = E.stackTraceLimit;
    // A few spare frames for the ones cleanStack drops.
    E.stackTraceLimit = maxFrames + 8;
    try {
      E.captureStackTrace(holder, omitFrom);
    } finally {
      E.stackTraceLimit = previous;
    }
    return cleanStack(holder.stack, maxFrames);
  }
  return cleanStack(new Error().stack, maxFrames);
}
