// WGSL kernel sources are imported as text: esbuild's `text` loader in builds, scripts/wgsl-hooks.mjs under Node.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
