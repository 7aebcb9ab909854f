import { createStore, del, get, keys, set } from 'idb-keyval';
import type { KeyValueStore, StoreKey } from '../../core/store/platform.ts';

/** IndexedDB database of the model store (its own, so clearing it never touches other data). */
export const MODEL_STORE_DB = 'sd-model-store';

/**
 * The model store's {@link KeyValueStore} in IndexedDB through idb-keyval: one value per key, each
 * written in its own transaction (several large Blobs in one `setMany` fail in Chrome). Works in
 * Node over fake-indexeddb.
 */
export function createIdbKeyValueStore(databaseName = MODEL_STORE_DB, storeName = 'entries'): KeyValueStore {
  const store = createStore(databaseName, storeName);
  return {
    get: (key) => get([...key], store),
    set: (key, value) => set([...key], value, store),
    del: (key) => del([...key], store),
    keys: async () =>
      (await keys<IDBValidKey>(store)).filter((k): k is (string | number)[] => Array.isArray(k)) as StoreKey[],
  };
}
