// The exporter reproduces, byte for byte, what it wrote for a real recorded capture before the capture
// path was restructured (issue 14): the trace text and the key-averages table of the tiny engine's
// worker capture (every option on) and of its frontend capture. Goldens: test/unit/fixtures/engine-capture.golden,
// made by test/unit/fixtures/make-capture-fixture.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatProfilerTable, keyAverages, parseTraceBytes } from '../../src/report/index.js';
import { capturedRecords, exportOutputs, GOLDEN_DIR } from './fixtures/make-capture-fixture.js';

const goldenDir = join(import.meta.dirname, 'fixtures', GOLDEN_DIR);

describe('export goldens (a real recorded capture)', () => {
  const records = capturedRecords();

  it('covers a worker capture with every kind of event and a frontend capture', () => {
    const [worker, frontend] = records;
    assert.ok(worker && frontend);
    assert.equal(worker.steps.length, 2);
    assert.ok(worker.dispatches.length > 20);
    assert.ok(worker.copies.length > 0);
    assert.ok(worker.dispatches.every((d) => d.gpuStartNs !== undefined && d.stack !== undefined && d.inputDims !== undefined));
    assert.ok(frontend.cpuSpans.length > 0);
  });

  for (const record of records) {
    const name = record.meta.workerName;
    it(`${name}: the trace text is byte-identical to the golden`, async () => {
      const golden = readFileSync(join(goldenDir, `${name}.pt.trace.json`));
      const { trace } = await exportOutputs(record);
      assert.equal(Buffer.from(trace).toString('utf8'), golden.toString('utf8'));
    });
    it(`${name}: the key-averages table is identical to the golden, and to the table of the trace read back`, async () => {
      const golden = readFileSync(join(goldenDir, `${name}.key_averages.txt`), 'utf8');
      const { trace, table } = await exportOutputs(record);
      assert.equal(table + '\n', golden);
      assert.equal(formatProfilerTable(keyAverages(parseTraceBytes(trace))) + '\n', golden, 'what summarize prints for the file');
    });
  }
});
