import type { AbortSignalLike, HttpFetch, LockManagerLike, StorePlatform } from '../../core/store/platform.ts';
import { ModelStore, type ModelStoreOptions } from '../../core/store/model-store.ts';
import { createIdbKeyValueStore } from './idb-kv.ts';

/** A DOM AbortSignal that fires with `signal` (which may be the core's own minimal signal). */
function toDomSignal(signal: AbortSignalLike): AbortSignal {
  if (signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  return controller.signal;
}

/** The global `fetch` behind the core's {@link HttpFetch}; redirects are followed (the Hub sends large files to its CDN). */
export const platformFetch: HttpFetch = (url, init = {}) => {
  const request: RequestInit = { method: init.method ?? 'GET', redirect: 'follow' };
  if (init.headers) request.headers = init.headers;
  if (init.signal) request.signal = toDomSignal(init.signal);
  return fetch(url, request);
};

/** Web Locks (`navigator.locks`): shared by every tab of the origin. */
function webLocks(locks: LockManager): LockManagerLike {
  return {
    async request<T>(name: string, options: { signal?: AbortSignalLike }, callback: () => Promise<T>): Promise<T> {
      // the lock is held until the callback's promise settles; its value comes back unwrapped
      return (await locks.request(name, options.signal ? { signal: toDomSignal(options.signal) } : {}, () =>
        callback(),
      )) as T;
    },
  };
}

/**
 * What the model store needs, from a browser page or worker: fetch, Blob, IndexedDB (idb-keyval),
 * `navigator.storage` for quota and persistence, and `navigator.locks` when the browser has them.
 */
export function browserStorePlatform(): StorePlatform {
  const platform: StorePlatform = {
    fetch: platformFetch,
    kv: createIdbKeyValueStore(),
    createBlob: (parts) => new Blob(parts as BlobPart[]),
  };
  const nav = (globalThis as { navigator?: { storage?: StorageManager; locks?: LockManager } }).navigator;
  if (nav?.storage) platform.storage = nav.storage;
  if (nav?.locks) platform.locks = webLocks(nav.locks);
  return platform;
}

/** The model store of this origin (IndexedDB), with 64 MiB chunks unless `options` say otherwise. */
export function createBrowserModelStore(options: Partial<ModelStoreOptions> = {}): ModelStore {
  return new ModelStore({ ...browserStorePlatform(), ...options });
}
