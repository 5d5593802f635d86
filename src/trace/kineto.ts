// The shape of a Kineto ("PyTorch profiler") trace as wgprof writes it, as plain JS data.
// reference/torch-trace-format.md is the contract; field names and units below follow it.

/** A JSON value as it appears in `args` (and anywhere else in the trace). */
export type TraceJson = string | number | boolean | null | TraceJson[] | { [key: string]: TraceJson };

export type TraceArgs = Record<string, TraceJson>;

/**
 * One entry of `traceEvents`. `ts`/`dur` are microseconds with at most 3 decimals (ns resolution),
 * relative to `baseTimeNanoseconds`. Key order in the file follows Kineto's writer per `ph`.
 */
export interface TraceEvent {
  ph: 'X' | 'M' | 'i' | 's' | 'f' | 'C';
  cat?: string;
  name: string;
  /** Host: OS-like process id; GPU: device index; Kineto's own rows use strings ("Spans", ""). */
  pid: number | string;
  tid: number | string;
  ts: number;
  dur?: number;
  /** Flow id (= CUPTI-style correlation id) on `s`/`f` events. */
  id?: number;
  /** Flow binding point: "e" (enclosing slice) on `f` events. */
  bp?: 'e';
  /** Instant scope: "t" thread, "g" global. */
  s?: 't' | 'g' | 'p';
  args?: TraceArgs;
}

/** `deviceProperties[i]` describes device i (tb_plugin indexes it by position). */
export interface TraceDeviceProperties {
  id: number;
  name: string;
  /**
   * Kineto's device memory in bytes. wgprof never writes it: WebGPU exposes no memory size (see
   * devicePropertiesOf); optional so that traces of other writers type-check.
   */
  totalGlobalMem?: number;
  /** wgprof addition: the adapter's `maxBufferSize` limit, the largest single buffer in bytes (not the device's memory). */
  maxBufferSize?: number;
  /** No CUDA compute capability exists on WebGPU: always 0. */
  computeMajor: number;
  computeMinor: number;
  /** `maxComputeInvocationsPerWorkgroup`. */
  maxThreadsPerBlock: number;
  /** Subgroup size when the adapter reports a single one, else 0 (unknown). */
  warpSize: number;
  /** `maxComputeWorkgroupStorageSize`. */
  sharedMemPerBlock: number;
  /** WebGPU does not expose a compute-unit count: 0 (unknown). */
  numSms: number;
  /** wgprof additions (GPUAdapterInfo). */
  vendor?: string;
  architecture?: string;
  backend?: string;
}

export interface TraceDistributedInfo {
  backend: string;
  rank: number;
  world_size: number;
}

/** Provenance under the top-level `wgprof` key. */
export interface TraceProvenance {
  version: string;
  workerName: string;
  rank: number;
  worldSize: number;
  /** `launchNames`: how launches are named ('webgpu' or 'cuda', see launch-names.ts). */
  options: { withStack: boolean; recordShapes: boolean; withMemory: boolean; withFlops: boolean; launchNames: 'webgpu' | 'cuda' };
  counts: { steps: number; dispatches: number; kernels: number; copies: number; memcpys: number; memory: number; cpuSpans: number };
  /** How many intervals were moved to keep slices on one thread strictly nested (see DESIGN §6). */
  adjustments: { hostSpansClamped: number; gpuIntervalsShifted: number; maxGpuShiftNs: number; gpuAnnotationsDropped: number; gpuIntervalsDropped: number };
  notes: string[];
  adapter?: TraceJson;
  timestamps?: TraceJson;
  clock?: TraceJson;
  [key: string]: TraceJson | undefined;
}

/** A whole trace file. Top-level keys appear in this order (Kineto's `handleTraceStart`/`finalizeTrace`). */
export interface KinetoTrace {
  schemaVersion: number;
  deviceProperties: TraceDeviceProperties[];
  with_stack?: 1;
  profile_memory?: 1;
  record_shapes?: 1;
  with_flops?: 1;
  distributedInfo?: TraceDistributedInfo;
  wgprof?: TraceProvenance;
  displayTimeUnit: string;
  baseTimeNanoseconds: number;
  traceEvents: TraceEvent[];
  traceName: string;
}

/** Event categories that are GPU activity (Kineto `cat`s and the pre-2022 spellings tb_plugin still maps). */
export const GPU_ACTIVITY_CATS: ReadonlySet<string> = new Set(['kernel', 'gpu_memcpy', 'gpu_memset', 'Kernel', 'Memcpy', 'Memset']);

/** Launch categories (HTA takes any `*_runtime`; these are the ones tb_plugin attributes through). */
export function isRuntimeCat(cat: string | undefined): boolean {
  return cat !== undefined && (cat.endsWith('_runtime') || cat === 'cuda_driver' || cat === 'Runtime');
}
