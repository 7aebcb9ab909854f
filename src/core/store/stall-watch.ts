import { createAbortSource, type AbortSource } from './abort.ts';
import { TransientError } from './http.ts';
import type { AbortSignalLike } from './platform.ts';

type TimerHost = {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

/** `setTimeout` and `clearTimeout` exist in browsers, workers and Node but not in lib ES2022. */
const timers = globalThis as unknown as TimerHost;

/** The host part of an absolute URL ("huggingface.co", "127.0.0.1:8080"), for messages. */
export function hostOf(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(url)?.[1] ?? url;
}

/** "30 s", "1.5 s", "0.2 s": a stall timeout as the messages name it. */
export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : Number(seconds.toFixed(1))} s`;
}

/** A connection that delivered no bytes for the stall timeout: retried like a cut connection. */
export class StallError extends TransientError {
  constructor(
    readonly host: string,
    readonly timeoutMs: number,
  ) {
    super(`no data from ${host} for ${formatSeconds(timeoutMs)}.`);
    this.name = 'StallError';
  }
}

/**
 * Watches one request for silence: its {@link signal} fires when the caller's signal does, or when
 * no byte arrived for `timeoutMs` (from the start of the request, or since the last {@link touch}).
 * Passing that signal to `fetch` closes the silent connection; {@link stallError} then says why.
 * Time the caller spends on its own work (storing a chunk) does not count: {@link suspend} first.
 */
export class StallWatch {
  private readonly source: AbortSource = createAbortSource();
  private timer: unknown;
  private isStopped = false;
  private stalled: StallError | undefined;
  private readonly onOuterAbort = (): void => this.source.abort(this.outer?.reason);

  constructor(
    private readonly timeoutMs: number,
    private readonly host: string,
    private readonly outer?: AbortSignalLike,
  ) {
    if (outer?.aborted) this.source.abort(outer.reason);
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.touch();
  }

  /** Fires on the caller's abort or on a stall. */
  get signal(): AbortSignalLike {
    return this.source.signal;
  }

  /** Set once the watch fired for silence (not for the caller's abort). */
  get stallError(): StallError | undefined {
    return this.stalled;
  }

  /** Bytes arrived: the silence starts again from now. */
  touch(): void {
    this.suspend();
    if (this.isStopped || this.source.signal.aborted || !(this.timeoutMs > 0) || !Number.isFinite(this.timeoutMs))
      return;
    this.timer = timers.setTimeout(() => {
      this.timer = undefined;
      this.stalled = new StallError(this.host, this.timeoutMs);
      this.source.abort(this.stalled);
    }, this.timeoutMs);
  }

  /** Stops counting until the next {@link touch}. */
  suspend(): void {
    if (this.timer !== undefined) timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Ends the watch (the request is over): no timer stays behind. */
  stop(): void {
    this.isStopped = true;
    this.suspend();
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}
