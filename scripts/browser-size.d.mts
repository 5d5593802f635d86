// Types of scripts/browser-size.mjs (for test/unit/package-build.test.ts).
export interface Metafile {
  outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
}
export interface EntrySize {
  entry: string;
  files: string[];
  rawBytes: number;
  gzipBytes: number;
}
export declare const BROWSER_BUDGET_GZIP_BYTES: number;
export declare function entryFiles(metafile: Metafile, entry: string): string[];
export declare function entrySize(metafile: Metafile, entry: string, read: (path: string) => Uint8Array): EntrySize;
export declare function formatKB(bytes: number): string;
export declare function budgetError(size: EntrySize, budgetBytes?: number): string | undefined;
