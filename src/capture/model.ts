// The capture model: plain data that instrumentation and the profilers record, and that the pure trace
// builder (buildTrace) turns into Kineto JSON. No GPU objects, no functions: it can be cloned, posted to
// a worker, or written as a test fixture.
//
// Time: every `*Ns` field is nanoseconds on the CPU's monotonic clock, `performance.now() * 1e6`
// (ns since `performance.timeOrigin`). GPU times are already mapped onto that clock by the
// instrumentation's clock alignment. `meta.timeOriginEpochNs` turns them into wall-clock time.

// This module imports nothing: it is what instrument/ produces and trace/ consumes.

/** What one dispatch costs (kernels/define.ts re-exports it as KernelCost). */
export interface KernelCost {
  flops: number;
  bytesRead: number;
  bytesWritten: number;
}

/** How per-dispatch GPU times can be taken on this device. */
export type TimestampMode =
  /** `writeTimestamp` inside a compute pass (chromium-experimental-timestamp-query-inside-passes). */
  | 'inside-passes'
  /** `timestampWrites` at pass boundaries: one pass per dispatch. */
  | 'pass-boundaries'
  /** No `timestamp-query`: GPU durations are unavailable. */
  | 'none';

export interface AdapterFacts {
  runtime: 'node' | 'browser';
  /** 'vulkan', 'null', or 'webgpu' (browser: the browser's choice). */
  backend: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** Device features, sorted. */
  features: string[];
  /** Device limits that are numbers. */
  limits: Record<string, number>;
  timestampMode: TimestampMode;
  /**
   * Node: whether Dawn's timestamp quantization was disabled by us (true) — the raw ticks are then
   * full-resolution ns. Browser: null (unknown up front; the profiler measures it from the data).
   */
  timestampQuantizationDisabled: boolean | null;
  /** Node: the Vulkan ICD file used, when we chose one. */
  vulkanIcd?: string;
}

export interface ClockFit {
  /** How GPU ticks were mapped onto the CPU clock, e.g. 'submit-completion-bracket'. */
  method: string;
  /** cpuNs = gpuTicks * scale + offsetNs (ticks are ns on every backend we know; scale 1 unless fitted). */
  offsetNs: number;
  scale: number;
  /** Half-width of the interval the offset is known to lie in, ns. */
  uncertaintyNs: number;
  /** Submits used for the fit. */
  samples: number;
}

export interface TimestampInfo {
  mode: TimestampMode;
  /** Why this mode: what the device supports (as probed) and what that means for the GPU times. */
  reason?: string;
  /** true when the raw ticks were found quantized (e.g. low 16 bits always zero); null = not enough data. */
  quantized: boolean | null;
  /** Detected quantum in ns, when quantized. */
  quantumNs?: number;
  /** Why GPU events are absent or coarse, in words (written into the trace). */
  note?: string;
}

export interface TraceMeta {
  /** Worker name used in the file name (`{worker}.{time_ns}.pt.trace.json.gz`). */
  workerName: string;
  /** Host pid / tid of CPU events (Node: process.pid and 1; browser: a stable pseudo-pid and 1). */
  pid: number;
  tid: number;
  /** `performance.timeOrigin` in epoch ns. */
  timeOriginEpochNs: bigint;
  rank: number;
  worldSize: number;
  /** The GPU the work ran on (`deviceProperties[deviceIndex]`); absent for CPU-only (frontend) traces. */
  adapter?: AdapterFacts;
  deviceIndex: number;
  /** Stream id used as the GPU tid (> 0, HTA requires it). */
  streamId: number;
  /** Options in force, written as top-level `with_stack`/`record_shapes`/`profile_memory`/`with_flops` = 1. */
  withStack: boolean;
  recordShapes: boolean;
  withMemory: boolean;
  withFlops: boolean;
  timestamps?: TimestampInfo;
  clock?: ClockFit;
  /** Extra provenance that goes under the top-level `wgprof` key. */
  extra?: Record<string, unknown>;
}

/** One captured engine iteration: `ProfilerStep#number`, annotated as vLLM does. */
export interface StepRecord {
  number: number;
  startNs: number;
  endNs: number;
  /** vLLM's `execute_context_{n}({tok})_generation_{n}({tok})`, a user_annotation inside the step. */
  annotation?: string;
  annotationStartNs?: number;
  annotationEndNs?: number;
  /** Peak of allocated GPU bytes during the step (with_memory). */
  peakAllocatedBytes?: number;
  /**
   * GPU bytes allocated when the step began (with_memory): a sample of the memory counter track at the
   * step's start, so Perfetto draws the level even when nothing is allocated inside the window.
   */
  allocatedBytesAtStart?: number;
}

/** A CPU span on the host thread: API-layer work, user annotations, JS stack frames. */
export interface CpuSpanRecord {
  name: string;
  cat: 'cpu_op' | 'user_annotation' | 'python_function';
  startNs: number;
  endNs: number;
  args?: Record<string, string | number | boolean | null | number[] | number[][] | string[]>;
}

/** One compute dispatch: becomes the CUDA triple cpu_op ⊃ launch → kernel. */
export interface DispatchRecord {
  /** `External id`: links the op and its launch. */
  externalId: number;
  /** `correlation`: links the launch, the flow and the kernel. */
  correlation: number;
  /** Kernel name = pipeline label (or shader-module label); 'unlabeled_pipeline' when none. */
  kernel: string;
  /** The op's name (the cpu_op event) when it is not the kernel's, e.g. the ONNX op type of the node that dispatched it. */
  opName?: string;
  /** Extra args written on the op and on its kernel (e.g. ONNX `node_name`, `op_type`, `program`). */
  args?: Record<string, string | number | boolean>;
  /** The WebGPU call that launched it, e.g. 'dispatchWorkgroups'. */
  launch: string;
  /** CPU span of the op (encode of this kernel), contains the launch. */
  opStartNs: number;
  opEndNs: number;
  launchStartNs: number;
  launchEndNs: number;
  /** GPU execution on the CPU timeline; absent when there are no timestamps for it. */
  gpuStartNs?: number;
  gpuEndNs?: number;
  workgroups: [number, number, number];
  workgroupSize?: [number, number, number];
  /**
   * Bytes of workgroup memory (`var<workgroup>`) the entry point uses, as WebGPU counts them against
   * maxComputeWorkgroupStorageSize: the kernel's `shared memory`. Absent when the source does not say.
   */
  workgroupMemoryBytes?: number;
  /** Sizes of the buffers bound when it was dispatched. */
  boundBufferBytes?: number[];
  inputDims?: number[][];
  inputTypes?: string[];
  cost?: KernelCost;
  /** JS stack at dispatch time, innermost frame first (with_stack). */
  stack?: string[];
}

/** writeBuffer / copyBufferToBuffer / readback: `gpu_memcpy` named `Memcpy HtoD (...)` etc. */
export interface CopyRecord {
  externalId: number;
  correlation: number;
  kind: 'HtoD' | 'DtoD' | 'DtoH';
  bytes: number;
  /** The WebGPU call, e.g. 'writeBuffer', 'copyBufferToBuffer'. */
  launch: string;
  launchStartNs: number;
  launchEndNs: number;
  /** GPU interval, only when timestamps support it (never invented). */
  gpuStartNs?: number;
  gpuEndNs?: number;
}

/** A GPU allocation or free: Kineto's `[memory]` instant event. */
export interface MemoryRecord {
  tsNs: number;
  /** Stable pseudo address of the object. */
  addr: number;
  /** Positive on allocation, negative on free. */
  bytes: number;
  totalAllocatedBytes: number;
  totalReservedBytes: number;
  kind: 'buffer' | 'querySet' | 'texture';
  label?: string;
}

export interface CaptureRecord {
  meta: TraceMeta;
  steps: StepRecord[];
  cpuSpans: CpuSpanRecord[];
  dispatches: DispatchRecord[];
  copies: CopyRecord[];
  memory: MemoryRecord[];
}
