// How launches (the `cuda_runtime` events between an op and its GPU work) are named.
//
// 'webgpu' (default): the WebGPU call itself (`dispatchWorkgroups`, `writeBuffer`, ...): honest, and
// every consumer links op → launch → GPU work through `External id` and `correlation` whatever the name.
// 'cuda': the CUDA runtime call HTA keys on, with the WebGPU call kept in the launch's args
// (`"webgpu call": "dispatchWorkgroups"`). HTA's queue length, kernel launch statistics and critical
// path select launches by name from a fixed list (HolisticTraceAnalysis hta/common/trace_symbol_table.py
// `get_runtime_launch_events_mask`; hta/analyzers/cuda_kernel_analysis.py `cuda_kernel_launch_stats`
// takes cudaLaunchKernel/cudaLaunchKernelExC for kernels, cudaMemcpyAsync/cudaMemsetAsync for memory),
// so under WebGPU names those analyses find no launch at all.

import { WgprofError } from '../util/errors.js';
import { isNode } from '../util/runtime.js';

export type LaunchNames = 'webgpu' | 'cuda';

export const LAUNCH_NAMES: readonly LaunchNames[] = ['webgpu', 'cuda'];

/** The environment variable that sets the default (a server's config needs no change). */
export const LAUNCH_NAMES_ENV = 'WGPROF_LAUNCH_NAMES';

/** The `args` key that keeps the WebGPU call on a launch renamed for HTA. */
export const WEBGPU_CALL_ARG = 'webgpu call';

/**
 * The CUDA runtime call that stands for a WebGPU launch: a dispatch is a kernel launch; a copy
 * (writeBuffer, copyBufferToBuffer) is an async memcpy — the only names in both HTA lists for each kind.
 */
export const CUDA_LAUNCH = { dispatch: 'cudaLaunchKernel', copy: 'cudaMemcpyAsync' } as const;

/** `value` as a LaunchNames; `from` names where it came from in the error (an option, a flag, the environment). */
export function parseLaunchNames(value: unknown, from: string): LaunchNames {
  if (value === 'webgpu' || value === 'cuda') return value;
  throw new WgprofError(
    'INVALID_LAUNCH_NAMES',
    `${from} is ${JSON.stringify(value)}; expected "webgpu" (the WebGPU call, the default) or "cuda" (cudaLaunchKernel / cudaMemcpyAsync, which HTA's ` +
      `launch analyses need).`,
  );
}

/** The default from WGPROF_LAUNCH_NAMES ('webgpu' when unset or empty, or outside Node). */
export function launchNamesFromEnv(env: Readonly<Record<string, string | undefined>> | undefined = isNode ? process.env : undefined): LaunchNames {
  const value = env?.[LAUNCH_NAMES_ENV];
  return value === undefined || value === '' ? 'webgpu' : parseLaunchNames(value, `the environment variable ${LAUNCH_NAMES_ENV}`);
}
