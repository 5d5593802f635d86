// A small client for `wgprof serve` in tests: completions (whole and streamed), profile toggles,
// metrics, and a child-process server started from the sources.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REGISTER = fileURLToPath(new URL('../../scripts/register.mjs', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

export function authHeaders(apiKey: string | undefined): Record<string, string> {
  return apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` };
}

/** POST JSON (or raw text) and read a JSON answer. */
export async function post(url: string, body: unknown, apiKey?: string): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(apiKey) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export interface Streamed {
  status: number;
  /** Texts of the chunks, in order, per choice index. */
  chunks: string[][];
  text: string[];
  finishReason: (string | null)[];
  stopReason: (string | null)[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined;
  /** Whether `data: [DONE]` ended the stream. */
  done: boolean;
  error: unknown;
}

/** A streamed completion, read to its end. */
export async function stream(url: string, body: Record<string, unknown>, apiKey?: string): Promise<Streamed> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(apiKey) },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const out: Streamed = { status: response.status, chunks: [], text: [], finishReason: [], stopReason: [], usage: undefined, done: false, error: undefined };
  const raw = await response.text();
  for (const event of raw.split('\n\n')) {
    if (!event.startsWith('data: ')) continue;
    const data = event.slice(6);
    if (data === '[DONE]') {
      out.done = true;
      continue;
    }
    const chunk = JSON.parse(data) as {
      error?: unknown;
      usage?: Streamed['usage'];
      choices: { index: number; text: string; finish_reason: string | null; stop_reason: string | null }[];
    };
    if (chunk.error) out.error = chunk.error;
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      (out.chunks[choice.index] ??= []).push(choice.text);
      out.text[choice.index] = (out.text[choice.index] ?? '') + choice.text;
      out.finishReason[choice.index] = choice.finish_reason;
      out.stopReason[choice.index] = choice.stop_reason;
    }
  }
  return out;
}

/** The value of one Prometheus sample (first line whose name and labels start with `sample`). */
export async function metric(url: string, sample: string, apiKey?: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: authHeaders(apiKey) })).text();
  const line = text.split('\n').find((l) => l.startsWith(sample));
  if (!line) throw new Error(`no metric ${sample} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

export interface ServeChild {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves to the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Starts `wgprof serve ARGS --port 0` from the sources and resolves once it printed its address. */
export async function spawnServe(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeChild> {
  const child = spawn(process.execPath, ['--liftoff-only', '--import', REGISTER, MAIN, 'serve', '--port', '0', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`wgprof serve exited (${code}) before listening:\n${err}`)));
  });
  return { child, url, stdout: () => out, stderr: () => err, exited };
}
