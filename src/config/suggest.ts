// "Did you mean ...?" for unknown keys and misspelled values.

/**
 * Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of adjacent
 * characters each cost 1 (a swapped pair is the most common typo: "porfiler").
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j]!;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate closest to `given`. Dashes count as underscores and case is ignored, so
 * "torch-profiler-dir" and "Profiler" map to their keys at distance 0. A candidate that contains
 * `given` (or is contained in it) wins over mere closeness, so "delay" suggests "delay_iterations";
 * ties go to the earlier candidate.
 */
export function nearest(given: string, candidates: readonly string[]): string {
  const canonical = (s: string) => s.toLowerCase().replace(/-/g, '_');
  const target = canonical(given);
  const overlapping = candidates.filter((c) => target.length > 0 && (canonical(c).includes(target) || target.includes(canonical(c))));
  const pool = overlapping.length > 0 ? overlapping : candidates;
  let best = pool[0] ?? '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of pool) {
    const distance = editDistance(target, canonical(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
