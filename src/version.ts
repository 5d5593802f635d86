// Kept in step with package.json's "version" (test/unit/package.test.ts checks it).
export const WGPROF_VERSION = '0.1.0';
