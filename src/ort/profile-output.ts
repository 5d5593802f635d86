// ORT's own profile (`enableProfiling: true`), which onnxruntime-web prints instead of writing a file:
// a Chrome-trace JSON array, one event per line (`[`, `{...},` ..., `]`), through the wasm module's
// stdout. In a page that is `console.log`, bound when the wasm initializes (so it must be wrapped
// before the first InferenceSession.create); in Node it is `fs.writeSync(1, ...)`.
// (reference: shared/reference/webgpu-runtime-notes.md §2b)
//
// The tap below is installed once per process and stays: ORT keeps the function it bound. Lines pass
// through untouched unless a capture is open (only around our own `session.endProfiling()` call,
// which prints the whole profile synchronously); then they are kept instead of printed.

import { isNode } from '../util/runtime.js';
import type { OrtProfileEvent } from './types.js';

type LineSink = (line: string) => void;

let tapInstalled: Promise<void> | undefined;
let capture: string[] | undefined;

/** Installs the stdout tap (idempotent). Must run before onnxruntime-web initializes its wasm. */
export function installProfileTap(): Promise<void> {
  tapInstalled ??= isNode ? tapNodeStdout() : Promise.resolve(tapConsoleLog());
  return tapInstalled;
}

/** Whether the tap was installed (before ORT's wasm initialized, if the caller kept to the rule). */
export function profileTapInstalled(): boolean {
  return tapInstalled !== undefined;
}

/** Runs `fn` (which makes ORT print its profile) and returns the lines printed meanwhile. */
export function captureProfileLines(fn: () => void): string[] {
  const lines: string[] = [];
  const previous = capture;
  capture = lines;
  try {
    fn();
  } finally {
    capture = previous;
  }
  return lines;
}

function keep(text: string): boolean {
  if (!capture) return false;
  for (const line of text.split('\n')) if (line !== '') capture.push(line);
  return true;
}

function tapConsoleLog(): void {
  const original = console.log as LineSink & ((...args: unknown[]) => void);
  const tapped = function (this: unknown, ...args: unknown[]): void {
    if (args.length === 1 && typeof args[0] === 'string' && keep(args[0])) return;
    original.apply(this, args);
  };
  Object.defineProperty(console, 'log', { value: tapped, configurable: true, writable: true, enumerable: true });
}

async function tapNodeStdout(): Promise<void> {
  const fs = (await import('node:fs')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  const original = fs.writeSync;
  const tapped = function (this: unknown, fd: number, data: unknown, ...rest: unknown[]): number {
    if (fd === 1 && capture) {
      const text = typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new TextDecoder().decode(data) : undefined;
      if (text !== undefined && keep(text)) return typeof data === 'string' ? Buffer.byteLength(data) : (data as ArrayBufferView).byteLength;
    }
    return (original as (...a: unknown[]) => number).call(this, fd, data, ...rest);
  };
  fs.writeSync = tapped as typeof fs.writeSync;
  syncBuiltinESMExports();
}

/** Parses the printed profile: one JSON object per line, commas and the array brackets around them. */
export function parseProfileLines(lines: readonly string[]): OrtProfileEvent[] {
  const events: OrtProfileEvent[] = [];
  for (const raw of lines) {
    const line = raw.trim().replace(/,$/, '');
    if (!line.startsWith('{')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const e = value as Partial<OrtProfileEvent>;
    if (typeof e.cat === 'string' && typeof e.name === 'string' && typeof e.ts === 'number' && typeof e.dur === 'number') {
      events.push(e as OrtProfileEvent);
    }
  }
  return events;
}
