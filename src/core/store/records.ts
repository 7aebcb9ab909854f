import type { ModelSourceDescriptor } from './model-source.ts';
import type { StoreKey } from './platform.ts';

/** One file of a model: where it comes from and what it must be. */
export interface FileSpec {
  /** Relative to the model root, forward slashes: "unet/model.onnx". */
  path: string;
  /** Download URL; absent for files imported from a local folder. */
  url?: string;
  /** Expected size in bytes, when the listing, manifest or a probe told it. */
  sizeBytes?: number;
  /** Expected SHA-256, lower-case hex (Hugging Face LFS files, manifests). */
  sha256?: string;
  /** Expected git blob id (SHA-1 of "blob {size}\0" + content): Hugging Face files outside LFS. */
  gitOid?: string;
}

/** Saved hasher states after the chunks stored so far (hash-wasm `save()`), so a resume need not re-read them. */
export interface HashState {
  sha256: Uint8Array;
  gitSha1?: Uint8Array;
}

/**
 * What the store knows about one file. Chunk `i` holds bytes `[i * chunkBytes, (i + 1) * chunkBytes)`.
 * While `state` is "partial", chunks `0 .. storedChunks-1` are complete and hashed, and chunk
 * `storedChunks` may hold the first `partialBytes` bytes of the next chunk (saved on pause).
 */
export interface FileRecord {
  spec: FileSpec;
  chunkBytes: number;
  state: 'partial' | 'complete';
  storedChunks: number;
  partialBytes: number;
  hashState?: HashState;
  /** Size in bytes once known (from the spec or the server); final once complete. */
  sizeBytes?: number;
  /** SHA-256 of the stored bytes (hex), set when complete. */
  sha256?: string;
  updatedAtMs: number;
}

/** What the store knows about one model: its source and the files it consists of. */
export interface ModelRecord {
  id: string;
  /** For people: repository id, URL or folder name. */
  label: string;
  source: ModelSourceDescriptor;
  files: FileSpec[];
  /** Every file stored and verified (chunks may still have been evicted since: see `open`). */
  isComplete: boolean;
  createdAtMs: number;
  updatedAtMs: number;
}

/** Whether two listings describe the same content (URLs may differ, e.g. another endpoint). */
export function sameSpec(a: FileSpec, b: FileSpec): boolean {
  return a.sizeBytes === b.sizeBytes && a.sha256 === b.sha256 && a.gitOid === b.gitOid;
}

/** The record of a file nothing of which is stored yet. */
export function freshRecord(spec: FileSpec, chunkBytes: number, nowMs: number): FileRecord {
  const record: FileRecord = {
    spec,
    chunkBytes,
    state: 'partial',
    storedChunks: 0,
    partialBytes: 0,
    updatedAtMs: nowMs,
  };
  if (spec.sizeBytes !== undefined) record.sizeBytes = spec.sizeBytes;
  return record;
}

/** Number of chunks of a file of `sizeBytes` bytes. */
export function chunkCount(sizeBytes: number, chunkBytes: number): number {
  return Math.ceil(sizeBytes / chunkBytes);
}

/** Bytes of a partial or complete file already in the store. */
export function storedBytes(record: FileRecord | undefined): number {
  if (!record) return 0;
  if (record.state === 'complete') return record.sizeBytes ?? 0;
  return record.storedChunks * record.chunkBytes + record.partialBytes;
}

export const KEY_MODEL = 'model';
export const KEY_FILE = 'file';
export const KEY_CHUNK = 'chunk';

export const modelKey = (modelId: string): StoreKey => [KEY_MODEL, modelId];
export const fileKey = (modelId: string, path: string): StoreKey => [KEY_FILE, modelId, path];
export const chunkKey = (modelId: string, path: string, index: number): StoreKey => [KEY_CHUNK, modelId, path, index];
