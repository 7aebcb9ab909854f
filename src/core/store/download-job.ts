import { SdError } from '../errors.ts';
import { createAbortSource, type AbortSource } from './abort.ts';
import type { StoredModel } from './stored-model.ts';

export type DownloadJobState = 'running' | 'paused' | 'done' | 'failed' | 'cancelled';

/**
 * A download the page can pause, resume and cancel. Pausing aborts the running attempt and keeps
 * everything stored (the bytes of the unfinished chunk too); resuming starts another attempt,
 * which continues from the stored state; cancelling also deletes what was stored. `done` settles
 * once: with the stored model, or with the error that ended it ('cancelled' after cancel()).
 */
export class DownloadJob {
  readonly done: Promise<StoredModel>;
  private current: AbortSource | undefined;
  private running: Promise<void> = Promise.resolve();
  private jobState: DownloadJobState = 'paused';
  private settle!: { resolve: (model: StoredModel) => void; reject: (error: unknown) => void };

  /**
   * @param attempt one download attempt (e.g. `(signal) => store.download(source, { signal, onProgress })`)
   * @param discard deletes what the download stored (e.g. `() => store.delete(id)`)
   */
  constructor(
    private readonly attempt: (signal: AbortSource['signal']) => Promise<StoredModel>,
    private readonly discard: () => Promise<void>,
  ) {
    this.done = new Promise<StoredModel>((resolve, reject) => (this.settle = { resolve, reject }));
    // callers that only pause and cancel need not observe `done`
    this.done.catch(() => undefined);
    this.resume();
  }

  get state(): DownloadJobState {
    return this.jobState;
  }

  /** Starts another attempt after a pause; ignored otherwise (after a failure, start a new job: it resumes from the store too). */
  resume(): void {
    if (this.jobState !== 'paused') return;
    const source = createAbortSource();
    this.current = source;
    this.jobState = 'running';
    this.running = this.attempt(source.signal).then(
      (model) => {
        this.jobState = 'done';
        this.settle.resolve(model);
      },
      (error: unknown) => {
        if (this.current !== source || this.jobState !== 'running') return;
        if (source.signal.aborted) return;
        this.jobState = 'failed';
        this.settle.reject(error);
      },
    );
  }

  /** Stops the running attempt; stored parts stay. Resolves once the attempt has let go of the store. */
  async pause(): Promise<void> {
    if (this.jobState !== 'running') return;
    this.jobState = 'paused';
    this.current?.abort(new SdError('cancelled', 'The download was paused. Resume it to continue where it stopped.'));
    await this.running;
  }

  /** Stops the download and deletes what it stored. */
  async cancel(): Promise<void> {
    if (this.jobState === 'done' || this.jobState === 'cancelled') return;
    const wasRunning = this.jobState === 'running';
    this.jobState = 'cancelled';
    if (wasRunning) this.current?.abort(new SdError('cancelled', 'The download was cancelled.'));
    await this.running;
    await this.discard();
    this.settle.reject(new SdError('cancelled', 'The download was cancelled and its stored parts were deleted.'));
  }
}
