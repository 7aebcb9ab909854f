import { SdError } from '../errors.ts';
import type { ChunkStore, StoreInventory } from './chunk-store.ts';
import { describeMismatch, FileHasher } from './file-hasher.ts';
import type { FileJob } from './file-download.ts';
import type { BlobLike } from '../io/blob-like.ts';
import { chunkCount, freshRecord, sameSpec, type FileRecord } from './records.ts';

export interface ImportContext {
  chunks: ChunkStore;
  inventory: StoreInventory;
  now: () => number;
  onBytes: (delta: number) => void;
}

/**
 * Stores a file whose bytes are at hand (a picked local File, or a small file fetched while
 * planning) in chunks, hashing it on the way; a stored complete copy with all its chunks is kept.
 * Throws 'integrity' when the bytes do not match the file's spec.
 */
export async function importFile(ctx: ImportContext, job: FileJob, data: Uint8Array | BlobLike): Promise<FileRecord> {
  const { chunks, inventory } = ctx;
  const { modelId, spec } = job;
  const sizeBytes = data instanceof Uint8Array ? data.length : data.size;
  const existing = await chunks.getFile(modelId, spec.path);
  if (existing?.state === 'complete' && sameSpec(existing.spec, spec) && existing.sizeBytes === sizeBytes) {
    const present = inventory.chunks.get(modelId)?.get(spec.path);
    const count = chunkCount(sizeBytes, existing.chunkBytes);
    let isWhole = true;
    for (let i = 0; i < count; i++) isWhole &&= present?.has(i) === true;
    if (isWhole) return existing;
  }
  if (existing) await chunks.deleteFile(modelId, spec.path, inventory, existing);
  const record = freshRecord(spec, job.chunkBytes, ctx.now());
  record.sizeBytes = sizeBytes;
  const hasher = await FileHasher.create(spec.gitOid !== undefined ? sizeBytes : undefined);
  for (let i = 0; i < chunkCount(sizeBytes, record.chunkBytes); i++) {
    const start = i * record.chunkBytes;
    const end = Math.min(sizeBytes, start + record.chunkBytes);
    const bytes =
      data instanceof Uint8Array
        ? data.subarray(start, end)
        : new Uint8Array(await data.slice(start, end).arrayBuffer());
    hasher.update(bytes);
    await chunks.putChunk(modelId, spec.path, i, bytes);
    record.storedChunks = i + 1;
    ctx.onBytes(bytes.length);
  }
  const digest = hasher.digest();
  const problem = describeMismatch(spec, sizeBytes, digest);
  if (problem !== undefined) {
    await chunks.deleteFile(modelId, spec.path, inventory, record);
    throw new SdError(
      'integrity',
      `${spec.path} of ${job.label} has ${problem}; it was not stored. Check the file (or fetch the model again).`,
    );
  }
  record.state = 'complete';
  record.sha256 = digest.sha256;
  await chunks.putFile(modelId, record);
  return record;
}
