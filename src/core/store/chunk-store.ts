import { SdError } from '../errors.ts';
import {
  chunkCount,
  chunkKey,
  fileKey,
  KEY_CHUNK,
  KEY_FILE,
  KEY_MODEL,
  modelKey,
  type FileRecord,
  type ModelRecord,
} from './records.ts';
import type { BlobLike } from '../io/blob-like.ts';
import type { BlobFactory, KeyValueStore, StoreKey } from './platform.ts';

/** Keys of the store grouped by model and file: which chunks exist, without reading any. */
export interface StoreInventory {
  models: Set<string>;
  /** modelId → path → chunk indexes present. */
  chunks: Map<string, Map<string, Set<number>>>;
  /** Every key, for deletion. */
  all: StoreKey[];
}

/** Chunks a record accounts for: all of a complete file, the stored ones and the pending one of a partial file. */
function chunksWritten(record: FileRecord | undefined): number {
  if (!record) return 0;
  if (record.state === 'complete') return chunkCount(record.sizeBytes ?? 0, record.chunkBytes);
  return record.storedChunks + (record.partialBytes > 0 ? 1 : 0);
}

function isQuotaError(e: unknown): boolean {
  const name = typeof e === 'object' && e !== null ? (e as { name?: unknown }).name : undefined;
  return name === 'QuotaExceededError' || (e instanceof SdError && e.code === 'quota');
}

/**
 * The store's records and chunks over a {@link KeyValueStore}. Each chunk is one Blob under
 * its own key (never several in one write: large multi-value writes fail in Chrome), at most
 * `chunkBytes` long, so no single value comes near Chrome's ~127 MiB structured-clone limit.
 */
export class ChunkStore {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly createBlob: BlobFactory,
  ) {}

  async getModel(modelId: string): Promise<ModelRecord | undefined> {
    return (await this.kv.get(modelKey(modelId))) as ModelRecord | undefined;
  }

  putModel(record: ModelRecord): Promise<void> {
    return this.write(modelKey(record.id), record, `the record of model ${record.label}`);
  }

  async getFile(modelId: string, path: string): Promise<FileRecord | undefined> {
    return (await this.kv.get(fileKey(modelId, path))) as FileRecord | undefined;
  }

  putFile(modelId: string, record: FileRecord): Promise<void> {
    return this.write(fileKey(modelId, record.spec.path), record, `the record of ${record.spec.path}`);
  }

  putChunk(modelId: string, path: string, index: number, bytes: Uint8Array | BlobLike): Promise<void> {
    return this.write(chunkKey(modelId, path, index), this.createBlob([bytes]), `part ${index + 1} of ${path}`);
  }

  async getChunk(modelId: string, path: string, index: number): Promise<BlobLike | undefined> {
    return (await this.kv.get(chunkKey(modelId, path, index))) as BlobLike | undefined;
  }

  async readChunk(modelId: string, path: string, index: number): Promise<Uint8Array | undefined> {
    const blob = await this.getChunk(modelId, path, index);
    return blob ? new Uint8Array(await blob.arrayBuffer()) : undefined;
  }

  deleteChunk(modelId: string, path: string, index: number): Promise<void> {
    return this.kv.del(chunkKey(modelId, path, index));
  }

  /** Deletes the file's record and every chunk of it that `inventory` lists or `record` counts. */
  async deleteFile(modelId: string, path: string, inventory: StoreInventory, record?: FileRecord): Promise<void> {
    const indexes = new Set(inventory.chunks.get(modelId)?.get(path));
    for (let i = 0; i < chunksWritten(record); i++) indexes.add(i);
    for (const index of indexes) await this.deleteChunk(modelId, path, index);
    inventory.chunks.get(modelId)?.delete(path);
    await this.kv.del(fileKey(modelId, path));
  }

  /** Lists the keys once and groups them; cheap (no values are read). */
  async inventory(): Promise<StoreInventory> {
    const inventory: StoreInventory = { models: new Set(), chunks: new Map(), all: [] };
    for (const key of await this.kv.keys()) {
      const [kind, modelId, path, index] = key;
      if (typeof modelId !== 'string') continue;
      if (kind === KEY_MODEL) inventory.models.add(modelId);
      else if (kind === KEY_CHUNK && typeof path === 'string' && typeof index === 'number') {
        let files = inventory.chunks.get(modelId);
        if (!files) inventory.chunks.set(modelId, (files = new Map()));
        let indexes = files.get(path);
        if (!indexes) files.set(path, (indexes = new Set()));
        indexes.add(index);
      } else if (kind !== KEY_FILE) continue;
      inventory.all.push(key);
    }
    return inventory;
  }

  /** Deletes every key of one model (all of the store's models when `modelId` is undefined). */
  async deleteModel(modelId: string | undefined): Promise<void> {
    const { all } = await this.inventory();
    // the model record goes first, so an interrupted delete never leaves a model listed without its files
    const isModelRecord = (k: StoreKey): number => (k[0] === KEY_MODEL ? 0 : 1);
    for (const key of all.sort((a, b) => isModelRecord(a) - isModelRecord(b))) {
      if (modelId === undefined || key[1] === modelId) await this.kv.del(key);
    }
  }

  private async write(key: StoreKey, value: unknown, what: string): Promise<void> {
    try {
      await this.kv.set(key, value);
    } catch (cause) {
      if (isQuotaError(cause)) {
        throw new SdError(
          'quota',
          `The browser refused to store ${what}: its storage quota for this site is used up. Delete stored models you no longer need (or other sites' data), then resume the download.`,
          { cause },
        );
      }
      throw new SdError(
        'internal',
        `Could not write ${what} to the model store (${String(cause)}). Private windows and some browsers block IndexedDB; try a normal window.`,
        { cause },
      );
    }
  }
}
