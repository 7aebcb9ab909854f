import { SdError } from '../errors.ts';
import type { AbortSignalLike } from './platform.ts';

/** A signal and the function that fires it, made without the DOM's AbortController. */
export interface AbortSource {
  readonly signal: AbortSignalLike;
  abort(reason?: unknown): void;
}

export function createAbortSource(): AbortSource {
  const listeners = new Set<() => void>();
  const state: { aborted: boolean; reason?: unknown } = { aborted: false };
  const signal: AbortSignalLike = {
    get aborted() {
      return state.aborted;
    },
    get reason() {
      return state.reason;
    },
    addEventListener(_type, listener) {
      listeners.add(listener);
    },
    removeEventListener(_type, listener) {
      listeners.delete(listener);
    },
  };
  return {
    signal,
    abort(reason) {
      if (state.aborted) return;
      state.aborted = true;
      state.reason = reason;
      for (const listener of [...listeners]) listener();
      listeners.clear();
    },
  };
}

/** The error an aborted download rejects with: what stopped, and that stored parts are kept. */
export function cancelledError(what: string, signal: AbortSignalLike): SdError {
  const reason = signal.reason;
  if (reason instanceof SdError) return reason;
  return new SdError('cancelled', `${what} was stopped. The parts already stored are kept: start it again to resume.`, {
    cause: reason,
  });
}

export function throwIfAborted(signal: AbortSignalLike | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(what, signal);
}

/**
 * Settles like `promise`, or rejects with {@link cancelledError} as soon as `signal` fires. The
 * loser is not cancelled here; `onLateValue` receives a value that arrives after the abort (e.g.
 * to cancel the body of a response nobody reads).
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignalLike | undefined,
  what: string,
  onLateValue?: (value: T) => void,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    // the operation already started: its outcome must still be observed, or a rejection goes unhandled
    promise.then(
      (value) => onLateValue?.(value),
      () => undefined,
    );
    return Promise.reject(cancelledError(what, signal));
  }
  return new Promise<T>((resolve, reject) => {
    let isSettled = false;
    const onAbort = (): void => {
      if (isSettled) return;
      isSettled = true;
      reject(cancelledError(what, signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (isSettled) onLateValue?.(value);
        else {
          isSettled = true;
          resolve(value);
        }
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!isSettled) {
          isSettled = true;
          reject(error);
        }
      },
    );
  });
}

type TimerHost = { setTimeout(callback: () => void, ms: number): unknown };

/** setTimeout as a promise; `setTimeout` exists in browsers, workers and Node but not in lib ES2022. */
export function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => (globalThis as unknown as TimerHost).setTimeout(resolve, ms));
}
