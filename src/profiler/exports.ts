// The Profiler's export queue: exports run one after another, off the engine loop, each into the batch
// of the stop() that will answer for it (the windows ended between two stop() calls); what a file
// write or a callback costs is recorded there and logged at once.

import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { profileFailure, traceKindLabel, type ProfileFailure, type TraceKind } from './failures.js';

/** What the windows ended between two stop() calls produced: that stop()'s answer. */
export interface StopBatch {
  files: string[];
  /** Files not written. */
  failures: ProfileFailure[];
  /** Failures that cost no file (strict reports them). */
  errors: Error[];
  /** Exports of these windows still running. */
  pending: Set<Promise<void>>;
}

function newBatch(): StopBatch {
  return { files: [], failures: [], errors: [], pending: new Set() };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class ExportQueue {
  private chain: Promise<void> = Promise.resolve();
  /** Every export not finished yet, whichever batch it belongs to. */
  private readonly pending = new Set<Promise<void>>();
  /** The batch of the next stop(). */
  batch: StopBatch = newBatch();

  constructor(
    private readonly owner: string,
    private readonly onTraceWritten: ((file: string, kind: TraceKind) => void) | undefined,
  ) {}

  /**
   * Queues an export after the ones before it, for the batch open now; the job records its own
   * failures (a throw that escapes it is recorded as an error).
   */
  enqueue(job: (batch: StopBatch) => Promise<void>): void {
    const batch = this.batch;
    const run = this.chain.then(() => new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => job(batch)));
    const settled = run.catch((error: unknown) => {
      log.warn(`${this.owner}: profiler export failed: ${errorMessage(error)}`);
      batch.errors.push(asError(error));
    });
    this.chain = settled;
    this.pending.add(settled);
    batch.pending.add(settled);
    void settled.then(() => {
      this.pending.delete(settled);
      batch.pending.delete(settled);
    });
  }

  /** Hands the open batch to the stop() answering for it; what is queued from now on is the next one's. */
  takeBatch(): StopBatch {
    const batch = this.batch;
    this.batch = newBatch();
    return batch;
  }

  /** Resolves once every export queued so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Records that `file` was not written (logged at once: the engine loop goes on). */
  failed(batch: StopBatch, kind: TraceKind, file: string, error: unknown): void {
    const failure = profileFailure(error, file, kind);
    log.warn(`${this.owner}: ${traceKindLabel(kind)} not written: ${failure.message}`);
    batch.failures.push(failure);
  }

  /** A failure that costs no file: logged; reported by stop() when strict. */
  warned(batch: StopBatch, error: unknown): void {
    log.warn(`${this.owner}: ${errorMessage(error)}`);
    batch.errors.push(asError(error));
  }

  wrote(batch: StopBatch, file: string, kind: TraceKind): void {
    batch.files.push(file);
    log.debug(`${this.owner}: wrote ${kind} ${file}`);
    try {
      this.onTraceWritten?.(file, kind);
    } catch (error) {
      this.warned(batch, new WgprofError('CALLBACK_FAILED', `onTraceWritten threw: ${errorMessage(error)}`, { cause: error }));
    }
  }
}
