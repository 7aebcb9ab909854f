import type { BlobLike } from '../io/blob-like.ts';

/**
 * What the model store needs from its host, declared here so the core stays free of DOM and Node
 * types (it is checked against lib ES2022 only). Browsers pass `fetch`, `Blob`, IndexedDB (through
 * idb-keyval), `navigator.storage` and `navigator.locks` (see src/platform/store/); Node tests pass
 * fake-indexeddb, Node's own `fetch` and `Blob`, and fakes for the rest.
 */

/** A key of the key-value store: a tuple, so model ids and paths never need escaping. */
export type StoreKey = readonly (string | number)[];

/**
 * An asynchronous key-value store holding structured-clone values (plain objects, Uint8Array,
 * Blob). IndexedDB through idb-keyval in browsers; {@link createMemoryKeyValueStore} for tests.
 */
export interface KeyValueStore {
  get(key: StoreKey): Promise<unknown>;
  set(key: StoreKey, value: unknown): Promise<void>;
  del(key: StoreKey): Promise<void>;
  keys(): Promise<StoreKey[]>;
}

/** `(parts) => new Blob(parts)`: builds a Blob from bytes and other Blobs (referenced, not copied). */
export type BlobFactory = (parts: readonly (Uint8Array | BlobLike)[]) => BlobLike;

/** `navigator.storage` (StorageManager), as far as the store uses it. Sizes in bytes. */
export interface StorageManagerLike {
  estimate(): Promise<{ usage?: number; quota?: number }>;
  /** Asks the browser not to evict this origin's data under storage pressure. */
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

/**
 * `navigator.locks` (Web Locks), as far as the store uses it: an exclusive lock by name, held
 * while `callback` runs, shared by every tab of the origin.
 */
export interface LockManagerLike {
  request<T>(name: string, options: { signal?: AbortSignalLike }, callback: () => Promise<T>): Promise<T>;
}

/** The part of `AbortSignal` the store uses; a DOM AbortSignal satisfies it. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Response headers, read by name (case-insensitive). */
export interface HttpHeaders {
  get(name: string): string | null;
}

/** A reader of a response body stream. */
export interface HttpBodyReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** The part of a fetch `Response` the store reads. */
export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: HttpHeaders;
  readonly body: { getReader(): HttpBodyReader } | null;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface HttpRequestInit {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  signal?: AbortSignalLike;
}

/** `fetch`, following redirects; rejects only on network failure (as fetch does). */
export type HttpFetch = (url: string, init?: HttpRequestInit) => Promise<HttpResponse>;

/** Everything the store needs from its host. */
export interface StorePlatform {
  fetch: HttpFetch;
  kv: KeyValueStore;
  createBlob: BlobFactory;
  /** Absent: no quota check and no persistence request. */
  storage?: StorageManagerLike;
  /** Absent: an in-process lock (enough for one tab or one Node process). */
  locks?: LockManagerLike;
  /** Wall clock in ms (Date.now by default). */
  now?: () => number;
  /** Waits `ms` milliseconds (setTimeout by default); used between retries. */
  sleep?: (ms: number) => Promise<void>;
}
