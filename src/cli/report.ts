// `wgprof report TRACE... -o report.html`: one self-contained HTML file with charts (Apache ECharts,
// inlined), the key-averages table and the capture's facts; several traces behind a selector.

import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import type { GpuBackend } from '../gpu/device.js';
import type { DevicePeak } from '../report/peak.js';
import { processIo } from './command.js';
import type { Command, CommandIo } from './command.js';

const HELP = `usage: wgprof report TRACE... -o OUT.html [--title TEXT] [--peak-gflops X --peak-gbps Y]
                     [--no-calibrate] [--backend auto|vulkan|null]

Writes one self-contained HTML file (no network needed to view it) for one or more traces
(*.pt.trace.json[.gz]; several get a selector): the iteration timeline (CPU ops, launches, GPU
kernels; zoomable), GPU time per kernel, GPU memory over time with each step's peak, a roofline
(achieved GFLOP/s vs FLOP/byte per kernel against the device's peak), the sortable key-averages
table, and the capture's facts (adapter, timestamp mode, quantization, clock-fit error).

The roofline's peak comes from the trace (wgprof.devicePeak) when it has one, else from
--peak-gflops/--peak-gbps, else it is measured with a calibration kernel pair (an FMA-bound kernel
and a vec4 copy) on this machine's WebGPU device; the report says which.

options:
  -o, --output OUT     the HTML file to write (written to a temp file, then renamed)
  --title TEXT         the page title (default: wgprof report: <trace>)
  --peak-gflops X      the device's peak compute, GFLOP/s (with --peak-gbps)
  --peak-gbps Y        the device's peak memory bandwidth, GB/s (with --peak-gflops)
  --no-calibrate       do not measure a peak (the roofline then has no roof unless a trace has one)
  --backend NAME       device for the calibration: auto (default), vulkan, null

exit status: 0 written, 1 a trace could not be read or OUT could not be written, 2 bad arguments.
`;

interface Args {
  traces: string[];
  output: string;
  title?: string;
  peak?: { gflops: number; gbps: number };
  calibrate: boolean;
  backend: GpuBackend;
}

/** The whole argument parsing of `report`, in one place. */
export function parseReportArgs(argv: string[]): Args | string {
  const traces: string[] = [];
  let output: string | undefined;
  let title: string | undefined;
  let gflops: number | undefined;
  let gbps: number | undefined;
  let calibrate = true;
  let backend: GpuBackend = 'auto';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    const positive = (name: string): number | string => {
      const text = value();
      const n = text !== undefined && /^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
      return n > 0 && Number.isFinite(n) ? n : `${name} is ${JSON.stringify(text ?? '')}; expected a positive number`;
    };
    if (flag === '-o' || flag === '--output') {
      output = value();
      if (output === undefined || output === '') return `${flag} needs a file name`;
    } else if (flag === '--title') {
      title = value();
      if (title === undefined) return '--title needs a text';
    } else if (flag === '--peak-gflops') {
      const n = positive('--peak-gflops');
      if (typeof n === 'string') return n;
      gflops = n;
    } else if (flag === '--peak-gbps') {
      const n = positive('--peak-gbps');
      if (typeof n === 'string') return n;
      gbps = n;
    } else if (flag === '--no-calibrate') calibrate = false;
    else if (flag === '--backend') {
      const b = value();
      if (b !== 'auto' && b !== 'vulkan' && b !== 'null') return `--backend is ${JSON.stringify(b ?? '')}; expected auto, vulkan or null`;
      backend = b;
    } else if (arg.startsWith('-')) return `unknown option ${JSON.stringify(arg)}`;
    else traces.push(arg);
  }
  if (output === undefined) return 'missing -o OUT.html (the report to write)';
  if (traces.length === 0) return 'missing TRACE (one or more *.pt.trace.json[.gz] files)';
  if ((gflops === undefined) !== (gbps === undefined)) return '--peak-gflops and --peak-gbps go together: give both (a roof needs both)';
  return {
    traces,
    output,
    calibrate,
    backend,
    ...(title !== undefined ? { title } : {}),
    ...(gflops !== undefined && gbps !== undefined ? { peak: { gflops, gbps } } : {}),
  };
}

/** Measures the local device's peak once (lazily) for every trace that needs it. */
function lazyMeasuredPeak(backend: GpuBackend): () => Promise<DevicePeak> {
  let peak: Promise<DevicePeak> | undefined;
  return () =>
    (peak ??= (async (): Promise<DevicePeak> => {
      const { requestGpuDevice, describeAdapter } = await import('../gpu/device.js');
      const { measureDevicePeak } = await import('../report/calibrate.js');
      let runtime;
      try {
        runtime = await requestGpuDevice({ backend });
      } catch (error) {
        return {
          gflops: null,
          gbps: null,
          source: 'none',
          detail: `none: the trace has none and no WebGPU device was found to measure one (${errorMessage(error)}); give --peak-gflops and --peak-gbps`,
        };
      }
      try {
        const m = await measureDevicePeak(runtime.device);
        const adapter = describeAdapter(runtime.adapter.info);
        return {
          gflops: m.gflops,
          gbps: m.gbps,
          source: 'measured',
          detail:
            `${m.gflops.toFixed(2)} GFLOP/s and ${m.gbps.toFixed(2)} GB/s measured on "${adapter}" by kernels peakFlops ` +
            `(${(m.flops.flops / 1e6).toFixed(0)} MFLOP) and peakBandwidth (${(m.bandwidth.bytes / 2 ** 20).toFixed(0)} MiB moved), timed by ${m.timing}`,
        };
      } catch (error) {
        return { gflops: null, gbps: null, source: 'none', detail: `none: measuring it failed (${errorMessage(error)}); give --peak-gflops and --peak-gbps` };
      } finally {
        runtime.destroy();
      }
    })());
}

/** Writes `text` to `path` atomically (temp file in the same folder, then rename). */
async function writeAtomic(path: string, text: string): Promise<void> {
  const fs = await import('node:fs/promises');
  const { basename, dirname, join } = await import('node:path');
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    await fs.writeFile(temp, text, { flag: 'wx' });
    await fs.rename(temp, path);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** `wgprof report` with its output streams given; resolves to the exit status. */
export async function runReport(argv: string[], io: CommandIo): Promise<number> {
  const args = parseReportArgs(argv);
  if (typeof args === 'string') {
    io.err(`wgprof report: ${args}\n\n${HELP}`);
    return 2;
  }
  const { digestTrace } = await import('../report/digest.js');
  const { traceDevicePeak } = await import('../report/peak.js');
  const { buildReportHtml } = await import('../report/html.js');
  const { warnSkipped } = await import('../report/parse.js');
  const measured = lazyMeasuredPeak(args.backend);
  const traces = [];
  try {
    for (const path of args.traces) {
      const digest = await digestTrace(path);
      warnSkipped(digest.read);
      let peak: DevicePeak | null = traceDevicePeak(digest.read.header);
      if (!peak && args.peak)
        peak = { ...args.peak, source: 'given', detail: `${args.peak.gflops} GFLOP/s and ${args.peak.gbps} GB/s given on the command line` };
      if (!peak && args.calibrate && digest.keyAverages.hasFlops) peak = await measured();
      peak ??= {
        gflops: null,
        gbps: null,
        source: 'none',
        detail: args.calibrate
          ? 'none needed: no kernel in this trace has a known cost'
          : 'none: not measured (--no-calibrate); give --peak-gflops and --peak-gbps',
      };
      if (peak.source === 'none' && digest.keyAverages.hasFlops) log.warn(`wgprof report: no device peak for ${path}: ${peak.detail}.`);
      traces.push({ digest, peak });
    }
  } catch (error) {
    io.err(`wgprof report: ${errorMessage(error)}\n`);
    return 1;
  }
  try {
    const { createRequire } = await import('node:module');
    const fs = await import('node:fs/promises');
    const echarts = await fs.readFile(createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js'), 'utf8');
    await writeAtomic(args.output, buildReportHtml(traces, echarts, args.title !== undefined ? { title: args.title } : {}));
  } catch (error) {
    io.err(`wgprof report: REPORT_WRITE_FAILED: could not write ${args.output}: ${errorMessage(error)}\n`);
    return 1;
  }
  io.out(`wrote ${args.output} (${traces.length} trace${traces.length > 1 ? 's' : ''})\n`);
  return 0;
}

export const command: Command = {
  summary: 'write one self-contained HTML report (charts, tables) of one or more traces',
  help: HELP,
  main: (argv) => runReport(argv, processIo),
};
