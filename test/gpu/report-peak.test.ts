// The roofline's device peak measured with the calibration kernel pair on dawn.node (SwiftShader here):
// both kernels run inside a validation error scope, their results match a CPU reference, the figures are
// positive and finite, and `wgprof report` says the peak was measured and on which adapter.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { peakFlopsReference } from '../../kernels/peakFlops.js';
import { runReport } from '../../src/cli/report.js';
import { requestGpuDevice } from '../../src/gpu/device.js';
import { measureDevicePeak } from '../../src/report/calibrate.js';

const GOLDEN = fileURLToPath(new URL('../unit/fixtures/golden.1795829617273139504.pt.trace.json.gz', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wgprof-peak-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('device peak calibration', () => {
  it('measures GFLOP/s and GB/s with kernels whose results match the CPU', async () => {
    const runtime = await requestGpuDevice();
    try {
      runtime.device.pushErrorScope('validation');
      const m = await measureDevicePeak(runtime.device, { minMs: 5, runs: 2, maxCopyBytes: 16 * 2 ** 20 });
      assert.equal(await runtime.device.popErrorScope(), null);
      assert.ok(Number.isFinite(m.gflops) && m.gflops > 0, `gflops ${m.gflops}`);
      assert.ok(Number.isFinite(m.gbps) && m.gbps > 0, `gbps ${m.gbps}`);
      assert.equal(m.timing, runtime.device.features.has('timestamp-query') ? 'timestamp-query' : 'wall-clock');
      assert.equal(m.flops.flops, 64 * m.flops.iterations * m.flops.workgroups * 64);
      assert.equal(m.copyOk, true, 'the copy kernel copied');
      for (let i = 0; i < 16; i++) {
        const want = peakFlopsReference(i, m.flops.iterations);
        for (let k = 0; k < 4; k++) {
          const got = m.flopsSample[4 * i + k]!;
          assert.ok(Math.abs(got - want[k]!) <= 1e-5 * Math.max(1, Math.abs(want[k]!)), `invocation ${i} lane ${k}: ${got} vs ${want[k]}`);
        }
      }
    } finally {
      runtime.destroy();
    }
  });

  it('wgprof report measures the peak when the trace has none, and says where', async () => {
    const out = join(dir, 'r.html');
    let err = '';
    const code = await runReport([GOLDEN, '-o', out], { out: () => undefined, err: (t) => (err += t) });
    assert.equal(code, 0, err);
    const data = JSON.parse(/<script id="wgprof-data" type="application\/json">(.*?)<\/script>/s.exec(readFileSync(out, 'utf8'))![1]!);
    const peak = data.traces[0].roofline.peak;
    assert.equal(peak.source, 'measured');
    assert.ok(peak.gflops > 0 && peak.gbps > 0);
    assert.match(
      peak.detail,
      /^\d+\.\d\d GFLOP\/s and \d+\.\d\d GB\/s measured on ".+" by kernels peakFlops \(\d+ MFLOP\) and peakBandwidth \(\d+ MiB moved\), timed by (timestamp-query|wall-clock)$/,
    );
  });
});
