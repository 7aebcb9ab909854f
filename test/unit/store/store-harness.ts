import 'fake-indexeddb/auto';
import { expect } from 'vitest';
import { createMemoryKeyValueStore } from '../../../src/core/store/memory-kv.ts';
import { ModelStore, type ModelStoreOptions } from '../../../src/core/store/model-store.ts';
import type { KeyValueStore } from '../../../src/core/store/platform.ts';
import type { StoredModel } from '../../../src/core/store/stored-model.ts';
import { platformFetch } from '../../../src/platform/store/browser-platform.ts';
import { createIdbKeyValueStore } from '../../../src/platform/store/idb-kv.ts';
import type { ModelServer } from './model-server.ts';

/** Small chunks, so the fixture files (0.1–2.8 MB) span several and the chunk/resume paths run. */
export const TEST_CHUNK_BYTES = 256 * 1024;

export type KvKind = 'indexeddb' | 'memory';

let databases = 0;

/** A fresh key-value store: IndexedDB (fake-indexeddb through the idb-keyval adapter) or in memory. */
export function createKv(kind: KvKind): KeyValueStore {
  return kind === 'indexeddb'
    ? createIdbKeyValueStore(`sd-model-store-test-${++databases}`)
    : createMemoryKeyValueStore();
}

/** A store over Node's fetch and Blob with test-sized chunks and fast retries. */
export function createTestStore(kv: KeyValueStore, options: Partial<ModelStoreOptions> = {}): ModelStore {
  return new ModelStore({
    fetch: platformFetch,
    kv,
    createBlob: (parts) => new Blob(parts as BlobPart[]),
    chunkBytes: TEST_CHUNK_BYTES,
    retry: { baseDelayMs: 1, maxDelayMs: 4 },
    ...options,
  });
}

/** Sum of the sizes of a fixture model's files. */
export function modelBytes(server: ModelServer, model: string): number {
  return [...server.files(model).values()].reduce((n, f) => n + f.bytes.length, 0);
}

/** Every file of the fixture model is stored with exactly its bytes, both as bytes and as a Blob. */
export async function expectExactCopy(stored: StoredModel, server: ModelServer, model: string): Promise<void> {
  const fixture = server.files(model);
  expect(stored.paths().sort()).toEqual([...fixture.keys()].sort());
  for (const [path, file] of fixture) {
    const bytes = await stored.readBytes(path);
    expect(bytes.length, path).toBe(file.bytes.length);
    expect(Buffer.from(bytes).equals(file.bytes), `${path} differs from the fixture`).toBe(true);
    const blob = await stored.readBlob(path);
    expect(Buffer.from(await blob.arrayBuffer()).equals(file.bytes), `${path} as a Blob`).toBe(true);
  }
}

/** A hub source on the test server. */
export function hubSource(
  server: ModelServer,
  model: string,
): { kind: 'hub'; endpoint: string; repo: string; revision: string; subfolder: string } {
  return { kind: 'hub', endpoint: server.baseUrl, repo: `test/${model}`, revision: 'main', subfolder: '' };
}

/** A static-folder source on the test server (`/static/` plain, `/manifest/` with a manifest). */
export function urlSource(
  server: ModelServer,
  mount: 'static' | 'manifest',
  model: string,
): { kind: 'url'; baseUrl: string } {
  return { kind: 'url', baseUrl: `${server.baseUrl}/${mount}/${model}/` };
}
