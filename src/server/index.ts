// The HTTP API over the engine (Node only): `wgprof serve` and its pieces.
export { DEFAULT_HOST, DEFAULT_PORT, profilerRoutesWarning, startServer } from './server.js';
export type { ServeOptions, WgprofServer } from './server.js';
export { parseCompletionRequest } from './completions.js';
export type { CompletionRequest } from './completions.js';
export { ProfileControl } from './profile.js';
export type { ProfileFailure, StopProfileResult } from './profile.js';
export { ServerMetrics } from './metrics.js';
