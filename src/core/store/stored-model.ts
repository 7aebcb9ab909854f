import { strFromU8 } from 'fflate';
import { SdError } from '../errors.ts';
import type { BlobModelFiles } from './blob-model-files.ts';
import type { ChunkStore } from './chunk-store.ts';
import type { BlobLike } from '../io/blob-like.ts';
import type { BlobFactory } from './platform.ts';
import { chunkCount, type FileRecord, type ModelRecord } from './records.ts';

/**
 * A model in the store, read as a model folder: `loadModel` opens it like any other
 * {@link BlobModelFiles}. Made by `ModelStore.open`, which first checks that every chunk is there.
 */
export class StoredModel implements BlobModelFiles {
  readonly id: string;
  readonly label: string;

  constructor(
    private readonly chunks: ChunkStore,
    private readonly createBlob: BlobFactory,
    readonly record: ModelRecord,
    private readonly files: ReadonlyMap<string, FileRecord>,
  ) {
    this.id = record.id;
    this.label = record.label;
  }

  /** Total size of the stored files in bytes. */
  get sizeBytes(): number {
    let total = 0;
    for (const f of this.files.values()) total += f.sizeBytes ?? 0;
    return total;
  }

  /** Paths of the stored files. */
  paths(): string[] {
    return [...this.files.keys()];
  }

  async exists(path: string): Promise<boolean> {
    return this.files.get(path)?.state === 'complete';
  }

  async readText(path: string): Promise<string> {
    return strFromU8(await this.readBytes(path));
  }

  /** The whole file as one buffer (ONNX Runtime takes a graph as contiguous bytes); chunks are copied in one by one. */
  async readBytes(path: string): Promise<Uint8Array> {
    const record = this.fileRecord(path);
    const out = new Uint8Array(record.sizeBytes ?? 0);
    let offset = 0;
    for (let i = 0; i < chunkCount(out.length, record.chunkBytes); i++) {
      const bytes = new Uint8Array(await (await this.chunk(path, i)).arrayBuffer());
      out.set(bytes, offset);
      offset += bytes.length;
    }
    return out;
  }

  /** The file as one Blob over its chunk Blobs (no bytes are read or copied here). */
  async readBlob(path: string): Promise<BlobLike> {
    const record = this.fileRecord(path);
    const parts: BlobLike[] = [];
    for (let i = 0; i < chunkCount(record.sizeBytes ?? 0, record.chunkBytes); i++)
      parts.push(await this.chunk(path, i));
    return this.createBlob(parts);
  }

  private fileRecord(path: string): FileRecord {
    const record = this.files.get(path);
    if (record?.state !== 'complete') {
      throw new SdError(
        'missing-file',
        `${this.label} has no ${path} in the store${record ? ' (its download is incomplete)' : ''}. Download the model again to complete it.`,
      );
    }
    return record;
  }

  private async chunk(path: string, index: number): Promise<BlobLike> {
    const blob = await this.chunks.getChunk(this.id, path, index);
    if (!blob) {
      throw new SdError(
        'missing-file',
        `Part ${index + 1} of ${path} of ${this.label} is gone from the store (the browser evicted it). Open the model again while online: only the missing parts are fetched.`,
      );
    }
    return blob;
  }
}
