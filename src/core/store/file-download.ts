import { SdError } from '../errors.ts';
import type { ChunkStore, StoreInventory } from './chunk-store.ts';
import { describeMismatch, FileHasher, type FileDigest } from './file-hasher.ts';
import { RangeDownload, type RangeContext, type RangeRequest } from './range-download.ts';
import { chunkCount, freshRecord, sameSpec, storedBytes, type FileRecord, type FileSpec } from './records.ts';

export interface FileDownloadContext extends RangeContext {
  chunks: ChunkStore;
  /** The store's keys, listed once per download (which chunks exist). */
  inventory: StoreInventory;
  now: () => number;
  /** Bytes stored or discarded, for progress. */
  onBytes: (delta: number) => void;
  /** How often a file whose hash or size came out wrong is fetched again before failing (default 2). */
  maxIntegrityRetries?: number;
}

export interface FileJob {
  modelId: string;
  label: string;
  spec: FileSpec;
  /** Chunk size for a file not started yet; a started one keeps its own. */
  chunkBytes: number;
}

/** Indexes in `[0, count)` that `present` lacks. */
function missingIndexes(count: number, present: ReadonlySet<number> | undefined): number[] {
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!present?.has(i)) missing.push(i);
  return missing;
}

/**
 * Brings one file of a model into the store, complete and verified, fetching only what is not
 * there: a new file from its start, a partial one from its last stored chunk (and the bytes of the
 * next chunk kept on pause), a complete one only in the chunks the browser has evicted. A file
 * whose size or hash comes out wrong is discarded and fetched again. Returns its final record.
 * The caller holds the file's lock.
 */
export async function downloadFile(ctx: FileDownloadContext, job: FileJob): Promise<FileRecord> {
  const { chunks, inventory } = ctx;
  const { modelId, spec } = job;
  const present = (): ReadonlySet<number> | undefined => inventory.chunks.get(modelId)?.get(spec.path);
  let record = await chunks.getFile(modelId, spec.path);
  if (record && !sameSpec(record.spec, spec)) {
    // the source now lists another version of the file: what is stored belongs to the old one
    ctx.onBytes(-storedBytes(record));
    await chunks.deleteFile(modelId, spec.path, inventory, record);
    record = undefined;
  }
  record ??= freshRecord(spec, job.chunkBytes, ctx.now());
  record.spec = spec;
  if (record.state === 'complete') {
    const missing = missingIndexes(chunkCount(record.sizeBytes ?? 0, record.chunkBytes), present());
    if (missing.length === 0) return record;
    const { chunkBytes, sizeBytes = 0 } = record;
    ctx.onBytes(-missing.reduce((n, i) => n + Math.min(chunkBytes, sizeBytes - i * chunkBytes), 0));
    if (await repairChunks(ctx, job, record, missing)) return record;
    ctx.onBytes(-(record.sizeBytes ?? 0));
    await chunks.deleteFile(modelId, spec.path, inventory, record);
    record = freshRecord(spec, job.chunkBytes, ctx.now());
  }
  const maxIntegrityRetries = ctx.maxIntegrityRetries ?? 2;
  for (let integrityFailures = 0; ; integrityFailures++) {
    const result = await fetchRemainder(ctx, job, record, present());
    const problem = describeMismatch(spec, record.sizeBytes ?? 0, result);
    if (problem === undefined) {
      record.state = 'complete';
      record.sha256 = result.sha256;
      delete record.hashState;
      record.updatedAtMs = ctx.now();
      await chunks.putFile(modelId, record);
      return record;
    }
    ctx.onBytes(-(record.sizeBytes ?? 0));
    await chunks.deleteFile(modelId, spec.path, inventory, record);
    if (integrityFailures >= maxIntegrityRetries) {
      throw new SdError(
        'integrity',
        `${spec.path} of ${job.label} arrived with ${problem}, ${integrityFailures + 1} times; it was discarded. The file on the server differs from its listing (it may have changed, or a proxy alters it): start the download again, or delete the model and download it anew.`,
      );
    }
    record = freshRecord(spec, job.chunkBytes, ctx.now());
  }
}

/** Makes the hasher for a file whose first `storedChunks` chunks are stored. */
async function resumeHasher(ctx: FileDownloadContext, job: FileJob, record: FileRecord): Promise<FileHasher> {
  const gitSize = job.spec.gitOid !== undefined ? job.spec.sizeBytes : undefined;
  if (record.storedChunks > 0 && record.hashState) {
    const restored = await FileHasher.restore(record.hashState);
    if (restored) return restored;
  }
  const hasher = await FileHasher.create(gitSize);
  for (let i = 0; i < record.storedChunks; i++) {
    const bytes = await ctx.chunks.readChunk(job.modelId, job.spec.path, i);
    if (!bytes)
      throw new SdError(
        'missing-file',
        `Part ${i + 1} of ${job.spec.path} vanished from the store while resuming. Start the download again.`,
      );
    hasher.update(bytes);
  }
  return hasher;
}

/** Downloads a partial file from where it stopped to its end; returns its digest. */
async function fetchRemainder(
  ctx: FileDownloadContext,
  job: FileJob,
  record: FileRecord,
  present: ReadonlySet<number> | undefined,
): Promise<FileDigest> {
  const { chunks } = ctx;
  const { modelId, spec } = job;
  // chunks the browser evicted since they were stored end the usable prefix
  const firstMissing = missingIndexes(record.storedChunks, present)[0];
  if (firstMissing !== undefined) {
    ctx.onBytes(-((record.storedChunks - firstMissing) * record.chunkBytes + record.partialBytes));
    record.storedChunks = firstMissing;
    record.partialBytes = 0;
    delete record.hashState;
  }
  let head: Uint8Array | undefined;
  if (record.partialBytes > 0) {
    head = await chunks.readChunk(modelId, spec.path, record.storedChunks);
    if (!head) {
      ctx.onBytes(-record.partialBytes);
      record.partialBytes = 0;
    }
  }
  const hasher = await resumeHasher(ctx, job, record);
  const request: RangeRequest = {
    url: requireUrl(job),
    path: spec.path,
    label: job.label,
    chunkBytes: record.chunkBytes,
    chunkStart: record.storedChunks * record.chunkBytes,
  };
  if (head) request.head = head;
  if (record.sizeBytes !== undefined) request.sizeBytes = record.sizeBytes;
  const download = new RangeDownload(
    request,
    {
      async onChunk(index, bytes) {
        hasher.update(bytes);
        await chunks.putChunk(modelId, spec.path, index, bytes);
        record.storedChunks = index + 1;
        record.partialBytes = 0;
        record.hashState = hasher.save();
        record.updatedAtMs = ctx.now();
        await chunks.putFile(modelId, record);
      },
      onBytes: ctx.onBytes,
      onSize(sizeBytes) {
        record.sizeBytes = sizeBytes;
      },
    },
    ctx,
  );
  try {
    await download.run();
  } catch (error) {
    await keepPending(ctx, job, record, download);
    throw error;
  }
  record.sizeBytes ??= record.storedChunks * record.chunkBytes;
  return hasher.digest();
}

/** On pause or failure, stores the bytes of the unfinished chunk so a resume need not fetch them again. */
async function keepPending(
  ctx: FileDownloadContext,
  job: FileJob,
  record: FileRecord,
  download: RangeDownload,
): Promise<void> {
  const { chunkIndex, bytes } = download.pending();
  if (bytes.length === 0 || chunkIndex !== record.storedChunks) return;
  try {
    await ctx.chunks.putChunk(job.modelId, job.spec.path, chunkIndex, bytes);
    record.partialBytes = bytes.length;
    record.updatedAtMs = ctx.now();
    await ctx.chunks.putFile(job.modelId, record);
  } catch {
    // best effort (the store may be full, which is why we stopped): the resume then fetches these bytes again
  }
}

function requireUrl(job: FileJob): string {
  if (job.spec.url === undefined) {
    throw new SdError(
      'missing-file',
      `${job.spec.path} of ${job.label} is incomplete in the store and was imported from a local folder, so it cannot be downloaded. Import the folder again.`,
    );
  }
  return job.spec.url;
}

/**
 * Fetches the evicted chunks of a complete file, one bounded range per run of missing chunks, and
 * checks the whole file against its recorded SHA-256. False when the result does not match (the
 * caller then fetches the whole file again).
 */
async function repairChunks(
  ctx: FileDownloadContext,
  job: FileJob,
  record: FileRecord,
  missing: readonly number[],
): Promise<boolean> {
  const { modelId, spec } = job;
  const sizeBytes = record.sizeBytes ?? 0;
  for (let i = 0; i < missing.length;) {
    let j = i;
    while (missing[j + 1] === (missing[j] as number) + 1) j++;
    const first = missing[i] as number;
    const end = Math.min(((missing[j] as number) + 1) * record.chunkBytes, sizeBytes);
    const download = new RangeDownload(
      {
        url: requireUrl(job),
        path: spec.path,
        label: job.label,
        chunkBytes: record.chunkBytes,
        chunkStart: first * record.chunkBytes,
        end,
        sizeBytes,
      },
      { onChunk: (index, bytes) => ctx.chunks.putChunk(modelId, spec.path, index, bytes), onBytes: ctx.onBytes },
      ctx,
    );
    await download.run();
    i = j + 1;
  }
  const hasher = await FileHasher.create();
  for (let i = 0; i < chunkCount(sizeBytes, record.chunkBytes); i++) {
    const bytes = await ctx.chunks.readChunk(modelId, spec.path, i);
    if (!bytes) return false;
    hasher.update(bytes);
  }
  return hasher.digest().sha256 === record.sha256;
}
