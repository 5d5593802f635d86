// The wgprof benchmark example: `npx playwright test --config examples/playwright`.
// Traces and results go to $WGPROF_TRACE_DIR (default ./wgprof_traces). Shard it across machines with
// `--shard=1/2`, `--shard=2/2`: each shard writes its own files (rank = shard index) into the same dir.
//
// The page is served by the repository's static server (test/browser/server.ts, cross-origin isolated)
// on $WGPROF_EXAMPLE_PORT (default 4180). Chromium: $WGPROF_CHROMIUM, else Debian's /usr/bin/chromium
// (the fixture adds the WebGPU flags itself).
import { defineConfig } from '@playwright/test';

const port = Number(process.env['WGPROF_EXAMPLE_PORT'] || 4180);

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  workers: 1,
  // Shards split by test, not by file: each --shard runs its own tests.
  fullyParallel: true,
  timeout: 120_000,
  reporter: 'list',
  outputDir: '../../test-results/examples-playwright',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    headless: true,
    launchOptions: { executablePath: process.env['WGPROF_CHROMIUM'] || '/usr/bin/chromium', args: ['--no-sandbox'] },
  },
  webServer: {
    // Straight under node (not scripts/run-ts.mjs, whose child runs in its own process group): Playwright
    // stops the server by its process group at the end, and a server left behind would hold the run open.
    command: `node --import ./scripts/register.mjs test/browser/server.ts --port ${port}`,
    cwd: '../..',
    url: `http://127.0.0.1:${port}/test/browser/pages/raw-webgpu.html`,
    reuseExistingServer: true,
    timeout: 60_000,
  },
});
