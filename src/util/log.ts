// The one logger. Everything the library says goes through here (STYLE §15): levels, once-only
// warnings, and a sink that tests can swap to assert on messages.

import { isNode } from './runtime.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogSink = (level: LogLevel, message: string) => void;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function envLevel(): LogLevel {
  const env = typeof process !== 'undefined' ? process.env?.['WGPROF_LOG'] : undefined;
  return env === 'debug' || env === 'info' || env === 'warn' || env === 'error' ? env : 'info';
}

const defaultSink: LogSink = (level, message) => {
  const line = `wgprof ${level.toUpperCase()}: ${message}`;
  // Node: stderr for every level, since stdout belongs to the CLI's real output (tables, --json).
  if (isNode) {
    process.stderr.write(line + '\n');
    return;
  }
  if (level === 'debug' || level === 'info') console.info(line);
  else if (level === 'warn') console.warn(line);
  else console.error(line);
};

let sink: LogSink = defaultSink;
let threshold: LogLevel = envLevel();
const warnedKeys = new Set<string>();

export const log = {
  debug: (message: string) => emit('debug', message),
  info: (message: string) => emit('info', message),
  warn: (message: string) => emit('warn', message),
  error: (message: string) => emit('error', message),
  /** Warns once per key for the life of the process (vLLM's warning_once). Returns whether it printed. */
  warnOnce(key: string, message: string): boolean {
    if (warnedKeys.has(key)) return false;
    warnedKeys.add(key);
    emit('warn', message);
    return true;
  },
};

function emit(level: LogLevel, message: string): void {
  if (order[level] >= order[threshold]) sink(level, message);
}

/** Replaces the sink (and optionally the level); returns a function that restores the previous ones. */
export function setLogSink(next: LogSink, level: LogLevel = threshold): () => void {
  const [prevSink, prevLevel] = [sink, threshold];
  sink = next;
  threshold = level;
  return () => {
    sink = prevSink;
    threshold = prevLevel;
  };
}

/** Forgets which once-only warnings were printed (tests). */
export function resetWarnOnce(): void {
  warnedKeys.clear();
}
