// `wgprof run`'s progress line on stderr: a live bar on a terminal, a plain line every few seconds elsewhere.

export class Progress {
  private lastMs = 0;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private shown = false;

  constructor(
    private readonly totalTokens: number,
    enabled: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = enabled && Boolean(out.isTTY);
    this.intervalMs = !enabled ? Number.POSITIVE_INFINITY : this.tty ? 100 : 5000;
  }

  /** `elapsedMs`: since the requests were submitted. */
  update(steps: number, tokens: number, elapsedMs: number): void {
    if (this.intervalMs === Number.POSITIVE_INFINITY) return;
    const nowMs = performance.now();
    if (nowMs - this.lastMs < this.intervalMs) return;
    this.lastMs = nowMs;
    const seconds = elapsedMs / 1000;
    const rate = seconds > 0 ? tokens / seconds : 0;
    const fraction = this.totalTokens > 0 ? Math.min(1, tokens / this.totalTokens) : 0;
    const text = `step ${steps} | ${tokens}/${this.totalTokens} tokens | ${rate.toFixed(1)} tokens/s`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(fraction * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      this.shown = true;
    } else {
      this.out.write(`wgprof run: ${text}\n`);
    }
  }

  done(): void {
    if (this.tty && this.shown) this.out.write('\r\x1b[K');
  }
}
