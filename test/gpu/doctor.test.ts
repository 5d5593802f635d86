// `wgprof doctor` end to end, run from the sources as a user runs the command: exit codes, the JSON
// report on SwiftShader, the null backend, bad usage, and a broken environment that gets the fix.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DoctorReport } from '../../src/cli/doctor.js';

const REGISTER = fileURLToPath(new URL('../../scripts/register.mjs', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function machineHasGpu(): boolean {
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** `wgprof ARGS` from the sources; env defaults to this process's minus any Vulkan driver choice. */
function wgprof(args: string[], extraEnv: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['VK_ICD_FILENAMES'];
  delete env['VK_DRIVER_FILES'];
  Object.assign(env, extraEnv);
  const child = spawnSync(process.execPath, ['--liftoff-only', '--import', REGISTER, MAIN, ...args], {
    env,
    encoding: 'utf8',
    // A safety net against a hang (which is itself a failure), not a speed assertion.
    timeout: 120_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

function parseReport(stdout: string): DoctorReport {
  return JSON.parse(stdout) as DoctorReport;
}

describe('wgprof doctor', () => {
  test('--json: exit 0, a SwiftShader adapter with timestamp-query, unquantized ns timestamps, a correct probe', (t) => {
    const run = wgprof(['doctor', '--json']);
    assert.equal(run.status, 0, `exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    const report = parseReport(run.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.error, undefined);
    assert.ok(report.adapter);
    assert.equal(report.adapter.runtime, 'node');
    assert.equal(report.adapter.backend, 'vulkan');
    if (report.adapter.architecture === 'swiftshader' || !machineHasGpu()) {
      assert.equal(report.adapter.architecture, 'swiftshader');
      assert.equal(report.adapter.isFallbackAdapter, true);
      assert.match(report.adapter.vulkanIcd ?? '', /vk_swiftshader_icd\.json$/);
    } else {
      t.diagnostic(`hardware adapter: ${report.adapter.vendor} ${report.adapter.architecture}`);
    }
    assert.equal(report.timestampQuery, true);
    assert.ok(report.adapter.features.includes('timestamp-query'));
    assert.equal(report.timestampMode, 'pass-boundaries');
    assert.equal(report.quantized, false);
    assert.equal(report.quantumNs, undefined);
    assert.ok(report.probe);
    assert.ok(report.probe.maxAbsError <= 1e-4, `probe error ${report.probe.maxAbsError}`);
    assert.equal(report.probe.nanCount, 0);
    assert.equal(report.probe.passes, 8);
    assert.equal(report.probe.gpuDurationsNs.length, 8);
    for (const durNs of report.probe.gpuDurationsNs) assert.ok(durNs > 0);
  });

  test('text output: says ok, names the adapter and that timestamps are not quantized', () => {
    const run = wgprof(['doctor']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^WebGPU: ok$/m);
    assert.match(run.stdout, /timestamp mode\s+pass-boundaries/);
    assert.match(run.stdout, /timestamps\s+not quantized/);
    assert.match(run.stdout, /features\s+.*timestamp-query/);
  });

  test('--backend null: exit 0, reports the null backend and that nothing was checked', () => {
    const json = wgprof(['doctor', '--json', '--backend', 'null']);
    assert.equal(json.status, 0, json.stderr);
    const report = parseReport(json.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.adapter?.backend, 'null');
    assert.equal(report.adapter?.vulkanIcd, undefined);
    const text = wgprof(['doctor', '--backend=null']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /backend null/);
    assert.match(text.stdout, /null backend runs no GPU work/);
  });

  test('bad usage exits 2 and names the bad value', () => {
    const bogus = wgprof(['doctor', '--backend', 'bogus']);
    assert.equal(bogus.status, 2);
    // (The shared CLI parser's wording, issue 12: "; got" as in every command.)
    assert.match(bogus.stderr, /--backend must be auto, vulkan or null; got "bogus"/);
    assert.equal(bogus.stdout, '');
    const missingValue = wgprof(['doctor', '--backend']);
    assert.equal(missingValue.status, 2);
    const unknown = wgprof(['doctor', '--frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown option "--frobnicate"/);
  });

  test('--help exits 0 and documents the options and exit codes', () => {
    const run = wgprof(['doctor', '--help']);
    assert.equal(run.status, 0);
    assert.match(run.stdout, /usage: wgprof doctor/);
    assert.match(run.stdout, /--json/);
    assert.match(run.stdout, /--backend/);
    assert.match(run.stdout, /exit status/);
  });

  test('a broken environment (no Vulkan driver) exits 1 with what was tried and the fix', () => {
    const json = wgprof(['doctor', '--json'], { VK_ICD_FILENAMES: '/nonexistent.json' });
    assert.equal(json.status, 1, json.stderr);
    const report = parseReport(json.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.adapter, undefined);
    assert.equal(report.timestampQuery, false);
    assert.equal(report.quantized, null);
    assert.equal(report.error?.code, 'NO_ADAPTER');
    assert.match(report.error?.message ?? '', /\/nonexistent\.json/);
    assert.match(report.error?.message ?? '', /apt-get install -y chromium libvulkan1/);

    const text = wgprof(['doctor'], { VK_ICD_FILENAMES: '/nonexistent.json' });
    assert.equal(text.status, 1);
    assert.match(text.stdout, /^WebGPU: NOT WORKING$/m);
    assert.match(text.stdout, /apt-get install -y chromium libvulkan1/);
  });
});
