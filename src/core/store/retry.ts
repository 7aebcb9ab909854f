import { SdError } from '../errors.ts';
import { raceAbort, throwIfAborted } from './abort.ts';
import type { AbortSignalLike } from './platform.ts';

/** How often and how patiently failed requests are repeated. */
export interface RetryPolicy {
  /** Attempts after the first one that made no progress, before giving up (default 5). */
  maxRetries: number;
  /** Wait before the first retry, doubled after each further one (default 1000 ms). */
  baseDelayMs: number;
  /** Longest wait between attempts (default 30 s). */
  maxDelayMs: number;
  /**
   * A file download whose connection delivers no bytes for this long (headers included) is closed
   * and counts as a failed attempt ({@link DEFAULT_STALL_TIMEOUT_MS} when absent; 0 or Infinity: never).
   */
  stallTimeoutMs?: number;
}

/** How long a download connection may stay silent before it is closed and tried again. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export const DEFAULT_RETRY: RetryPolicy = {
  maxRetries: 5,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  stallTimeoutMs: DEFAULT_STALL_TIMEOUT_MS,
};

/** Wait before retry number `attempt` (1-based): exponential, capped, with ±25% jitter so tabs do not retry in step. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.75 + 0.5 * random()));
}

export interface RetryContext {
  retry: RetryPolicy;
  sleep: (ms: number) => Promise<void>;
  signal?: AbortSignalLike;
}

/**
 * Runs `attempt` until it succeeds, repeating it after a backoff when it fails with a
 * {@link TransientError} or a network error (anything but an SdError); after the last retry
 * rejects with SdError('network') saying what failed. For small requests (listings, probes);
 * file downloads resume instead of repeating (see RangeDownload).
 */
export async function withRetries<T>(ctx: RetryContext, what: string, attempt: () => Promise<T>): Promise<T> {
  for (let failures = 1; ; failures++) {
    throwIfAborted(ctx.signal, what);
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof SdError) throw error;
      if (failures > ctx.retry.maxRetries) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new SdError(
          'network',
          `${what} failed ${failures} times (last: ${reason}). Check the connection and try again.`,
          { cause: error },
        );
      }
      await raceAbort(ctx.sleep(backoffMs(ctx.retry, failures)), ctx.signal, what);
    }
  }
}
