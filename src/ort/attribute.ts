// Naming a capture's dispatches after the ONNX nodes that made them, after the fact (ORT cannot call
// noteDispatch). Pure functions over plain data: the capture record, the window's runs, and what ORT's
// own profiling said about them.
//
// Sources, per back end (reference/webgpu-runtime-notes.md §2):
// - JSEP: `env.webgpu.profiling.ondata`, one record per dispatch, in dispatch order, with the op type,
//   node name, program name (= the pipeline label wgprof sees), the program's input/output shapes and
//   GPU start/end in ns since JSEP's first timestamp.
// - Native EP: the `enableProfiling` profile: `Api` events (one per dispatch, `node&opType&program`,
//   GPU ts/dur in µs since its first timestamp) and `Node` events (per node: op type, provider, ONNX
//   shapes, CPU ts/dur on ORT's CPU clock, split per run by the `model_run` `Session` events).
// A run's records are matched to the run's dispatches in order, and only when every program name
// equals the dispatch's kernel name (pipeline or shader-module label): a run whose sequence differs is
// left as captured (counted in `mismatchedRuns`), never half-named.
//
// GPU times: where wgprof timed a dispatch itself, its time stands. Where it could not (ORT's own
// profiling gives its passes timestampWrites, which wgprof leaves alone), ORT's time is used, mapped
// onto the CPU clock by bracketing each run (the GPU work of a run lies between its run() call and
// its resolution) with src/instrument's alignClock; the fit goes into the trace under wgprof.ort.

import type { CaptureRecord, CpuSpanRecord, DispatchRecord } from '../capture/model.js';
import { alignClock, type SubmitSample } from '../instrument/clock.js';
import { opCost, shapesFromProfileArg, type TensorShape } from './cost.js';
import type { JsepKernelRecord, OrtBuild, OrtProfileEvent } from './types.js';

/** What ORT said about one dispatch. */
export interface KernelAttribution {
  node: string;
  opType: string;
  program: string;
  provider: string;
  inputs?: TensorShape[];
  outputs?: TensorShape[];
  /** ORT's GPU interval, ns since ORT's own first timestamp (absent when reused from an earlier run). */
  ortStartTick?: number;
  ortEndTick?: number;
}

/** One `run()` of a profiled session inside the capture window. */
export interface RunSpan {
  sessionId: number;
  startNs: number;
  endNs: number;
}

/** A session's own profile (native EP, or JSEP's CPU-side Node events), printed by endProfiling(). */
export interface SessionProfile {
  sessionId: number;
  events: OrtProfileEvent[];
}

export interface AttributionInput {
  build: OrtBuild;
  runs: readonly RunSpan[];
  /** JSEP: takes the next `n` ondata records (in arrival order), or fewer when they did not arrive. */
  takeJsepRecords?: (n: number) => JsepKernelRecord[];
  /** Profiles ended in this window, per session. */
  profiles?: readonly SessionProfile[];
  /** Attributions of runs seen before, per session, keyed by the run's program sequence (reused when ORT gives none). */
  known: Map<number, Map<string, KernelAttribution[]>>;
}

export interface AttributionStats {
  build: OrtBuild;
  runs: number;
  /** Dispatches inside the window's runs. */
  dispatches: number;
  /** Dispatches named after their ONNX node. */
  attributed: number;
  /** Runs whose ORT records did not match the captured dispatches (count or program names). */
  mismatchedRuns: number;
  /** Dispatches ORT's own profiling reported for the window's runs (undefined where it reported nothing). */
  ortDispatches: number | undefined;
  /** Dispatches whose GPU interval comes from ORT's timestamps (wgprof could not time them itself). */
  gpuFromOrt: number;
  /** Per dispatch timed by both wgprof and ORT: [wgprof ns, ORT ns] (the bench compares them). */
  bothTimed: [number, number][];
  /** CPU spans added for nodes ORT ran on a CPU execution provider. */
  cpuNodeSpans: number;
  /** How ORT's GPU times were mapped onto the CPU clock, when they were used. */
  clock?: { method: string; uncertaintyNs: number; samples: number };
}

const GPU_PROVIDERS = new Set(['JsExecutionProvider', 'WebGpuExecutionProvider']);

/** The program-name sequence of a run: the key under which its attribution is remembered. */
function sequenceKey(dispatches: readonly DispatchRecord[]): string {
  return dispatches.map((d) => d.kernel).join('\n');
}

/** Splits the window's dispatches per run (a dispatch belongs to the run its op started in). */
export function dispatchesPerRun(dispatches: readonly DispatchRecord[], runs: readonly RunSpan[]): DispatchRecord[][] {
  const out = runs.map((): DispatchRecord[] => []);
  for (const d of dispatches) {
    const r = runs.findIndex((run) => d.opStartNs >= run.startNs && d.opStartNs <= run.endNs);
    if (r >= 0) out[r]!.push(d);
  }
  return out;
}

function fromJsep(rec: JsepKernelRecord): KernelAttribution {
  return {
    node: rec.kernelName,
    opType: rec.kernelType,
    program: rec.programName,
    provider: 'JsExecutionProvider',
    inputs: rec.inputsMetadata.map((m) => ({ dims: [...m.dims], dataType: m.dataType })),
    outputs: rec.outputsMetadata.map((m) => ({ dims: [...m.dims], dataType: m.dataType })),
    ortStartTick: rec.startTime,
    ortEndTick: rec.endTime,
  };
}

interface ProfileRun {
  /** `Api` events of the run (native), in order. */
  api: OrtProfileEvent[];
  /** `Node` events of the run, in order. */
  nodes: OrtProfileEvent[];
  /** The `model_run` event (ORT's CPU clock). */
  modelRun: OrtProfileEvent;
}

/**
 * Splits a session's profile into its runs. `Node` events fall inside their `model_run` on ORT's CPU
 * clock; `Api` events (GPU clock) are dealt to the runs in order by the dispatch counts wgprof saw for
 * the LAST `counts.length` runs (earlier runs, e.g. warm-up, are dropped).
 */
export function profileRuns(events: readonly OrtProfileEvent[], counts: readonly number[]): ProfileRun[] | undefined {
  const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const k = counts.length;
  if (modelRuns.length < k) return undefined;
  const last = modelRuns.slice(modelRuns.length - k);
  const api = events.filter((e) => e.cat === 'Api');
  const total = counts.reduce((a, b) => a + b, 0);
  const runs: ProfileRun[] = last.map((modelRun) => ({
    modelRun,
    api: [],
    nodes: events.filter((e) => e.cat === 'Node' && e.ts >= modelRun.ts && e.ts <= modelRun.ts + modelRun.dur),
  }));
  if (api.length >= total) {
    let at = api.length - total;
    for (let r = 0; r < k; r++) {
      runs[r]!.api = api.slice(at, at + counts[r]!);
      at += counts[r]!;
    }
  }
  return runs;
}

function nodeShapes(node: OrtProfileEvent | undefined): { inputs?: TensorShape[]; outputs?: TensorShape[] } {
  const inputs = shapesFromProfileArg(node?.args?.['input_type_shape']);
  const outputs = shapesFromProfileArg(node?.args?.['output_type_shape']);
  const out: { inputs?: TensorShape[]; outputs?: TensorShape[] } = {};
  if (inputs) out.inputs = inputs;
  if (outputs) out.outputs = outputs;
  return out;
}

/** `Node` events are named `{node}_kernel_time` (also `_fence_before`/`_fence_after`: skipped). */
function kernelNodes(nodes: readonly OrtProfileEvent[]): Map<string, OrtProfileEvent> {
  const byName = new Map<string, OrtProfileEvent>();
  for (const e of nodes) if (e.name.endsWith('_kernel_time')) byName.set(e.name.slice(0, -'_kernel_time'.length), e);
  return byName;
}

function fromApi(event: OrtProfileEvent, nodes: Map<string, OrtProfileEvent>): KernelAttribution {
  const [node = event.name, opType = '', program = ''] = event.name.split('&');
  const nodeEvent = nodes.get(node);
  return {
    node,
    opType: opType || String(nodeEvent?.args?.['op_name'] ?? ''),
    program,
    provider: String(nodeEvent?.args?.['provider'] ?? 'WebGpuExecutionProvider'),
    ...nodeShapes(nodeEvent),
    ortStartTick: event.ts * 1000,
    ortEndTick: (event.ts + event.dur) * 1000,
  };
}

/** Enriches `record` in place; returns what it did. */
export function attributeCapture(record: CaptureRecord, input: AttributionInput): AttributionStats {
  const { build, runs } = input;
  const perRun = dispatchesPerRun(record.dispatches, runs);
  const stats: AttributionStats = {
    build,
    runs: runs.length,
    dispatches: perRun.reduce((n, ds) => n + ds.length, 0),
    attributed: 0,
    mismatchedRuns: 0,
    ortDispatches: undefined,
    gpuFromOrt: 0,
    bothTimed: [],
    cpuNodeSpans: 0,
  };
  const attributions: (KernelAttribution[] | undefined)[] = runs.map(() => undefined);
  const profileNodes: (OrtProfileEvent[] | undefined)[] = runs.map(() => undefined);
  const modelRuns: (OrtProfileEvent | undefined)[] = runs.map(() => undefined);
  const countOrt = (n: number): void => {
    stats.ortDispatches = (stats.ortDispatches ?? 0) + n;
  };

  if (build === 'jsep' && input.takeJsepRecords) {
    for (let r = 0; r < runs.length; r++) {
      const records = input.takeJsepRecords(perRun[r]!.length);
      countOrt(records.length);
      attributions[r] = records.map(fromJsep);
    }
  }
  for (const profile of input.profiles ?? []) {
    const mine = runs.map((run, r) => (run.sessionId === profile.sessionId ? r : -1)).filter((r) => r >= 0);
    const split = profileRuns(
      profile.events,
      mine.map((r) => perRun[r]!.length),
    );
    if (!split) continue;
    mine.forEach((r, j) => {
      const run = split[j]!;
      profileNodes[r] = run.nodes;
      modelRuns[r] = run.modelRun;
      if (build === 'native') {
        countOrt(run.api.length);
        const nodes = kernelNodes(run.nodes);
        attributions[r] = run.api.map((e) => fromApi(e, nodes));
      } else if (attributions[r]) {
        // JSEP: ondata has the program's shapes; the profile adds the provider of each node.
        const nodes = kernelNodes(run.nodes);
        for (const a of attributions[r]!) a.provider = String(nodes.get(a.node)?.args?.['provider'] ?? a.provider);
      }
    });
  }

  // Match, reuse, apply.
  const untimed: { d: DispatchRecord; a: KernelAttribution; run: number }[] = [];
  for (let r = 0; r < runs.length; r++) {
    const ds = perRun[r]!;
    if (ds.length === 0) continue;
    const known = input.known.get(runs[r]!.sessionId) ?? new Map<string, KernelAttribution[]>();
    input.known.set(runs[r]!.sessionId, known);
    const key = sequenceKey(ds);
    let list = attributions[r];
    if (list && !(list.length === ds.length && list.every((a, i) => a.program === ds[i]!.kernel))) {
      stats.mismatchedRuns++;
      list = undefined;
    }
    if (list) {
      known.set(
        key,
        list.map(({ ortStartTick: _s, ortEndTick: _e, ...rest }) => rest),
      );
    } else {
      list = known.get(key);
    }
    if (!list) continue;
    const nodeDispatches = new Map<string, number>();
    for (const a of list) nodeDispatches.set(a.node, (nodeDispatches.get(a.node) ?? 0) + 1);
    ds.forEach((d, i) => {
      const a = list![i]!;
      applyAttribution(d, a, nodeDispatches.get(a.node) === 1);
      stats.attributed++;
      if (a.ortStartTick === undefined || a.ortEndTick === undefined) return;
      if (d.gpuStartNs !== undefined && d.gpuEndNs !== undefined) stats.bothTimed.push([d.gpuEndNs - d.gpuStartNs, a.ortEndTick - a.ortStartTick]);
      else untimed.push({ d, a, run: r });
    });
  }

  stats.gpuFromOrt = placeOrtTimes(untimed, runs, build, stats);
  stats.cpuNodeSpans = addCpuNodeSpans(record.cpuSpans, runs, profileNodes, modelRuns);
  return stats;
}

function applyAttribution(d: DispatchRecord, a: KernelAttribution, singleDispatchNode: boolean): void {
  d.opName = a.opType || a.program || d.kernel;
  const args: Record<string, string | number | boolean> = { ...d.args, node_name: a.node, op_type: a.opType, provider: a.provider };
  if (a.program) args['program'] = a.program;
  d.args = args;
  if (a.inputs) {
    d.inputDims = a.inputs.map((s) => [...s.dims]);
    d.inputTypes = a.inputs.map((s) => s.dataType);
  }
  // A node's cost is its op's: known for a node that ORT ran as one dispatch; a node split into several
  // programs (e.g. a transpose then a matmul) leaves its dispatches' costs unknown rather than guessed.
  if (singleDispatchNode && a.inputs && a.outputs) {
    const cost = opCost(a.opType, a.inputs, a.outputs);
    if (cost) d.cost = cost;
  }
}

/** Places ORT-timed dispatches on the CPU clock: one offset bracketing every run (alignClock). */
function placeOrtTimes(
  untimed: { d: DispatchRecord; a: KernelAttribution; run: number }[],
  runs: readonly RunSpan[],
  build: OrtBuild,
  stats: AttributionStats,
): number {
  if (untimed.length === 0) return 0;
  const byRun = new Map<number, { first: number; last: number }>();
  for (const { a, run } of untimed) {
    const span = byRun.get(run) ?? { first: Infinity, last: -Infinity };
    span.first = Math.min(span.first, a.ortStartTick!);
    span.last = Math.max(span.last, a.ortEndTick!);
    byRun.set(run, span);
  }
  const order = [...byRun.keys()];
  const samples: SubmitSample[] = order.map((r) => ({
    cpuSubmitNs: runs[r]!.startNs,
    cpuDoneNs: runs[r]!.endNs,
    firstTick: byRun.get(r)!.first,
    lastTick: byRun.get(r)!.last,
  }));
  // Native EP times are whole µs (each end rounded apart from its start).
  const alignment = alignClock(samples, { tickUncertaintyNs: build === 'native' ? 1000 : 0 });
  if (!alignment) return 0;
  stats.clock = { method: alignment.fit.method, uncertaintyNs: alignment.fit.uncertaintyNs, samples: alignment.fit.samples };
  let placed = 0;
  for (const { d, a, run } of untimed) {
    const offset = alignment.offsets[order.indexOf(run)];
    if (offset === undefined) continue;
    d.gpuStartNs = alignment.scale * a.ortStartTick! + offset;
    d.gpuEndNs = alignment.scale * a.ortEndTick! + offset;
    placed++;
  }
  return placed;
}

/**
 * Nodes ORT ran on a CPU execution provider become `cpu_op` spans, so their time shows as CPU work.
 * ORT's CPU clock is put onto ours at each run's start (`model_run` begins when our run() call does,
 * to within the JS call overhead), and spans are kept inside the run.
 */
function addCpuNodeSpans(
  spans: CpuSpanRecord[],
  runs: readonly RunSpan[],
  profileNodes: readonly (OrtProfileEvent[] | undefined)[],
  modelRuns: readonly (OrtProfileEvent | undefined)[],
): number {
  let added = 0;
  for (let r = 0; r < runs.length; r++) {
    const nodes = profileNodes[r];
    const modelRun = modelRuns[r];
    if (!nodes || !modelRun) continue;
    const run = runs[r]!;
    const offsetNs = run.startNs - modelRun.ts * 1000;
    for (const e of nodes) {
      const provider = String(e.args?.['provider'] ?? '');
      if (!e.name.endsWith('_kernel_time') || provider === '' || GPU_PROVIDERS.has(provider)) continue;
      const startNs = Math.min(run.endNs, Math.max(run.startNs, e.ts * 1000 + offsetNs));
      const endNs = Math.min(run.endNs, startNs + e.dur * 1000);
      spans.push({
        name: String(e.args?.['op_name'] ?? e.name),
        cat: 'cpu_op',
        startNs,
        endNs,
        args: { node_name: e.name.slice(0, -'_kernel_time'.length), provider },
      });
      added++;
    }
  }
  return added;
}
