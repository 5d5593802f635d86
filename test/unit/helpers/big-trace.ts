// Writes a large, valid wgprof-shaped trace cheaply (streamed text → node:zlib gzip level 1): steps of
// op / launch / kernel triples, each op carrying a padded "Call stack" so megabytes add up fast. Its
// expected totals are returned so tests can check what a reader finds.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';

export interface BigTraceOptions {
  steps: number;
  dispatchesPerStep: number;
  /** Characters of "Call stack" per op. */
  stackChars: number;
  /** Write one more gzip member per this many steps (0: one member). */
  stepsPerMember?: number;
}

export interface BigTraceTotals {
  events: number;
  kernels: number;
  kernelGpuUs: number;
  uncompressedBytes: number;
}

const KERNEL_NAMES = ['matmul', 'softmax', 'layerNorm', 'residualAdd'];

/** Streams the trace to `path` (gzip); resolves to what it holds. */
export async function writeBigTrace(path: string, o: BigTraceOptions): Promise<BigTraceTotals> {
  const file = createWriteStream(path);
  let gzip = createGzip({ level: 1 });
  gzip.pipe(file, { end: false });
  let uncompressed = 0;
  let events = 0;
  let kernels = 0;
  let kernelGpuNs = 0;
  const write = async (text: string): Promise<void> => {
    uncompressed += Buffer.byteLength(text);
    if (!gzip.write(text)) await once(gzip, 'drain');
  };
  const newMember = async (): Promise<void> => {
    gzip.end();
    await once(gzip, 'end');
    gzip = createGzip({ level: 1 });
    gzip.pipe(file, { end: false });
  };
  const stack = JSON.stringify('f (file.js:1:1);'.repeat(Math.ceil(o.stackChars / 16)).slice(0, o.stackChars));
  await write(
    '{"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "big", "totalGlobalMem": 0, "computeMajor": 0, "computeMinor": 0, "maxThreadsPerBlock": 256, "warpSize": 0, "sharedMemPerBlock": 16384, "numSms": 0}], "displayTimeUnit": "ms", "baseTimeNanoseconds": 1790000000000000000, "traceEvents": [\n',
  );
  let ts = 1_000_000; // µs
  let id = 1;
  let first = true;
  const ev = async (...texts: string[]): Promise<void> => {
    await write((first ? '' : ',\n') + texts.join(',\n'));
    first = false;
    events += texts.length;
  };
  for (let s = 0; s < o.steps; s++) {
    if (o.stepsPerMember && s > 0 && s % o.stepsPerMember === 0) await newMember();
    const stepDur = o.dispatchesPerStep * 10 + 10;
    let gpuNs = 0;
    const ops: string[] = [];
    for (let d = 0; d < o.dispatchesPerStep; d++) {
      const t = ts + 5 + d * 10;
      const name = KERNEL_NAMES[d % KERNEL_NAMES.length]!;
      const kDurNs = 2000 + ((s * 7 + d * 13) % 1000);
      gpuNs += kDurNs;
      kernelGpuNs += kDurNs;
      kernels++;
      const ext = id++;
      const corr = id++;
      ops.push(
        `{"ph": "X", "cat": "cpu_op", "name": "${name}", "pid": 7, "tid": 1, "ts": ${t}.0, "dur": 8.0, "args": {"External id": ${ext}, "Call stack": ${stack}}}`,
        `{"ph": "X", "cat": "cuda_runtime", "name": "dispatchWorkgroups", "pid": 7, "tid": 1, "ts": ${t + 2}.0, "dur": 3.0, "args": {"External id": ${ext}, "correlation": ${corr}}}`,
        `{"ph": "X", "cat": "kernel", "name": "${name}", "pid": 0, "tid": 7, "ts": ${t + 4}.0, "dur": ${(kDurNs / 1000).toFixed(3)}, "args": {"External id": ${ext}, "device": 0, "stream": 7, "correlation": ${corr}}}`,
      );
    }
    await ev(
      `{"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#${s}", "pid": 7, "tid": 1, "ts": ${ts}.0, "dur": ${stepDur}.0, "args": {"External id": ${id++}, "kernels": ${o.dispatchesPerStep}, "gpu_time_us": ${gpuNs / 1000}}}`,
      ...ops,
    );
    ts += stepDur + 10;
  }
  await ev(`{"ph": "i", "s": "g", "name": "Record Window End", "pid": "", "tid": "", "ts": ${ts}.0}`);
  await write('\n], "traceName": "big.pt.trace.json.gz"}\n');
  gzip.end();
  await once(gzip, 'end');
  file.end();
  await once(file, 'close');
  return { events, kernels, kernelGpuUs: kernelGpuNs / 1000, uncompressedBytes: uncompressed };
}
