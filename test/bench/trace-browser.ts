// Trace export in headless Chromium: the same synthetic capture as test/bench/trace.ts, written with
// gzip through each engine a page has — fflate (pure JS) and the platform's CompressionStream('gzip') —
// into a CallbackSink, interleaved, warm-up excluded. writeTrace's 'auto' engine picks CompressionStream
// where the platform has it; this bench is the evidence for that choice.
//
//   node scripts/run-ts.mjs test/bench/trace-browser.ts [--events N] [--reps N]

import { openChromiumBench } from './chromium.js';
import { distribution, formatTable, type Distribution } from './util.js';

export interface TraceBrowserResult {
  events: number;
  userAgent: string;
  fflateEventsPerS: Distribution;
  compressionStreamEventsPerS: Distribution;
  fflateGzBytesPerEvent: number;
  compressionStreamGzBytesPerEvent: number;
  /** The engine writeTrace's 'auto' chooses in the page. */
  autoEngine: string;
}

const ENTRY = `
export { syntheticRecord } from './test/bench/synthetic-record.ts';
export { writeTrace, CallbackSink, hasCompressionStream } from './src/trace/index.ts';
`;

interface PageBundle {
  syntheticRecord: typeof import('./synthetic-record.js').syntheticRecord;
  writeTrace: typeof import('../../src/trace/index.js').writeTrace;
  CallbackSink: typeof import('../../src/trace/index.js').CallbackSink;
  hasCompressionStream: typeof import('../../src/trace/index.js').hasCompressionStream;
}

export async function benchTraceBrowser(opts: { events?: number; reps?: number; progress?: (line: string) => void } = {}): Promise<TraceBrowserResult> {
  const events = opts.events ?? 100_000;
  const reps = opts.reps ?? 5;
  opts.progress?.('chromium: launching');
  const bench = await openChromiumBench('trace-browser', ENTRY);
  try {
    opts.progress?.(`chromium: ${reps} reps of each engine`);
    const raw = await bench.page.evaluate(
      async ({ url, events, reps }) => {
        const w = (await import(url)) as PageBundle;
        const record = w.syntheticRecord(events);
        const run = async (gzipEngine: 'fflate' | 'compression-stream') => {
          let bytes = 0;
          const t0 = performance.now();
          const written = await w.writeTrace(record, {
            sink: new w.CallbackSink((_n, data) => void (bytes = data.length)),
            gzipEngine,
            timeNs: '1795829617000000000',
          });
          return { ms: performance.now() - t0, bytes, events: written.events };
        };
        for (let i = 0; i < 2; i++) {
          await run('fflate');
          await run('compression-stream');
        }
        const fflate: { ms: number; bytes: number; events: number }[] = [];
        const stream: { ms: number; bytes: number; events: number }[] = [];
        for (let r = 0; r < reps; r++) {
          fflate.push(await run('fflate'));
          stream.push(await run('compression-stream'));
        }
        let autoBytes = 0;
        await w.writeTrace(record, { sink: new w.CallbackSink((_n, data) => void (autoBytes = data.length)), timeNs: '1795829617000000000' });
        return { fflate, stream, autoBytes, userAgent: navigator.userAgent, hasStream: w.hasCompressionStream() };
      },
      { url: bench.bundleUrl, events, reps },
    );
    const n = raw.fflate[0]!.events;
    return {
      events: n,
      userAgent: raw.userAgent,
      fflateEventsPerS: distribution(
        raw.fflate.map((r) => (r.events / r.ms) * 1000),
        'events/s',
      ),
      compressionStreamEventsPerS: distribution(
        raw.stream.map((r) => (r.events / r.ms) * 1000),
        'events/s',
      ),
      fflateGzBytesPerEvent: raw.fflate[0]!.bytes / n,
      compressionStreamGzBytesPerEvent: raw.stream[0]!.bytes / n,
      autoEngine: raw.hasStream && raw.autoBytes === raw.stream[0]!.bytes ? 'compression-stream' : 'fflate',
    };
  } finally {
    await bench.close();
  }
}

export function formatTraceBrowser(r: TraceBrowserResult): string {
  const k = (x: number): string => `${(x / 1000).toFixed(0)}k`;
  const dist = (d: Distribution): string => `${k(d.min)} / ${k(d.median)} / ${k(d.max)}`;
  const faster = r.compressionStreamEventsPerS.median / r.fflateEventsPerS.median;
  return formatTable(
    ['in Chromium (' + (/Chrome\/[\d.]+/.exec(r.userAgent)?.[0] ?? 'Chromium') + ')', 'value', 'note'],
    [
      ['export+gzip events/s, CompressionStream (min/med/max)', dist(r.compressionStreamEventsPerS), `${faster.toFixed(2)}x fflate; target >= 470k`],
      ['export+gzip events/s, fflate (min/med/max)', dist(r.fflateEventsPerS), ''],
      ['gzip bytes/event: CompressionStream / fflate', `${r.compressionStreamGzBytesPerEvent.toFixed(2)} / ${r.fflateGzBytesPerEvent.toFixed(2)}`, ''],
      ["writeTrace's 'auto' engine in the page", r.autoEngine, ''],
    ],
  );
}

const isMain = process.argv[1] !== undefined && /bench[\\/]trace-browser\.ts$/.test(process.argv[1]);
if (isMain) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : undefined;
  };
  const result = await benchTraceBrowser({
    ...(arg('events') !== undefined ? { events: arg('events')! } : {}),
    ...(arg('reps') !== undefined ? { reps: arg('reps')! } : {}),
    progress: (line) => process.stderr.write(`trace-browser bench: ${line}\n`),
  });
  process.stdout.write(`${formatTraceBrowser(result)}\n`);
}
