// Makes the README's screenshots of `wgprof report` with headless Chromium, never by hand:
//   npm run screenshots            (node scripts/run-ts.mjs scripts/report-screenshots.ts)
// 1. profiles the tiny engine on this machine's WebGPU device (SwiftShader without a GPU) with FLOPs
//    and memory on, 2. writes a report of that trace plus the onnxruntime-web fixture trace (the device
//    peak measured by the calibration kernels), 3. opens it from file:// in the Debian Chromium that the
//    browser tests use (same executable and flags, playwright.config.ts) and saves PNGs of its sections
//    to examples/report-screenshots/.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, 'examples/report-screenshots');
const work = mkdtempSync(join(tmpdir(), 'wgprof-screenshots-'));

function wgprof(args: string[]): void {
  const result = spawnSync(process.execPath, ['scripts/run-ts.mjs', 'src/cli/main.ts', ...args], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`wgprof ${args[0]} exited ${String(result.status)}`);
}

try {
  const traces = join(work, 'traces');
  const config = {
    profiler: 'torch',
    torch_profiler_dir: traces,
    delay_iterations: 2,
    max_iterations: 4,
    torch_profiler_with_flops: true,
    torch_profiler_with_memory: true,
    torch_profiler_record_shapes: true,
  };
  wgprof(['run', '--model', 'tiny', '--requests', '4', '--max-tokens', '8', '--quiet', '--profiler-config', JSON.stringify(config)]);
  const worker = readdirSync(traces).find((f) => f.endsWith('.pt.trace.json.gz') && !f.includes('async_llm'));
  if (!worker) throw new Error(`no worker trace in ${traces}`);
  const html = join(work, 'report.html');
  wgprof([
    'report',
    join(traces, worker),
    join(root, 'test/unit/fixtures/ort/ort-cls-generic-attach.pt.trace.json.gz'),
    '-o',
    html,
    '--title',
    'wgprof report: tiny engine on SwiftShader, and an onnxruntime-web session',
  ]);

  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(html).href);
    await page.waitForSelector('body[data-rendered]');
    mkdirSync(outDir, { recursive: true });
    const shots: [string, string[]][] = [
      ['report-timeline.png', ['header', '#summary', '#timeline']],
      ['report-kernels-roofline.png', ['#kernels', '#roofline']],
      ['report-memory-capture.png', ['#memory', '#capture']],
      ['report-key-averages.png', ['#table']],
    ];
    for (const [file, selectors] of shots) {
      const boxes = await Promise.all(selectors.map(async (s) => (await page.locator(s).boundingBox())!));
      const x = Math.min(...boxes.map((b) => b.x));
      const y = Math.min(...boxes.map((b) => b.y));
      const right = Math.max(...boxes.map((b) => b.x + b.width));
      const bottom = Math.max(...boxes.map((b) => b.y + b.height));
      await page.screenshot({ path: join(outDir, file), clip: { x, y, width: right - x, height: Math.min(bottom - y, 900) }, fullPage: true });
      process.stdout.write(`wrote ${join('examples/report-screenshots', file)}\n`);
    }
    if (errors.length > 0) throw new Error(`the report logged errors: ${errors.join('; ')}`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
