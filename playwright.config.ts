// Browser tests: headless Debian Chromium with WebGPU on SwiftShader (no GPU needed).
//
// `npx playwright install` cannot work here (no browser downloads): the Debian browser at
// /usr/bin/chromium is used through executablePath (`apt-get install -y chromium`; scripts/bootstrap.sh
// does it). --enable-unsafe-webgpu is required, else requestAdapter() returns null without a GPU.
// The globalSetup (test/browser/fixtures.ts) builds dist/ when stale and starts the static server
// (test/browser/server.ts) on 127.0.0.1: $WGPROF_TEST_PORT, else any free port.

import { defineConfig } from '@playwright/test';

export const CHROMIUM_PATH = process.env['WGPROF_CHROMIUM'] || '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  // Turns off Chrome's 100 µs timestamp quantization (SwiftShader was unquantized either way here).
  '--enable-webgpu-developer-features',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  testDir: 'test/browser',
  testMatch: '**/*.spec.ts',
  globalSetup: './test/browser/fixtures.ts',
  // One SwiftShader on two shared cores: tests run one at a time, and slowly (pipeline compiles take seconds).
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  globalTimeout: 30 * 60_000,
  expect: { timeout: 30_000 },
  retries: 0,
  forbidOnly: Boolean(process.env['CI']),
  reporter: 'list',
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] },
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    trace: 'off',
    video: 'off',
    screenshot: 'off',
  },
});
