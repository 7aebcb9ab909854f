import type { AbortSignalLike, LockManagerLike } from './platform.ts';

/**
 * Exclusive locks by name within this process, for hosts without Web Locks (Node, old browsers):
 * callers of the same name run one after another, in call order.
 */
export function createLocalLocks(): LockManagerLike {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async request<T>(name: string, _options: { signal?: AbortSignalLike }, callback: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(callback, callback);
      const tail = run.catch(() => undefined);
      tails.set(name, tail);
      try {
        return await run;
      } finally {
        if (tails.get(name) === tail) tails.delete(name);
      }
    },
  };
}

/** Lock name of one file of one model; the same in every tab, so two tabs never fetch a file together. */
export function fileLockName(modelId: string, path: string): string {
  return `sd-model-store:${modelId}:${path}`;
}
