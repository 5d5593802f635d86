// The Playwright benchmark example (examples/playwright) as the README runs it, sharded in two into one
// directory: each shard writes its own traces (worker names carry the shard; rank = shard index) and
// results JSON, all valid, none overwriting another.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTraceFile, validateTrace } from '../../src/report/index.js';

/** A port free right now (the example's server must not meet another run's server on its default port). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('examples/playwright', () => {
  it('--shard=1/2 and --shard=2/2 into one WGPROF_TRACE_DIR give distinct, valid traces per shard', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgprof-example-shards-'));
    const port = String(await freePort());
    try {
      for (const shard of ['1/2', '2/2']) {
        const run = spawnSync('npx', ['--no-install', 'playwright', 'test', '--config', 'examples/playwright', `--shard=${shard}`], {
          encoding: 'utf8',
          timeout: 240_000,
          env: { ...process.env, WGPROF_TRACE_DIR: dir, WGPROF_EXAMPLE_PORT: port },
        });
        assert.equal(run.status, 0, `shard ${shard}:\n${run.stdout}\n${run.stderr}`);
      }
      const files = readdirSync(dir).sort();
      const traces = files.filter((f) => f.endsWith('.pt.trace.json.gz'));
      assert.equal(traces.length, 2, files.join(', '));
      assert.ok(traces[0]!.startsWith('pw-shard1of2-'), traces[0]);
      assert.ok(traces[1]!.startsWith('pw-shard2of2-'), traces[1]);
      for (const [i, name] of traces.entries()) {
        const trace = await parseTraceFile(join(dir, name));
        assert.deepEqual(validateTrace(trace), [], name);
        assert.deepEqual(trace.distributedInfo, { ...trace.distributedInfo, rank: i, world_size: 2 });
        assert.equal(trace.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).length, 10);
      }
      const results = files.filter((f) => f.endsWith('.results.json'));
      assert.equal(results.length, 2, files.join(', '));
      for (const name of results) {
        const r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as {
          stepUs: { min: number; median: number; max: number; samples: number[] };
          kernels: number;
          untimed: string[];
        };
        assert.equal(r.stepUs.samples.length, 10);
        assert.ok(r.stepUs.min <= r.stepUs.median && r.stepUs.median <= r.stepUs.max);
        assert.equal(r.kernels, 20, `two dispatches per profiled iteration; the trace says: ${r.untimed.join(' ') || 'nothing'}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
