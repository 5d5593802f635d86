// `wgprof merge A B ... -o OUT`: one trace from several (workers, shards, frontend + worker), streamed
// in two passes so memory stays bounded. Pass 1 reads each input's header, id range and pids; pass 2
// writes every event with: ids (External id, correlation, flow ids, Python ids) shifted past the
// previous inputs' ranges, host pids renumbered where two inputs share one, devices renumbered after
// the previous inputs' devices (deviceProperties concatenated, entry i = device i), and times moved onto
// the earliest input's baseTimeNanoseconds (wall clock). Each input's "Record Window End" gives way to
// one at the end. Segments of one window (cut by the profiler's memory budget: `wgprof.segment`, the
// same worker and pids) keep one set of process and device rows. The output is written to a temp file
// and renamed (never half-written).

import { WgprofError, errorMessage } from '../util/errors.js';
import { WGPROF_VERSION } from '../version.js';
import type { TraceEvent } from '../trace/kineto.js';
import { GPU_ACTIVITY_CATS } from '../trace/kineto.js';
import { readTrace } from './read.js';
import type { TraceReadResult } from './read.js';

const ID_ARGS = ['External id', 'correlation', 'Python id', 'Python parent id'];
const GPU_CATS = new Set([...GPU_ACTIVITY_CATS, 'gpu_user_annotation', 'cuda_sync', 'gpu_memory']);
const FLAGS = ['with_stack', 'profile_memory', 'record_shapes', 'with_flops'];
const KINETO_GPU_SORT_BASE = 5_000_000;

interface InputPlan {
  path: string;
  read: TraceReadResult;
  baseNs: bigint;
  maxId: number;
  hostPids: Set<number>;
  devicePids: Set<number>;
  deviceCount: number;
  // Filled when planning:
  idOffset: number;
  shiftNs: number;
  pidMap: Map<number, number>;
  deviceMap: Map<number, number>;
  /** An earlier segment of the same window: its process and device rows are this input's too. */
  segmentOf?: InputPlan;
}

export interface MergeResult {
  path: string;
  inputs: { path: string; events: number; shiftNs: number; idOffset: number; pids: Record<string, number>; devices: Record<string, number> }[];
  /** Events written (Record Window End once). */
  events: number;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function isGpuEvent(e: TraceEvent): boolean {
  if (e.cat !== undefined && GPU_CATS.has(e.cat)) return true;
  return e.ph === 'f' && e.cat === 'ac2g';
}

async function scan(path: string): Promise<InputPlan> {
  let maxId = -1;
  const hostPids = new Set<number>();
  const devicePids = new Set<number>();
  const read = await readTrace(path, (e) => {
    if (typeof e.id === 'number' && e.id > maxId) maxId = e.id;
    const a = e.args;
    if (a) {
      for (const key of ID_ARGS) {
        const v = num(a[key]);
        if (v !== undefined && v > maxId) maxId = v;
      }
    }
    if (typeof e.pid !== 'number') return;
    const gpuLabel = e.ph === 'M' && e.name === 'process_labels' && typeof a?.['labels'] === 'string' && /^GPU\b/.test(a['labels']);
    if (isGpuEvent(e) || gpuLabel) devicePids.add(e.pid);
    else hostPids.add(e.pid);
  });
  for (const d of devicePids) hostPids.delete(d);
  const raw = read.headerRaw['baseTimeNanoseconds'];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) {
    throw new WgprofError(
      'MERGE_NO_BASE_TIME',
      `${path} has no integer baseTimeNanoseconds (found ${raw ?? 'none'}); merge aligns traces on it. Traces written before ~2024 use absolute µs ` +
        `and cannot be aligned this way.`,
    );
  }
  const props = Array.isArray(read.header['deviceProperties']) ? (read.header['deviceProperties'] as unknown[]) : [];
  const deviceCount = Math.max(props.length, devicePids.size > 0 ? Math.max(...devicePids) + 1 : 0);
  return { path, read, baseNs: BigInt(raw.trim()), maxId, hostPids, devicePids, deviceCount, idOffset: 0, shiftNs: 0, pidMap: new Map(), deviceMap: new Map() };
}

/**
 * The worker whose window this input is a segment of (a window the profiler's memory budget cut:
 * `wgprof.segment`), with its host pids: segments of one window share its process and device rows.
 */
function segmentKey(p: InputPlan): string | undefined {
  const w = p.read.header['wgprof'] as Record<string, unknown> | undefined;
  if (typeof w?.['segment'] !== 'number' || typeof w['workerName'] !== 'string') return undefined;
  return JSON.stringify([w['workerName'], [...p.hostPids].sort((a, b) => a - b), p.deviceCount]);
}

function plan(inputs: InputPlan[]): bigint {
  const base = inputs.reduce((m, p) => (p.baseNs < m ? p.baseNs : m), inputs[0]!.baseNs);
  const usedHost = new Set<number>();
  const segmentLeads = new Map<string, InputPlan>();
  let nextId = 0;
  let nextDevice = 0;
  for (const p of inputs) {
    p.idOffset = nextId;
    nextId += p.maxId + 1;
    p.shiftNs = Number(p.baseNs - base);
    const key = segmentKey(p);
    const lead = key === undefined ? undefined : segmentLeads.get(key);
    if (lead) {
      p.segmentOf = lead;
      p.deviceMap = lead.deviceMap;
      continue;
    }
    if (key !== undefined) segmentLeads.set(key, p);
    for (let d = 0; d < p.deviceCount; d++) p.deviceMap.set(d, nextDevice + d);
    nextDevice += p.deviceCount;
  }
  const allDevices = nextDevice;
  let nextPid = Math.max(allDevices, ...inputs.flatMap((p) => [...p.hostPids])) + 1;
  for (const p of inputs) {
    if (p.segmentOf) {
      p.pidMap = p.segmentOf.pidMap;
      continue;
    }
    for (const pid of [...p.hostPids].sort((a, b) => a - b)) {
      // A host pid must not collide with another input's host pid, nor with a device index.
      const target = usedHost.has(pid) || pid < allDevices ? nextPid++ : pid;
      usedHost.add(target);
      p.pidMap.set(pid, target);
    }
  }
  return base;
}

function remap(e: TraceEvent, p: InputPlan): TraceEvent {
  const out: TraceEvent = { ...e };
  if (typeof e.pid === 'number') out.pid = p.deviceMap.get(e.pid) ?? p.pidMap.get(e.pid) ?? e.pid;
  if (typeof e.ts === 'number') out.ts = (Math.round(e.ts * 1000) + p.shiftNs) / 1000;
  if (typeof e.id === 'number') out.id = e.id + p.idOffset;
  if (e.args) {
    const args = { ...e.args };
    for (const key of ID_ARGS) {
      const v = num(args[key]);
      if (v !== undefined) args[key] = v + p.idOffset;
    }
    const device = num(args['device']);
    if (device !== undefined && p.deviceMap.has(device)) args['device'] = p.deviceMap.get(device)!;
    if (e.name === '[memory]' && args['Device Type'] === 1) {
      const id = num(args['Device Id']);
      if (id !== undefined && p.deviceMap.has(id)) args['Device Id'] = p.deviceMap.get(id)!;
    }
    if (e.ph === 'M' && e.name === 'process_sort_index' && typeof out.pid === 'number') {
      args['sort_index'] = typeof e.pid === 'number' && p.devicePids.has(e.pid) ? out.pid + KINETO_GPU_SORT_BASE : out.pid;
    }
    if (e.ph === 'M' && e.name === 'process_labels' && typeof out.pid === 'number' && typeof e.pid === 'number' && p.devicePids.has(e.pid))
      args['labels'] = `GPU ${out.pid}`;
    out.args = args;
  }
  return out;
}

/** Merges traces into `output` (.json or .json.gz); returns what went where. Throws WgprofError. */
export async function mergeTraces(paths: string[], output: string): Promise<MergeResult> {
  if (paths.length < 2) throw new WgprofError('MERGE_USAGE', `merge needs at least two traces; got ${paths.length}.`);
  const inputs: InputPlan[] = [];
  for (const path of paths) inputs.push(await scan(path));
  const base = plan(inputs);

  const fsp = await import('node:fs/promises');
  const { basename, dirname, join } = await import('node:path');
  const zlib = await import('node:zlib');
  const { once } = (await import('node:events')).EventEmitter;
  const name = basename(output);
  const temp = join(dirname(output), `.${name}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await fsp.open(temp, 'wx');
  } catch (error) {
    throw new WgprofError('MERGE_WRITE_FAILED', `could not write ${output}: ${errorMessage(error)}`, { cause: error });
  }
  const file = handle.createWriteStream();
  const gzip = output.endsWith('.gz') ? zlib.createGzip({ level: 6 }) : undefined;
  const sink = gzip ?? file;
  if (gzip) gzip.pipe(file);
  let failure: unknown;
  file.on('error', (error) => (failure ??= error));
  gzip?.on('error', (error) => (failure ??= error));
  const writeFailed = (): WgprofError => new WgprofError('MERGE_WRITE_FAILED', `could not write ${output}: ${errorMessage(failure)}`, { cause: failure });
  const write = async (text: string): Promise<void> => {
    if (failure !== undefined) throw writeFailed();
    if (!sink.write(text)) await Promise.race([once(sink, 'drain'), once(file, 'error')]);
  };

  let events = 0;
  let lastTsNs = 0;
  try {
    const props: unknown[] = [];
    for (const p of inputs) {
      if (p.segmentOf) continue;
      const list = Array.isArray(p.read.header['deviceProperties']) ? (p.read.header['deviceProperties'] as Record<string, unknown>[]) : [];
      for (let d = 0; d < p.deviceCount; d++)
        props.push({
          ...(list[d] ?? { name: 'unknown', computeMajor: 0, computeMinor: 0, maxThreadsPerBlock: 0, warpSize: 0, sharedMemPerBlock: 0, numSms: 0 }),
          id: props.length,
        });
    }
    const head: string[] = ['"schemaVersion": 1', `"deviceProperties": ${JSON.stringify(props)}`];
    for (const flag of FLAGS) if (inputs.some((p) => p.read.header[flag] === 1)) head.push(`"${flag}": 1`);
    const dists = inputs.map((p) => JSON.stringify(p.read.header['distributedInfo'] ?? null));
    if (dists[0] !== 'null' && dists.every((d) => d === dists[0])) head.push(`"distributedInfo": ${dists[0]}`);
    const merged = inputs.map((p) => ({
      source: p.path,
      traceName: p.read.header['traceName'] ?? null,
      baseTimeNanoseconds: p.baseNs.toString(),
      shiftNs: p.shiftNs,
      idOffset: p.idOffset,
      pids: Object.fromEntries(p.pidMap),
      devices: Object.fromEntries(p.deviceMap),
      events: p.read.events,
      wgprof: p.read.header['wgprof'] ?? null,
    }));
    head.push(`"wgprof": ${JSON.stringify({ version: WGPROF_VERSION, merged })}`);
    head.push('"displayTimeUnit": "ms"', `"baseTimeNanoseconds": ${base.toString()}`);
    await write(`{\n  ${head.join(',\n  ')},\n  "traceEvents": [`);
    for (const p of inputs) {
      // Events collect per input chunk and are written after it, waiting for the output to drain.
      let pending: string[] = [];
      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        const text = pending.join('');
        pending = [];
        await write(text);
      };
      await readTrace(
        p.path,
        (e) => {
          if (e.name === 'Record Window End' && e.ph === 'i') {
            lastTsNs = Math.max(lastTsNs, Math.round(e.ts * 1000) + p.shiftNs);
            return;
          }
          const out = remap(e, p);
          if (typeof out.ts === 'number')
            lastTsNs = Math.max(lastTsNs, Math.round(out.ts * 1000) + (typeof out.dur === 'number' ? Math.round(out.dur * 1000) : 0));
          pending.push((events === 0 ? '\n    ' : ',\n    ') + JSON.stringify(out));
          events++;
        },
        { afterChunk: flush },
      );
      await flush();
    }
    const end = { ph: 'i', s: 'g', name: 'Record Window End', pid: '', tid: '', ts: lastTsNs / 1000 };
    await write(`${events === 0 ? '\n    ' : ',\n    '}${JSON.stringify(end)}\n  ],\n  "traceName": ${JSON.stringify(name)}\n}\n`);
    events++;
    sink.end();
    await once(file, 'close');
    if (failure !== undefined) throw writeFailed();
    await fsp.rename(temp, output);
  } catch (error) {
    file.destroy();
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    if (error instanceof WgprofError) throw error;
    throw new WgprofError('MERGE_WRITE_FAILED', `could not write ${output}: ${errorMessage(error)}`, { cause: error });
  }
  return {
    path: output,
    inputs: inputs.map((p) => ({
      path: p.path,
      events: p.read.events,
      shiftNs: p.shiftNs,
      idOffset: p.idOffset,
      pids: Object.fromEntries(p.pidMap),
      devices: Object.fromEntries(p.deviceMap),
    })),
    events,
  };
}
