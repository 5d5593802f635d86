// Checks a parsed trace against the contract (reference/torch-trace-format.md): the fields HTA and
// tb_plugin read, the links between op, launch and kernel, paired flows, and strict nesting per
// thread. Returns the problems found, in words; [] means valid.

import { GPU_ACTIVITY_CATS, isRuntimeCat } from '../trace/kineto.js';
import { htaProblems } from './hta.js';

const MAX_PROBLEMS = 50;
const TOP_LEVEL_ORDER = ['schemaVersion', 'deviceProperties', 'distributedInfo', 'displayTimeUnit', 'baseTimeNanoseconds', 'traceEvents', 'traceName'];
const PHASES = new Set(['X', 'M', 'i', 's', 'f', 'C', 'I', 'B', 'E', 'b', 'e', 'n']);
const META_NAMES = new Set(['process_name', 'process_labels', 'process_sort_index', 'thread_name', 'thread_sort_index']);
const MEMORY_INT_ARGS = ['Total Reserved', 'Total Allocated', 'Bytes', 'Device Id', 'Device Type', 'Addr'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
/** A finite, non-negative number with at most 3 decimals (µs at ns resolution). */
function isUs(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && Math.round(v * 1000) / 1000 === v;
}
function show(e: Obj, index: number): string {
  return `traceEvents[${index}] (${String(e['ph'])} ${JSON.stringify(e['cat'] ?? '')} ${JSON.stringify(e['name'])})`;
}

interface Span {
  index: number;
  startNs: number;
  endNs: number;
}

export interface ValidateTraceOptions {
  /**
   * Check that each launch lies inside the op (or annotation) whose `External id` it carries under the
   * half-open nesting that time-based consumers use: op start <= launch start < op end. A launch that
   * starts at its op's end (a zero-length op on a 5 µs browser clock) is outside it for them: they count
   * its kernel as a call of its own (issue 13). Off by default until the trace writer guarantees it
   * (today's browser traces and some clamped spans break it); wgprof's own key averages follow the ids.
   */
  launchesInsideOps?: boolean;
  /**
   * Every GPU activity (kernel, memcpy, memset) and every launch reaches a host op: the activity's
   * `correlation` a launch, whose `External id` (the activity's too) a cpu_op. tb_plugin attributes
   * runtime and GPU time to ops this way ("Runtime with external id None don't correlate to any
   * operator" otherwise), and HTA places events by it. Off by default: real torch traces have launches
   * outside any op (e.g. cudaDeviceSynchronize).
   */
  attributed?: boolean;
  /**
   * The rules HTA's launch-based analyses need (./hta.ts): launches named from HTA's list with cat
   * cuda_runtime, one GPU activity per correlation, GPU activities not before their launch, GPU step
   * annotations after the host steps, and a critical path for each step that launched GPU work but the
   * last. Implies `attributed`.
   */
  hta?: boolean;
}

/** Problems with a parsed Kineto trace, in words; [] when it meets the contract. */
export function validateTrace(trace: unknown, options: ValidateTraceOptions = {}): string[] {
  const problems: string[] = [];
  let dropped = 0;
  const report = (message: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(message);
    else dropped++;
  };
  if (!isObj(trace))
    return [`the trace is ${Array.isArray(trace) ? 'a JSON array (the legacy autograd format)' : typeof trace}; expected a JSON object with traceEvents`];

  // ---- top level
  if (trace['schemaVersion'] !== 1) report(`schemaVersion is ${JSON.stringify(trace['schemaVersion'])}; expected 1`);
  const props = trace['deviceProperties'];
  if (!Array.isArray(props)) report('deviceProperties is missing or not an array');
  else
    props.forEach((p: unknown, i) => {
      if (!isObj(p)) return report(`deviceProperties[${i}] is not an object`);
      if (p['id'] !== i) report(`deviceProperties[${i}].id is ${JSON.stringify(p['id'])}; entry i must describe device i`);
      if (typeof p['name'] !== 'string') report(`deviceProperties[${i}].name is not a string`);
      for (const key of ['computeMajor', 'computeMinor', 'maxThreadsPerBlock', 'warpSize', 'sharedMemPerBlock', 'numSms']) {
        if (!isInt(p[key])) report(`deviceProperties[${i}].${key} is ${JSON.stringify(p[key])}; expected an integer`);
      }
      // Optional (wgprof writes none: WebGPU tells no memory size; tb_plugin then shows no Memory row).
      for (const key of ['totalGlobalMem', 'maxBufferSize']) {
        if (key in p && !isInt(p[key])) report(`deviceProperties[${i}].${key} is ${JSON.stringify(p[key])}; expected an integer (or absent)`);
      }
    });
  for (const flag of ['with_stack', 'profile_memory', 'record_shapes', 'with_flops']) {
    if (flag in trace && trace[flag] !== 1) report(`${flag} is ${JSON.stringify(trace[flag])}; expected 1 (or absent)`);
  }
  const dist = trace['distributedInfo'];
  if (dist !== undefined) {
    if (!isObj(dist)) report('distributedInfo is not an object');
    else {
      if (!isInt(dist['rank']) || dist['rank'] < 0) report(`distributedInfo.rank is ${JSON.stringify(dist['rank'])}; expected an integer >= 0`);
      if (!isInt(dist['world_size']) || dist['world_size'] < 1)
        report(`distributedInfo.world_size is ${JSON.stringify(dist['world_size'])}; expected an integer >= 1`);
    }
  }
  if (trace['displayTimeUnit'] !== 'ms' && trace['displayTimeUnit'] !== 'ns')
    report(`displayTimeUnit is ${JSON.stringify(trace['displayTimeUnit'])}; expected "ms"`);
  const base = trace['baseTimeNanoseconds'];
  if (!isInt(base) && !(typeof base === 'number' && Number.isInteger(base) && base > 0))
    report(`baseTimeNanoseconds is ${JSON.stringify(base)}; expected an integer (epoch ns)`);
  if (typeof trace['traceName'] !== 'string') report('traceName is missing or not a string');
  const keys = Object.keys(trace);
  const positions = TOP_LEVEL_ORDER.filter((k) => k in trace).map((k) => keys.indexOf(k));
  if (positions.some((p, i) => i > 0 && p < positions[i - 1]!)) report(`top-level keys are out of Kineto's order: ${keys.join(', ')}`);
  if (keys[keys.length - 1] !== 'traceName') report('traceName is not the last top-level key');
  const events = trace['traceEvents'];
  if (!Array.isArray(events)) {
    report('traceEvents is missing or not an array');
    return problems;
  }

  // ---- events
  const cpuOpExt = new Set<number>();
  const launches = new Map<number, Obj>(); // correlation -> launch args
  const launchTs = new Map<number, string>(); // correlation -> pid/tid/ts of the launch
  const gpuTs = new Map<number, string>(); // correlation -> pid/tid/ts of the GPU activity
  const gpuEvents: [number, Obj][] = [];
  const runtimeEvents: [number, Obj][] = [];
  const flows = new Map<number, { s: number; f: number; sAt?: string; fAt?: string }>();
  const threads = new Map<string, Span[]>();
  // External id -> the op/annotation carrying it; launches with their External id (checked after the loop).
  const extOwners = new Map<number, Span & { key: string }>();
  const extLaunches: (Span & { key: string; ext: number })[] = [];

  events.forEach((raw: unknown, index) => {
    if (!isObj(raw)) return report(`traceEvents[${index}] is not an object`);
    const e = raw;
    const ph = e['ph'];
    if (typeof ph !== 'string' || !PHASES.has(ph)) return report(`traceEvents[${index}].ph is ${JSON.stringify(ph)}`);
    if (typeof e['name'] !== 'string') report(`traceEvents[${index}] has no string name`);
    const pid = e['pid'];
    const tid = e['tid'];
    if (!(isInt(pid) || typeof pid === 'string')) report(`${show(e, index)}: pid is ${JSON.stringify(pid)}`);
    if (!(isInt(tid) || typeof tid === 'string')) report(`${show(e, index)}: tid is ${JSON.stringify(tid)}`);
    if (!isUs(e['ts'])) report(`${show(e, index)}: ts is ${JSON.stringify(e['ts'])}; expected µs >= 0 with at most 3 decimals`);
    const args = e['args'];
    if (args !== undefined && !isObj(args)) report(`${show(e, index)}: args is not an object`);
    const a: Obj = isObj(args) ? args : {};
    const where = `${String(pid)}/${String(tid)}@${String(e['ts'])}`;

    switch (ph) {
      case 'X': {
        const cat = e['cat'];
        if (typeof cat !== 'string' || cat === '') report(`${show(e, index)}: X event without a cat (HTA drops it, tb_plugin crashes)`);
        if (!isUs(e['dur'])) report(`${show(e, index)}: dur is ${JSON.stringify(e['dur'])}; expected µs >= 0 with at most 3 decimals`);
        if (!isObj(args)) report(`${show(e, index)}: X event without args`);
        const name = String(e['name']);
        if (name.startsWith('ProfilerStep') && !/^ProfilerStep#\d+$/.test(name)) report(`${show(e, index)}: step names must be ProfilerStep#<int>`);
        if (cat === 'cpu_op' && isInt(a['External id'])) cpuOpExt.add(a['External id']);
        if (isRuntimeCat(typeof cat === 'string' ? cat : undefined)) runtimeEvents.push([index, e]);
        if (isRuntimeCat(typeof cat === 'string' ? cat : undefined) && a['correlation'] !== undefined) {
          if (!isInt(a['correlation'])) report(`${show(e, index)}: correlation is not an integer`);
          else if (launches.has(a['correlation'])) report(`${show(e, index)}: correlation ${a['correlation']} is used by two launches`);
          else {
            launches.set(a['correlation'], a);
            launchTs.set(a['correlation'], where);
          }
        }
        if (typeof cat === 'string' && GPU_ACTIVITY_CATS.has(cat)) {
          gpuEvents.push([index, e]);
          if (!isInt(a['correlation'])) report(`${show(e, index)}: GPU activity without an integer correlation`);
          else gpuTs.set(a['correlation'], where);
          if (!isInt(a['stream']) || a['stream'] <= 0) report(`${show(e, index)}: stream is ${JSON.stringify(a['stream'])}; HTA needs stream > 0`);
          else if (a['stream'] !== tid) report(`${show(e, index)}: stream ${a['stream']} differs from tid ${String(tid)}`);
          if (!isInt(a['device'])) report(`${show(e, index)}: device is ${JSON.stringify(a['device'])}; tb_plugin needs it`);
          else if (a['device'] !== pid) report(`${show(e, index)}: device ${a['device']} differs from pid ${String(pid)}`);
          if (cat === 'gpu_memcpy' || cat === 'gpu_memset') {
            if (!isInt(a['bytes'])) report(`${show(e, index)}: bytes is not an integer`);
            const bw = a['memory bandwidth (GB/s)'];
            if (bw !== undefined && !(typeof bw === 'number' && bw > 0)) report(`${show(e, index)}: memory bandwidth must be a positive number when present`);
            if (bw !== undefined && e['dur'] === 0) report(`${show(e, index)}: memory bandwidth written for a zero-length copy`);
          }
        }
        if ('flops' in a && !(typeof a['flops'] === 'number' && a['flops'] >= 0)) report(`${show(e, index)}: flops is ${JSON.stringify(a['flops'])}`);
        if (isUs(e['ts']) && isUs(e['dur'])) {
          const key = `${JSON.stringify(pid)}/${JSON.stringify(tid)}`;
          let list = threads.get(key);
          if (!list) threads.set(key, (list = []));
          const startNs = Math.round((e['ts'] as number) * 1000);
          const span = { index, startNs, endNs: startNs + Math.round((e['dur'] as number) * 1000) };
          list.push(span);
          const ext = a['External id'];
          if (isInt(ext)) {
            if (isRuntimeCat(typeof cat === 'string' ? cat : undefined)) extLaunches.push({ ...span, key, ext });
            else if (cat === 'cpu_op' || cat === 'user_annotation') extOwners.set(ext, { ...span, key });
          }
        }
        break;
      }
      case 'M':
        if (!META_NAMES.has(String(e['name']))) report(`${show(e, index)}: unknown metadata name`);
        if (!isObj(args)) report(`${show(e, index)}: metadata without args`);
        else if (e['name'] === 'process_sort_index' || e['name'] === 'thread_sort_index') {
          if (!isInt(a['sort_index'])) report(`${show(e, index)}: sort_index is not an integer`);
        } else if (e['name'] === 'process_labels') {
          if (typeof a['labels'] !== 'string') report(`${show(e, index)}: labels is not a string`);
        } else if (typeof a['name'] !== 'string') report(`${show(e, index)}: name arg is not a string`);
        break;
      case 'i':
        if (!['t', 'g', 'p'].includes(String(e['s']))) report(`${show(e, index)}: instant scope s is ${JSON.stringify(e['s'])}`);
        if (e['name'] === '[memory]') {
          if (e['cat'] !== 'cpu_instant_event') report(`${show(e, index)}: [memory] cat must be cpu_instant_event`);
          for (const key of MEMORY_INT_ARGS) if (!isInt(a[key])) report(`${show(e, index)}: ${key} is ${JSON.stringify(a[key])}; expected an integer`);
          if (a['Device Type'] !== 0 && a['Device Type'] !== 1) report(`${show(e, index)}: Device Type must be 0 (CPU) or 1 (CUDA) for tb_plugin`);
          if ('finished' in a && typeof a['finished'] !== 'boolean') report(`${show(e, index)}: finished must be a boolean`);
        }
        break;
      case 'C':
        if (!isObj(args) || Object.values(a).some((v) => typeof v !== 'number')) report(`${show(e, index)}: counter args must be numbers`);
        break;
      case 's':
      case 'f': {
        const id = e['id'];
        if (!isInt(id)) {
          report(`${show(e, index)}: flow id is ${JSON.stringify(id)}`);
          break;
        }
        if (e['cat'] !== 'ac2g' && e['cat'] !== 'fwdbwd') report(`${show(e, index)}: flow cat is ${JSON.stringify(e['cat'])}`);
        if (ph === 'f' && e['bp'] !== 'e') report(`${show(e, index)}: flow end without "bp": "e"`);
        let flow = flows.get(id);
        if (!flow) flows.set(id, (flow = { s: 0, f: 0 }));
        if (ph === 's') {
          flow.s++;
          flow.sAt = where;
        } else {
          flow.f++;
          flow.fAt = where;
        }
        break;
      }
    }
  });

  // ---- links
  for (const [index, e] of gpuEvents) {
    const a = e['args'] as Obj;
    const corr = a['correlation'];
    if (!isInt(corr)) continue;
    const launch = launches.get(corr);
    if (!launch) {
      report(`${show(e, index)}: no launch (cuda_runtime) has correlation ${corr}`);
      continue;
    }
    const ext = a['External id'];
    if (e['cat'] === 'kernel' || e['cat'] === 'Kernel') {
      if (!isInt(ext)) report(`${show(e, index)}: kernel without an integer External id`);
      else {
        if (!cpuOpExt.has(ext)) report(`${show(e, index)}: External id ${ext} links to no cpu_op`);
        if (launch['External id'] !== ext) report(`${show(e, index)}: External id ${ext} differs from its launch's (${JSON.stringify(launch['External id'])})`);
      }
    }
  }
  for (const [id, flow] of flows) {
    if (flow.s !== 1 || flow.f !== 1) report(`flow ${id} has ${flow.s} start(s) and ${flow.f} end(s); expected one of each`);
    if (flow.sAt !== undefined && launchTs.has(id) && launchTs.get(id) !== flow.sAt)
      report(`flow ${id} starts at ${flow.sAt}, not at its launch (${launchTs.get(id)})`);
    if (flow.fAt !== undefined && gpuTs.has(id) && gpuTs.get(id) !== flow.fAt)
      report(`flow ${id} ends at ${flow.fAt}, not at its GPU activity (${gpuTs.get(id)})`);
  }

  // ---- every GPU activity and launch reaches a host op
  if (options.attributed === true || options.hta === true) {
    for (const [index, e] of gpuEvents) {
      const a = e['args'] as Obj;
      const launch = isInt(a['correlation']) ? launches.get(a['correlation']) : undefined;
      if (!launch) continue; // reported above
      if (!isInt(a['External id'])) report(`${show(e, index)}: GPU activity without an integer External id: no op owns it`);
      // (kernels: checked above for every trace)
      else if (e['cat'] !== 'kernel' && e['cat'] !== 'Kernel' && launch['External id'] !== a['External id']) {
        report(`${show(e, index)}: External id ${a['External id']} differs from its launch's (${JSON.stringify(launch['External id'])})`);
      }
    }
    for (const [index, e] of runtimeEvents) {
      const ext = (e['args'] as Obj | undefined)?.['External id'];
      if (!isInt(ext))
        report(
          `${show(e, index)}: launch without an integer External id: it correlates to no op (tb_plugin: "Runtime with external id None don't ` +
            `correlate to any operator")`,
        );
      else if (!cpuOpExt.has(ext)) report(`${show(e, index)}: External id ${ext} links to no cpu_op`);
    }
  }
  if (options.hta === true) htaProblems(trace, report);

  // ---- each launch inside its op, as time-based consumers nest
  if (options.launchesInsideOps === true) {
    for (const l of extLaunches) {
      const op = extOwners.get(l.ext);
      if (!op || op.key !== l.key) continue;
      if (op.startNs <= l.startNs && l.startNs < op.endNs && l.endNs <= op.endNs) continue;
      const why =
        l.startNs === op.endNs
          ? `starts where its op ends (${op.endNs} ns${op.startNs === op.endNs ? ', a zero-length op' : ''})`
          : `[${l.startNs}, ${l.endNs}] ns is not inside it [${op.startNs}, ${op.endNs}] ns`;
      report(
        `traceEvents[${l.index}]: the launch with External id ${l.ext} ${why}: consumers that nest by time (Perfetto, tb_plugin) put it outside op ` +
          `traceEvents[${op.index}] and count its kernel as a call of its own; the op must strictly contain its launch (start <= launch start < end)`,
      );
    }
  }

  // ---- strict nesting per thread
  for (const [key, spans] of threads) {
    spans.sort((x, y) => x.startNs - y.startNs || y.endNs - x.endNs || x.index - y.index);
    const stack: Span[] = [];
    for (const span of spans) {
      while (stack.length > 0 && stack[stack.length - 1]!.endNs <= span.startNs) stack.pop();
      const top = stack[stack.length - 1];
      if (top && span.endNs > top.endNs) {
        report(
          `pid/tid ${key}: traceEvents[${span.index}] [${span.startNs}, ${span.endNs}] ns overlaps traceEvents[${top.index}] [${top.startNs}, ` +
            `${top.endNs}] ns without nesting`,
        );
      }
      stack.push(span);
    }
  }

  const last = events[events.length - 1];
  if (!isObj(last) || last['name'] !== 'Record Window End') report('the last event is not "Record Window End"');
  if (dropped > 0) problems.push(`... and ${dropped} more problems`);
  return problems;
}
