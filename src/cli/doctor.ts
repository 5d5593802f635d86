// `wgprof doctor`: is there a working WebGPU device here, and can it time kernels?

import { requestGpuDevice, type AdapterFacts, type GpuBackend } from '../gpu/device.js';
import { runProbe } from '../gpu/probe.js';
import { detectQuantization } from '../gpu/timestamps.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { backendOption, parseCommandArgs } from './args.js';
import { EXIT, UsageError, type Command } from './command.js';

const help = `usage: wgprof doctor [--json] [--backend auto|vulkan|null]

Finds a WebGPU device (Node: dawn.node on a hardware Vulkan GPU, else SwiftShader from Debian's
chromium package), runs a tiny timed kernel, checks its numbers against a CPU reference, and reports
the adapter, its features, the timestamp mode and whether timestamps are quantized.

options:
  --json             print one JSON object instead of text
  --backend NAME     auto (default), vulkan, or null (Dawn's null backend: no GPU work)

exit status: 0 when a WebGPU device works, 1 otherwise (with the fix), 2 on bad usage.`;

export interface DoctorReport {
  ok: boolean;
  adapter?: AdapterFacts;
  timestampQuery: boolean;
  timestampMode?: string;
  quantized: boolean | null;
  quantumNs?: number;
  probe?: { maxAbsError: number; nanCount: number; gpuDurationsNs: number[]; passes: number };
  error?: { code: string; message: string };
}

export async function doctor(backend: GpuBackend): Promise<DoctorReport> {
  let runtime;
  try {
    runtime = await requestGpuDevice({ backend });
  } catch (error) {
    const code = error instanceof WgprofError ? error.code : 'NO_DEVICE';
    return { ok: false, timestampQuery: false, quantized: null, error: { code, message: errorMessage(error) } };
  }
  try {
    let probe;
    try {
      probe = await runProbe(runtime.device);
    } catch (error) {
      // A device that cannot run the probe is a broken runtime, reported like any other (exit 1), with the adapter.
      const code = error instanceof WgprofError ? error.code : 'PROBE_FAILED';
      return {
        ok: false,
        adapter: runtime.facts,
        timestampQuery: runtime.facts.features.includes('timestamp-query'),
        timestampMode: runtime.facts.timestampMode,
        quantized: null,
        error: { code, message: `the probe kernel failed: ${errorMessage(error)}` },
      };
    }
    const quant = detectQuantization(probe.ticks);
    const report: DoctorReport = {
      ok: true,
      adapter: runtime.facts,
      timestampQuery: runtime.facts.features.includes('timestamp-query'),
      timestampMode: runtime.facts.timestampMode,
      quantized: quant.quantized,
      probe: { maxAbsError: probe.maxAbsError, nanCount: probe.nanCount, gpuDurationsNs: probe.durationsNs, passes: probe.durationsNs.length },
    };
    if (quant.quantumNs !== undefined) report.quantumNs = quant.quantumNs;
    // The null backend runs nothing: its numbers are not a failure, but nothing is checked either.
    if (runtime.facts.backend !== 'null' && !(probe.maxAbsError <= 1e-3)) {
      report.ok = false;
      report.error = {
        code: 'PROBE_MISMATCH',
        message: `the probe kernel differs from the CPU reference by ${probe.maxAbsError} (${probe.nanCount} NaN outputs); expected at most 1e-3`,
      };
    }
    if (probe.validationError) {
      report.ok = false;
      report.error = { code: 'VALIDATION_ERROR', message: probe.validationError };
    }
    return report;
  } finally {
    runtime.destroy();
  }
}

function formatText(r: DoctorReport): string {
  if (!r.adapter) return `WebGPU: NOT WORKING\n  ${r.error?.message ?? 'unknown error'}`;
  const a = r.adapter;
  const adapterName = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || a.device;
  const quantization = r.quantized === null ? 'unknown (too few samples)' : r.quantized ? `QUANTIZED to ${r.quantumNs} ns` : 'not quantized (ns resolution)';
  const lines = [
    `WebGPU: ${r.ok ? 'ok' : 'NOT WORKING'}`,
    `  runtime          ${a.runtime} (backend ${a.backend}${a.vulkanIcd ? `, Vulkan ICD ${a.vulkanIcd}` : ''})`,
    `  adapter          ${adapterName}${a.isFallbackAdapter ? ' (fallback adapter)' : ''}`,
    `  features         ${a.features.join(', ') || 'none'}`,
    `  timestamp mode   ${a.timestampMode}`,
    `  timestamps       ${quantization}`,
  ];
  if (r.probe && a.backend === 'null') {
    lines.push('  probe kernel     not checked (the null backend runs no GPU work)');
  } else if (r.probe) {
    const d = r.probe.gpuDurationsNs;
    const perPass = d.length ? `; GPU time per pass ${(Math.min(...d) / 1e3).toFixed(1)}..${(Math.max(...d) / 1e3).toFixed(1)} µs` : '';
    lines.push(`  probe kernel     max |GPU-CPU| = ${r.probe.maxAbsError.toExponential(2)}${perPass}`);
  }
  if (a.backend === 'null') lines.push('  note             the null backend runs no GPU work; use it only for CPU-overhead measurements');
  if (r.error) lines.push(`  error            ${r.error.code}: ${r.error.message}`);
  return lines.join('\n');
}

export const command: Command = {
  summary: 'check the WebGPU runtime',
  help,
  async main(argv) {
    let json: boolean;
    let backend: GpuBackend;
    try {
      const { values } = parseCommandArgs(argv, { command: 'doctor', options: { json: { type: 'boolean' }, backend: { type: 'string', example: 'auto' } } });
      json = values.json ?? false;
      backend = values.backend === undefined ? 'auto' : backendOption(values.backend);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      process.stderr.write(`wgprof doctor: ${error.message}\n\n${help}\n`);
      return EXIT.usage;
    }
    const report = await doctor(backend);
    process.stdout.write((json ? JSON.stringify(report, null, 2) : formatText(report)) + '\n');
    return report.ok ? EXIT.ok : EXIT.failed;
  },
};
