// What the trace says about itself and its device: `deviceProperties` (Kineto's per-device facts, from
// the adapter) and the top-level `wgprof` object (what produced the trace, and every way it departs
// from the raw record: adjustments made to keep slices nested, events left out, and why).

import type { AdapterFacts, TraceMeta } from '../capture/model.js';
import { WGPROF_VERSION } from '../version.js';
import { cleanJson } from './json.js';
import type { TraceDeviceProperties, TraceProvenance } from './kineto.js';
import type { LaunchNames } from './launch-names.js';

export type Adjustments = TraceProvenance['adjustments'];
export type TraceCounts = TraceProvenance['counts'];

export function noAdjustments(): Adjustments {
  return { hostSpansClamped: 0, gpuIntervalsShifted: 0, maxGpuShiftNs: 0, gpuAnnotationsDropped: 0, gpuIntervalsDropped: 0 };
}

function deviceName(adapter: AdapterFacts): string {
  const parts = [adapter.vendor, adapter.architecture].filter((p) => p !== '');
  return adapter.description || adapter.device || (parts.length > 0 ? parts.join(' ') : 'WebGPU adapter');
}

export function devicePropertiesOf(meta: TraceMeta): TraceDeviceProperties[] {
  const adapter = meta.adapter;
  if (!adapter) return [];
  const limits = adapter.limits;
  const subMin = limits['subgroupMinSize'];
  const subMax = limits['subgroupMaxSize'];
  const props: TraceDeviceProperties[] = [];
  // Entry i must describe device i: devices below ours were not captured.
  for (let i = 0; i < meta.deviceIndex; i++) {
    props.push({
      id: i,
      name: 'unknown (not captured)',
      computeMajor: 0,
      computeMinor: 0,
      maxThreadsPerBlock: 0,
      warpSize: 0,
      sharedMemPerBlock: 0,
      numSms: 0,
    });
  }
  // No `totalGlobalMem`: WebGPU tells no device's memory size (no adapter limit or info field holds
  // it), and the largest single buffer is not the memory: written as totalGlobalMem it showed as
  // "Memory 0.25 GB" on SwiftShader in TensorBoard's GPU summary, which shows no Memory row without it.
  // The buffer limit is written under its own WebGPU name instead.
  const maxBufferSize = limits['maxBufferSize'];
  props.push({
    id: meta.deviceIndex,
    name: deviceName(adapter),
    ...(maxBufferSize !== undefined ? { maxBufferSize } : {}),
    computeMajor: 0,
    computeMinor: 0,
    maxThreadsPerBlock: limits['maxComputeInvocationsPerWorkgroup'] ?? 0,
    warpSize: subMin !== undefined && subMin === subMax ? subMin : 0,
    sharedMemPerBlock: limits['maxComputeWorkgroupStorageSize'] ?? 0,
    numSms: 0,
    vendor: adapter.vendor,
    architecture: adapter.architecture,
    backend: adapter.backend,
  });
  return props;
}

/** The top-level `wgprof` object. */
export function provenanceOf(meta: TraceMeta, launchNames: LaunchNames, counts: TraceCounts, adj: Adjustments, extraNotes: readonly string[]): TraceProvenance {
  const notes: string[] = [];
  const ts = meta.timestamps;
  if (counts.dispatches > 0 && counts.kernels < counts.dispatches) {
    notes.push(
      `${counts.dispatches - counts.kernels} of ${counts.dispatches} dispatches have no GPU timestamps: their kernel events are omitted (cpu_op and ` +
        `launch only), never given a made-up duration` +
        (ts?.note ? `. ${ts.note}` : '.'),
    );
  } else if (ts?.note) notes.push(ts.note);
  if (ts?.quantized === true)
    notes.push(`GPU timestamps are quantized${ts.quantumNs !== undefined ? ` to ${ts.quantumNs} ns` : ''}: kernel durations are coarse.`);
  if (adj.gpuIntervalsDropped > 0) notes.push(`${adj.gpuIntervalsDropped} GPU intervals ended before they started and were left out.`);
  if (adj.gpuIntervalsShifted > 0) {
    notes.push(
      `${adj.gpuIntervalsShifted} GPU intervals started before the previous one on stream ${meta.streamId} ended and were shifted to start at its end ` +
        `(largest shift ${adj.maxGpuShiftNs} ns), so slices never overlap.`,
    );
  }
  if (adj.hostSpansClamped > 0) notes.push(`${adj.hostSpansClamped} host intervals were clamped to nest strictly inside their parents.`);
  if (adj.gpuAnnotationsDropped > 0)
    notes.push(`${adj.gpuAnnotationsDropped} steps' GPU work interleaved with another step's, so their gpu_user_annotation was left out.`);
  notes.push(...extraNotes);
  const provenance: TraceProvenance = {
    version: WGPROF_VERSION,
    workerName: meta.workerName,
    rank: meta.rank,
    worldSize: meta.worldSize,
    options: {
      withStack: meta.withStack === true,
      recordShapes: meta.recordShapes === true,
      withMemory: meta.withMemory === true,
      withFlops: meta.withFlops === true,
      launchNames,
    },
    counts,
    adjustments: adj,
    notes,
  };
  if (meta.adapter) provenance.adapter = cleanJson(meta.adapter);
  if (meta.timestamps) provenance.timestamps = cleanJson(meta.timestamps);
  if (meta.clock) provenance.clock = cleanJson(meta.clock);
  if (meta.extra) {
    // Extra keys never replace ours.
    const extra = cleanJson(meta.extra);
    if (extra !== null && typeof extra === 'object' && !Array.isArray(extra)) {
      for (const [key, value] of Object.entries(extra)) if (!(key in provenance)) provenance[key] = value;
    }
  }
  return provenance;
}
