import type { KeyValueStore, StoreKey } from './platform.ts';

/**
 * A {@link KeyValueStore} in memory: for Node (the CLI keeps nothing between runs) and as the
 * second implementation the store's tests run against. Values are kept as given (no cloning).
 */
export function createMemoryKeyValueStore(): KeyValueStore & { readonly size: number } {
  const entries = new Map<string, { key: StoreKey; value: unknown }>();
  const id = (key: StoreKey): string => JSON.stringify(key);
  return {
    get size() {
      return entries.size;
    },
    async get(key) {
      return entries.get(id(key))?.value;
    },
    async set(key, value) {
      entries.set(id(key), { key: [...key], value });
    },
    async del(key) {
      entries.delete(id(key));
    },
    async keys() {
      return [...entries.values()].map((e) => e.key);
    },
  };
}
