// Types of scripts/test-counts.mjs (for test/unit/test-counts.test.ts).
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}
export declare class NoCountsError extends Error {}
export declare function countsFromTap(text: string): TestCounts;
export declare function countsFromPlaywrightJson(text: string): TestCounts;
