// wgprof/playwright: the Playwright fixture (profiles a test's pages with wgprof/auto) and Chromium's
// own tracing driven by a 'cuda' profiler's capture window. Node side only; @playwright/test is a peer.
export { test, expect, profilePages, autoScriptPath, defaultTraceDir, workerNamePrefix, WEBGPU_LAUNCH_FLAGS } from './fixture.js';
export type { ProfiledPages, WgprofFixtureOptions, WgprofFixtures } from './fixture.js';
export { connectChromiumTracing, DEFAULT_TRACING_CATEGORIES } from './chromium-tracing.js';
export type { ChromiumTracing, ChromiumTracingOptions, TracingBrowser, TracingPage } from './chromium-tracing.js';
