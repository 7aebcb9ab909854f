import type { BlobLike } from '../io/blob-like.ts';
import type { ConvertedStore } from '../models/component-weights.ts';
import type { ModelStore } from './model-store.ts';
import type { StoredModel } from './stored-model.ts';

/** A stored entry, as a panel lists it. Sizes in bytes. */
export interface StoredEntryInfo {
  name: string;
  /** The files as added, without converted weights. */
  sizeBytes: number;
  updatedAtMs: number;
}

/**
 * Files people add by name (LoRAs, ControlNets), kept in a {@link ModelStore} of their own (its own
 * IndexedDB database in browsers), each name as one stored entry `PREFIX:NAME` holding its files:
 * they survive reloads and open offline. Converted weights made at load go with the entry.
 */
export class NamedFileStore {
  constructor(
    private readonly store: ModelStore,
    private readonly prefix: string,
  ) {}

  /** Stores `files` under `name` (files checked by the caller), replacing an entry of the same name. */
  async put(name: string, files: readonly { path: string; blob: BlobLike }[]): Promise<StoredEntryInfo> {
    const id = this.prefix + name;
    await this.store.delete(id);
    const stored = await this.store.importBlobs(id, name, files);
    return { name, sizeBytes: stored.sizeBytes, updatedAtMs: stored.record.updatedAtMs };
  }

  /** The complete entries, by name. */
  async list(): Promise<StoredEntryInfo[]> {
    return (await this.store.list())
      .filter((m) => m.id.startsWith(this.prefix) && m.isComplete)
      .map((m) => ({ name: m.label, sizeBytes: m.sizeBytes - m.convertedBytes, updatedAtMs: m.updatedAtMs }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Opens the entry `name`; undefined when there is no complete one. */
  async open(name: string): Promise<StoredModel | undefined> {
    const id = this.prefix + name;
    if (!(await this.store.list()).some((m) => m.id === id && m.isComplete)) return undefined;
    return this.store.open(id, { repair: false });
  }

  /** Where weights of entry `name` converted at load are kept (deleted with the entry). */
  convertedFiles(name: string): ConvertedStore {
    return this.store.convertedFiles(this.prefix + name);
  }

  delete(name: string): Promise<void> {
    return this.store.delete(this.prefix + name);
  }
}
