// Browser entry point (dist/browser/wgprof.js): the package's API as one ES module. Node-only code
// (dawn.node, node:fs sinks) sits behind runtime checks and dynamic imports, left external here.
export * from './index.js';
