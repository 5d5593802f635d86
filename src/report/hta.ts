// What Holistic Trace Analysis (facebookresearch/HolisticTraceAnalysis, 0.6) makes of a trace, modelled
// on its source, so that tests fail when a trace would leave its launch-based analyses empty. HTA cannot
// run here (pandas); this is the part of its pipeline those analyses depend on, step by step:
//
// - parsing (hta/common/trace_parser.py `_parse_trace_dataframe_json`, `_compress_df`): events with a
//   `dur` and a `cat` (X events), `ts` rounded up and `ts + dur` down to whole µs; args `stream` and
//   `correlation` default to -1, so an event without `stream` is a CPU event, whatever its pid or cat
//   (gpu_user_annotation included: Kineto writes it without one);
// - `transform_correlation_to_index` (hta/common/trace.py): CPU rows (stream -1) and GPU rows
//   (stream > 0) with the same `correlation` point at each other (`index_correlation`);
// - `_filter_irrelevant_gpu_kernels` (trace.py): with two or more ProfilerStep names, CPU rows that start
//   before the last ProfilerStep row's start are kept (the last step is dropped by default), GPU rows only
//   when a kept CPU row has their correlation; the frame is then GPU rows first, then CPU rows, each in
//   file order; rows with stream 0 or below -1 are gone;
// - queue length (hta/analyzers/trace_counters.py `_get_queue_length_time_series_for_rank`): launches
//   are rows named from `get_runtime_launch_events_mask` (trace_symbol_table.py) with a GPU row;
// - kernel launch stats (hta/analyzers/cuda_kernel_analysis.py `cuda_kernel_launch_stats`): launches
//   named cudaLaunchKernel, cudaLaunchKernelExC (kernels), cudaMemcpyAsync, cudaMemsetAsync (memory),
//   joined with their GPU rows by correlation;
// - critical path (hta/analyzers/critical_path_analysis.py `critical_path_analysis`, `CPGraph`): the
//   window is the `instance_id`-th row whose name contains the annotation ('ProfilerStep'), in frame
//   order; CPU rows starting in it with dur > 0 and GPU rows whose launch does; graph nodes are cpu_op,
//   cuda_runtime and cuda_driver rows (not annotations: the call stack passes through them without a node)
//   and GPU rows, plus the queue length series (none → HTA stops: "Queue length time series is
//   required"); a GPU row whose launch has no node fails "Could not find runtime index"; the path has at
//   least two nodes only when some node spans a positive whole-µs duration (`assert
//   len(self.critical_path_nodes) >= 2` otherwise).

import { GPU_ACTIVITY_CATS, isRuntimeCat } from '../trace/kineto.js';

/** Launch names HTA's queue length and critical path take (`get_runtime_launch_events_mask`; its XPU `ur*` names left out). */
export const HTA_KERNEL_LAUNCH_NAMES: ReadonlySet<string> = new Set([
  'cudaLaunchKernel',
  'cudaLaunchKernelExC',
  'cuLaunchKernel',
  'cuLaunchKernelEx',
  'hipLaunchKernel',
  'hipExtModuleLaunchKernel',
  'runFunction - job_prep_and_submit_for_execution',
]);
export const HTA_MEMCPY_LAUNCH_NAMES: ReadonlySet<string> = new Set(['cudaMemcpyAsync', 'hipMemcpyAsync', 'hipMemcpyWithStream']);
export const HTA_MEMSET_LAUNCH_NAMES: ReadonlySet<string> = new Set(['cudaMemsetAsync', 'hipMemsetAsync']);
/** The subset `cuda_kernel_launch_stats` counts. */
export const HTA_LAUNCH_STATS_NAMES: ReadonlySet<string> = new Set([
  'cudaLaunchKernel',
  'cudaLaunchKernelExC',
  'runFunction - job_prep_and_submit_for_execution',
  'cudaMemcpyAsync',
  'cudaMemsetAsync',
]);

export function isHtaLaunchName(name: string): boolean {
  return HTA_KERNEL_LAUNCH_NAMES.has(name) || HTA_MEMCPY_LAUNCH_NAMES.has(name) || HTA_MEMSET_LAUNCH_NAMES.has(name);
}

/** The critical-path categories of CPU rows (`get_operator_or_cuda_runtime_mask`). */
const NODE_CATS = new Set(['cpu_op', 'cuda_runtime', 'cuda_driver']);

/** One row of HTA's trace frame. */
export interface HtaRow {
  /** Position in traceEvents (HTA's `index`). */
  index: number;
  name: string;
  cat: string;
  /** Whole µs: `ts` rounded up, end rounded down, dur = end - ts (may be <= 0). */
  ts: number;
  dur: number;
  /** args.stream, -1 when absent: -1 is a CPU row, > 0 a GPU row. */
  stream: number;
  correlation: number;
  /** Index of the linked row, 0 when the correlation links none, -1 without a correlation. */
  indexCorrelation: number;
}

export interface HtaCriticalPath {
  /** The instance asked for, and the row that gives its window. */
  instance: number;
  annotation?: { index: number; name: string; cat: string; stream: number };
  /** Graph nodes by kind (each row gives a start and an end node). */
  cpuOps: number;
  launches: number;
  gpuEvents: number;
  /** Whether HTA would find a critical path of at least two nodes; `why` says why not. */
  ok: boolean;
  why?: string;
}

export interface HtaModel {
  /** The frame after HTA's filter, in its order (GPU rows first). */
  rows: HtaRow[];
  /** Rows by `index`. */
  byIndex: Map<number, HtaRow>;
  /** Launches in the queue length series (0: get_queue_length_summary is empty). */
  queueLengthLaunches: number;
  /** Rows of get_cuda_kernel_launch_stats (0: empty). */
  launchStatsRows: number;
  /** Row positions (in `rows`) of the ProfilerStep annotations, in the order instance_id counts them. */
  stepInstances: number[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function intArg(args: Obj, key: string): number {
  const v = args[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : -1;
}

const STEP_NAME = /^ProfilerStep#(\d+)/;

/** HTA's frame of a parsed trace (see the file comment), with its queue-length and launch-stats counts. */
export function htaModel(trace: unknown, options: { includeLastProfilerStep?: boolean } = {}): HtaModel {
  const events = isObj(trace) && Array.isArray(trace['traceEvents']) ? (trace['traceEvents'] as unknown[]) : [];
  const all: HtaRow[] = [];
  for (let index = 0; index < events.length; index++) {
    const e = events[index];
    if (!isObj(e) || typeof e['dur'] !== 'number' || typeof e['ts'] !== 'number' || typeof e['cat'] !== 'string' || e['cat'] === 'Trace') continue;
    const args = isObj(e['args']) ? e['args'] : {};
    // Rounded on whole µs after the end is computed, as HTA does.
    const ts = Math.ceil(e['ts']);
    const end = Math.floor(e['ts'] + e['dur']);
    const correlation = intArg(args, 'correlation');
    all.push({
      index,
      name: String(e['name']),
      cat: e['cat'],
      ts,
      dur: end - ts,
      stream: intArg(args, 'stream'),
      correlation,
      indexCorrelation: Math.min(correlation, 0),
    });
  }
  // transform_correlation_to_index: CPU and GPU rows with the same correlation point at each other.
  const gpuByCorr = new Map<number, HtaRow>();
  for (const r of all) if (r.stream > 0 && r.correlation !== -1) gpuByCorr.set(r.correlation, r);
  for (const r of all) {
    if (r.stream !== -1 || r.correlation === -1) continue;
    const g = gpuByCorr.get(r.correlation);
    if (!g) continue;
    r.indexCorrelation = g.index;
    g.indexCorrelation = r.index;
  }
  // _filter_irrelevant_gpu_kernels (with at least two distinct ProfilerStep names).
  let rows = all;
  const stepNames = new Set(all.filter((r) => STEP_NAME.test(r.name)).map((r) => r.name));
  if (stepNames.size > 1) {
    const cpu = all.filter((r) => r.stream === -1);
    const stepRows = cpu.filter((r) => STEP_NAME.test(r.name));
    const lastStart = Math.max(...stepRows.map((r) => r.ts));
    const lastEnd = Math.max(...stepRows.map((r) => r.ts + r.dur));
    const kept = cpu.filter((r) => (options.includeLastProfilerStep ? r.ts <= lastEnd : r.ts < lastStart));
    const keptCorr = new Set(kept.map((r) => r.correlation));
    rows = [...all.filter((r) => r.stream > 0 && keptCorr.has(r.correlation)), ...kept];
  }
  const gpuRowsByCorr = new Map<number, number>();
  for (const r of rows) if (r.stream !== -1) gpuRowsByCorr.set(r.correlation, (gpuRowsByCorr.get(r.correlation) ?? 0) + 1);
  const queueLengthLaunches = rows.filter((r) => isHtaLaunchName(r.name) && r.indexCorrelation > 0).length;
  // The launch-stats join: CPU rows with a launch's correlation × GPU rows with it.
  const statsCorr = new Set(rows.filter((r) => r.stream === -1 && HTA_LAUNCH_STATS_NAMES.has(r.name)).map((r) => r.correlation));
  let launchStatsRows = 0;
  for (const r of rows) if (r.stream === -1 && statsCorr.has(r.correlation)) launchStatsRows += gpuRowsByCorr.get(r.correlation) ?? 0;
  const stepInstances: number[] = [];
  rows.forEach((r, k) => {
    if (r.name.includes('ProfilerStep')) stepInstances.push(k);
  });
  return { rows, byIndex: new Map(rows.map((r) => [r.index, r])), queueLengthLaunches, launchStatsRows, stepInstances };
}

/** What critical_path_analysis(annotation='ProfilerStep', instance_id=instance) finds (see the file comment). */
export function htaCriticalPath(model: HtaModel, instance: number): HtaCriticalPath {
  const out: HtaCriticalPath = { instance, cpuOps: 0, launches: 0, gpuEvents: 0, ok: false };
  const at = model.stepInstances[instance];
  if (at === undefined) return { ...out, why: `there are ${model.stepInstances.length} ProfilerStep instances` };
  const ann = model.rows[at]!;
  out.annotation = { index: ann.index, name: ann.name, cat: ann.cat, stream: ann.stream };
  if (model.queueLengthLaunches === 0)
    return {
      ...out,
      why: 'no launch is named from HTA’s list, so there is no queue length series ("Queue length time series is required for kernel graph construction")',
    };
  const start = ann.ts;
  const end = ann.ts + ann.dur;
  const byIndex = model.byIndex;
  const inWindow = (r: HtaRow): boolean => r.stream === -1 && r.ts >= start && r.ts <= end && r.dur > 0;
  let positive = false;
  for (const r of model.rows) {
    if (r.stream === -1) {
      if (!inWindow(r) || !NODE_CATS.has(r.cat)) continue;
      if (isRuntimeCat(r.cat)) out.launches++;
      else out.cpuOps++;
    } else {
      const launch = byIndex.get(r.indexCorrelation);
      if (!launch || launch.stream !== -1 || !inWindow(launch) || r.indexCorrelation < 0) continue;
      if (!NODE_CATS.has(launch.cat))
        return {
          ...out,
          why:
            `the launch of GPU row traceEvents[${r.index}] has cat ${JSON.stringify(launch.cat)}, not cuda_runtime/cuda_driver ("Could not find ` +
            `runtime index")`,
        };
      out.gpuEvents++;
    }
    if (r.dur > 0) positive = true;
  }
  if (!positive) {
    const where =
      `${ann.cat} ${JSON.stringify(ann.name)} ` +
      `(traceEvents[${ann.index}]${ann.stream === -1 && ann.cat !== 'user_annotation' ? ', taken for a CPU event: it has no stream arg' : ''})`;
    return { ...out, why: `no cpu_op, launch or GPU event with a positive whole-µs duration starts in the window of ${where}` };
  }
  return { ...out, ok: true };
}

/**
 * Problems that would keep HTA's queue length, kernel launch statistics or critical path from working on
 * this trace (the rules of validateTrace's `hta` option). `events` are the trace's events.
 */
export function htaProblems(trace: unknown, report: (message: string) => void): void {
  const events = isObj(trace) && Array.isArray(trace['traceEvents']) ? (trace['traceEvents'] as unknown[]) : [];
  const at = (i: number): string => {
    const e = events[i] as Obj;
    return `traceEvents[${i}] (${String(e['cat'])} ${JSON.stringify(e['name'])})`;
  };
  // Launches and GPU activities by correlation.
  const launchOf = new Map<number, number>();
  const gpuOf = new Map<number, number[]>();
  const hostSteps: number[] = [];
  const otherSteps: number[] = [];
  events.forEach((e, i) => {
    if (!isObj(e) || e['ph'] !== 'X' || typeof e['cat'] !== 'string') return;
    const args = isObj(e['args']) ? e['args'] : {};
    const corr = args['correlation'];
    if (isRuntimeCat(e['cat']) && typeof corr === 'number') launchOf.set(corr, i);
    if (GPU_ACTIVITY_CATS.has(e['cat']) && typeof corr === 'number') {
      let list = gpuOf.get(corr);
      if (!list) gpuOf.set(corr, (list = []));
      list.push(i);
    }
    if (STEP_NAME.test(String(e['name'])) && typeof args['stream'] !== 'number') (e['cat'] === 'user_annotation' ? hostSteps : otherSteps).push(i);
  });
  for (const [corr, gpus] of gpuOf) {
    if (gpus.length > 1)
      report(`${at(gpus[1]!)}: correlation ${corr} is shared by ${gpus.length} GPU activities; HTA's queue length asserts one GPU activity per launch`);
    const launch = launchOf.get(corr);
    if (launch === undefined) continue;
    const le = events[launch] as Obj;
    const name = String(le['name']);
    const cat = String((events[gpus[0]!] as Obj)['cat']);
    if (le['cat'] !== 'cuda_runtime' && le['cat'] !== 'cuda_driver') {
      report(
        `${at(launch)}: HTA's critical path makes graph nodes only of cuda_runtime and cuda_driver launches ("Could not find runtime index"); write ` +
          `the launch with cat cuda_runtime`,
      );
    }
    if (!isHtaLaunchName(name)) {
      report(
        `${at(launch)}: launches ${cat} ${at(gpus[0]!)} under a name HTA's launch analyses skip (queue length, kernel launch statistics, critical ` +
          `path select cudaLaunchKernel, cudaMemcpyAsync, cudaMemsetAsync, ...); wgprof writes those names with launchNames 'cuda' (wgprof run ` +
          `--launch-names cuda, or WGPROF_LAUNCH_NAMES=cuda)`,
      );
      continue;
    }
    const expected =
      cat === 'kernel' || cat === 'Kernel'
        ? HTA_KERNEL_LAUNCH_NAMES
        : cat === 'gpu_memcpy' || cat === 'Memcpy'
          ? HTA_MEMCPY_LAUNCH_NAMES
          : HTA_MEMSET_LAUNCH_NAMES;
    if (!expected.has(name))
      report(`${at(launch)}: a ${cat} launched by ${JSON.stringify(name)}: HTA counts it as another kind of launch; name it ${[...expected][0]}`);
    // A GPU activity before its launch makes a negative launch-delay edge (HTA's _validate_graph tolerates -1 µs).
    const g = events[gpus[0]!] as Obj;
    if (typeof g['ts'] === 'number' && typeof le['ts'] === 'number' && Math.ceil(g['ts']) - Math.ceil(le['ts']) < -1) {
      report(`${at(gpus[0]!)} starts before its launch ${at(launch)}: HTA's critical path graph gets a negative edge and is rejected`);
    }
  }
  // critical_path_analysis counts instance_id over every row named ProfilerStep in frame order; a
  // gpu_user_annotation (no stream arg: a CPU row for HTA) among the host steps shifts the instances.
  const lastHost = hostSteps[hostSteps.length - 1];
  const early = lastHost === undefined ? undefined : otherSteps.find((i) => i < lastHost);
  if (early !== undefined) {
    report(
      `${at(early)} comes before host step ${at(lastHost!)}: HTA reads it as a CPU row (it has no stream arg) and ` +
        `critical_path_analysis(annotation='ProfilerStep', instance_id=k) takes the k-th such row in file order, so instance k lands on its window ` +
        `instead of the k-th step; write GPU step annotations after every host event, as Kineto does`,
    );
  }
  // A critical path for every step that launched GPU work, except the last (HTA drops its GPU work by default).
  const model = htaModel(trace);
  if (model.queueLengthLaunches === 0 && launchOf.size > 0 && gpuOf.size > 0) return; // reported above, by name
  const launchedAt = [...launchOf.entries()].filter(([corr]) => gpuOf.has(corr)).map(([, i]) => (events[i] as Obj)['ts'] as number);
  // With two or more steps HTA keeps only host rows that start before the last step row: the last
  // step is cut, not checked.
  const checked = hostSteps.length > 1 ? hostSteps.length - 1 : hostSteps.length;
  for (let k = 0; k < checked; k++) {
    const step = events[hostSteps[k]!] as Obj;
    const s = step['ts'] as number;
    const e = s + (step['dur'] as number);
    if (!launchedAt.some((t) => t >= s && t < e)) continue;
    const cp = htaCriticalPath(model, k);
    if (!cp.ok) report(`${at(hostSteps[k]!)}: HTA's critical_path_analysis(annotation='ProfilerStep', instance_id=${k}) would find no path: ${cp.why}`);
  }
}
