// The Node examples the README points at run as documented and produce what they claim.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTraceFile, validateTrace } from '../../src/report/index.js';

function runExample(file: string, args: string[] = []) {
  return spawnSync(process.execPath, ['scripts/run-ts.mjs', file, ...args], { encoding: 'utf8', timeout: 180_000 });
}

describe('examples', () => {
  it('profile-any-webgpu.ts writes a valid trace with ProfilerStep#2..#4 of saxpy kernels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgprof-example-'));
    try {
      const run = runExample('examples/profile-any-webgpu.ts', [dir]);
      assert.equal(run.status, 0, run.stderr);
      const traces = readdirSync(dir).filter((f) => f.endsWith('.pt.trace.json.gz'));
      assert.equal(traces.length, 1, `one worker trace in ${readdirSync(dir).join(', ')}`);
      assert.ok(readdirSync(dir).includes(traces[0]!.replace('.pt.trace.json.gz', '.profiler_out.txt')), 'the table, named after its trace');
      const trace = await parseTraceFile(join(dir, traces[0] as string));
      assert.deepEqual(validateTrace(trace), []);
      const steps = trace.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).map((e) => e.name);
      assert.deepEqual(steps, ['ProfilerStep#2', 'ProfilerStep#3', 'ProfilerStep#4']);
      const kernels = trace.traceEvents.filter((e) => e.cat === 'kernel');
      assert.equal(kernels.length, 12, '4 dispatches × 3 captured iterations');
      assert.ok(kernels.every((k) => k.name === 'saxpy' && (k.dur ?? 0) > 0));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('node-quickstart.ts generates text and shows a late request joining a decoding one', () => {
    const run = runExample('examples/node-quickstart.ts');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /execute_context_1\(\d+\)_generation_1\(1\)/, 'an iteration mixes the late prefill with a decode');
    assert.match(run.stdout, /^long: /m);
    assert.match(run.stdout, /^late: /m);
  });
});
