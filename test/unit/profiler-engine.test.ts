// createEngine's profiler hook-up (src/engine/profiled.ts): which hooks the engine gets for which
// options. The engine itself (src/engine/engine.ts) knows only the hooks interface.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ProfilerConfigError } from '../../src/config/index.js';
import { createEngine } from '../../src/engine/profiled.js';
import { getPreset } from '../../src/engine/presets.js';
import type { ModelRunner } from '../../src/engine/types.js';
import { noProfiler } from '../../src/profiler/hooks.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { setLogSink } from '../../src/util/log.js';

const config = getPreset('tiny');
const runner = (): ModelRunner => ({
  config,
  maxSlots: 4,
  maxBatchTokens: 128,
  forward: async (batch) => batch.filter((s) => s.sample).map(() => 0),
  forwardLogits: async () => [],
  destroy: () => undefined,
});

describe('createEngine with profilerConfig (engine ↔ profiler hook-up)', () => {
  it('profilerConfig with a profiler gives a Profiler with that config (object or JSON text)', async () => {
    const restore = setLogSink(() => undefined);
    try {
      const fromObject = await createEngine({ runner: runner(), profilerConfig: { profiler: 'torch', torch_profiler_dir: '/tmp/x', max_iterations: 3 } });
      assert.ok(fromObject.profiler instanceof Profiler);
      assert.equal(fromObject.profiler.config.max_iterations, 3);
      const fromJson = await createEngine({ runner: runner(), profilerConfig: '{"profiler": "cuda", "delay_iterations": 2}' });
      assert.ok(fromJson.profiler instanceof Profiler);
      assert.equal(fromJson.profiler.config.profiler, 'cuda');
      assert.equal(fromJson.profiler.config.delay_iterations, 2);
      await fromObject.destroy();
      await fromJson.destroy();
    } finally {
      restore();
    }
  });

  it('no config, or profiler null, gives noProfiler', async () => {
    assert.equal((await createEngine({ runner: runner() })).profiler, noProfiler);
    assert.equal((await createEngine({ runner: runner(), profilerConfig: { profiler: null } })).profiler, noProfiler);
  });

  it('explicit hooks win over profilerConfig', async () => {
    const hooks = { ...noProfiler };
    assert.equal((await createEngine({ runner: runner(), profiler: hooks, profilerConfig: { profiler: 'cuda' } })).profiler, hooks);
  });

  it('a bad config fails createEngine early with ProfilerConfigError naming the field', async () => {
    await assert.rejects(createEngine({ runner: runner(), profilerConfig: { profiler: 'torch' } }), (error: unknown) => {
      assert.ok(error instanceof ProfilerConfigError);
      assert.match(error.message, /torch_profiler_dir/);
      return true;
    });
  });

  it('engine.ts imports no profiler implementation and parses no config (it knows only the hooks interface)', () => {
    const source = readFileSync(new URL('../../src/engine/engine.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^import[^;]*from '([^']+)'/gm)].map((m) => m[1]!);
    assert.ok(imports.length > 3, 'the file was read');
    assert.deepEqual(
      imports.filter((path) => /profiler\/(?!hooks\.js)|config\//.test(path)),
      [],
    );
  });
});
