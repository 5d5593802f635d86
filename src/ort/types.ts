// The parts of onnxruntime-web that wgprof/ort uses, as structural types: onnxruntime-web is an
// optional peer dependency, so nothing here imports it (its real module and sessions fit these).

/** `ort.env` (both builds). */
export interface OrtEnvLike {
  webgpu: Record<string, unknown> & { profiling?: OrtWebGpuProfiling; adapter?: unknown; device?: unknown };
  wasm: Record<string, unknown>;
  logLevel?: string;
}

/** JSEP's GPU profiling hook (`env.webgpu.profiling`). */
export interface OrtWebGpuProfiling {
  mode?: 'off' | 'default';
  ondata?: (data: JsepKernelRecord) => void;
}

/** One record of JSEP's `env.webgpu.profiling.ondata` (one per dispatch, in dispatch order). */
export interface JsepKernelRecord {
  version: number;
  inputsMetadata: { dims: readonly number[]; dataType: string }[];
  outputsMetadata: { dims: readonly number[]; dataType: string }[];
  kernelId: number;
  /** The ONNX op type. */
  kernelType: string;
  /** The ONNX node name. */
  kernelName: string;
  /** The shader program (= the pipeline label). */
  programName: string;
  /** ns since the first timestamp this backend saw. */
  startTime: number;
  endTime: number;
}

export interface OrtSessionLike {
  run(...args: unknown[]): Promise<Record<string, unknown>>;
  endProfiling(): void;
  release?(): Promise<void>;
  readonly inputNames?: readonly string[];
  readonly outputNames?: readonly string[];
}

export interface OrtModuleLike {
  env: OrtEnvLike;
  InferenceSession: { create(model: Uint8Array | ArrayBuffer | string, options?: Record<string, unknown>): Promise<OrtSessionLike> };
}

/** One event of ORT's own profile (Chrome trace JSON, printed line by line by `endProfiling()`). */
export interface OrtProfileEvent {
  cat: string;
  name: string;
  ph?: string;
  /** µs; `Session`/`Node`: ORT's CPU profiler clock; `Api`: since the first GPU timestamp. */
  ts: number;
  dur: number;
  args?: Record<string, unknown>;
}

/** Which onnxruntime-web WebGPU back end a session runs on. */
export type OrtBuild = 'jsep' | 'native';
