// The engine's profiler hook-up (makeProfiler): which hooks createEngine uses for which options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProfilerConfigError } from '../../src/config/index.js';
import { makeProfiler } from '../../src/engine/engine.js';
import { noProfiler } from '../../src/profiler/hooks.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { setLogSink } from '../../src/util/log.js';

describe('makeProfiler (engine ↔ profiler hook-up)', () => {
  it('profilerConfig with a profiler gives a Profiler with that config (object or JSON text)', async () => {
    const restore = setLogSink(() => undefined);
    try {
      const fromObject = await makeProfiler({ profilerConfig: { profiler: 'torch', torch_profiler_dir: '/tmp/x', max_iterations: 3 } });
      assert.ok(fromObject instanceof Profiler);
      assert.equal(fromObject.config.max_iterations, 3);
      const fromJson = await makeProfiler({ profilerConfig: '{"profiler": "cuda", "delay_iterations": 2}' });
      assert.ok(fromJson instanceof Profiler);
      assert.equal(fromJson.config.profiler, 'cuda');
      assert.equal(fromJson.config.delay_iterations, 2);
    } finally {
      restore();
    }
  });

  it('no config, or profiler null, gives noProfiler', async () => {
    assert.equal(await makeProfiler({}), noProfiler);
    assert.equal(await makeProfiler({ profilerConfig: { profiler: null } }), noProfiler);
  });

  it('explicit hooks win over profilerConfig', async () => {
    const hooks = { ...noProfiler };
    assert.equal(await makeProfiler({ profiler: hooks, profilerConfig: { profiler: 'cuda' } }), hooks);
  });

  it('a bad config fails createEngine early with ProfilerConfigError naming the field', async () => {
    await assert.rejects(makeProfiler({ profilerConfig: { profiler: 'torch' } }), (error: unknown) => {
      assert.ok(error instanceof ProfilerConfigError);
      assert.match(error.message, /torch_profiler_dir/);
      return true;
    });
  });
});
