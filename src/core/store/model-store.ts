import { SdError } from '../errors.ts';
import { defaultSleep } from './abort.ts';
import type { ConvertedStore } from '../models/component-weights.ts';
import { ChunkStore } from './chunk-store.ts';
import { isConvertedPath, storeConvertedFiles } from './converted-files.ts';
import { DownloadJob } from './download-job.ts';
import { downloadFile, type FileDownloadContext } from './file-download.ts';
import { importFile } from './file-import.ts';
import type { BlobLike } from '../io/blob-like.ts';
import { planLocalModel, type LocalFileEntry } from './local-source.ts';
import { fileLockName, createLocalLocks } from './locks.ts';
import { planRemoteModel, type ModelPlan } from './model-plan.ts';
import { modelIdOf, type ModelSourceDescriptor } from './model-source.ts';
import type { AbortSignalLike, LockManagerLike, StorePlatform } from './platform.ts';
import { ProgressTracker, type StoreProgressCallback } from './progress.ts';
import { checkQuota, requestPersistence } from './quota.ts';
import { chunkCount, KEY_FILE, sameSpec, storedBytes, type FileRecord, type ModelRecord } from './records.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
import { StoredModel } from './stored-model.ts';

/** Store id of the converted weights of a model read in place from the user's files (one at a time, never listed). */
export const SCRATCH_MODEL_ID = 'scratch:converted';

/** Largest stored chunk: well under Chrome's ~127 MiB limit for one IndexedDB value. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;

export interface ModelStoreOptions extends StorePlatform {
  /** Bytes per stored chunk (default and maximum {@link DEFAULT_CHUNK_BYTES}; tests use small ones). */
  chunkBytes?: number;
  retry?: Partial<RetryPolicy>;
  /** Least time between two progress reports (default 200 ms). */
  progressIntervalMs?: number;
  /** Times a file that arrives with a wrong size or hash is fetched again before failing (default 2). */
  maxIntegrityRetries?: number;
}

export interface DownloadOptions {
  /** Aborting pauses: what is stored stays, and the next download or open continues from there. */
  signal?: AbortSignalLike;
  onProgress?: StoreProgressCallback;
}

export interface OpenOptions extends DownloadOptions {
  /** Fetch chunks the browser evicted (default true); false: fail with 'missing-file' instead. */
  repair?: boolean;
}

/** A model in the store, for the list shown to people. Sizes in bytes. */
export interface StoredModelInfo {
  id: string;
  label: string;
  source: ModelSourceDescriptor;
  fileCount: number;
  /** Downloaded files plus converted weights. */
  sizeBytes: number;
  storedBytes: number;
  /** Of which converted weights (float32 copies of float16 ones, made at load), kept so reloads skip converting. */
  convertedBytes: number;
  isComplete: boolean;
  updatedAtMs: number;
}

/** Storage used by the store, and the browser's view of the origin's storage (when it tells). */
export interface StoreUsage {
  models: StoredModelInfo[];
  storedBytes: number;
  usageBytes?: number;
  quotaBytes?: number;
}

/**
 * Models kept in a key-value store (IndexedDB in browsers): downloaded from Hugging Face or a static
 * host, or imported from a local folder; resumable, verified, and readable offline as
 * {@link StoredModel}. See platform.ts for what the host provides.
 */
export class ModelStore {
  private readonly chunks: ChunkStore;
  private readonly locks: LockManagerLike;
  private readonly chunkBytes: number;
  private readonly retry: RetryPolicy;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: ModelStoreOptions) {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > DEFAULT_CHUNK_BYTES) {
      throw new SdError(
        'bad-argument',
        `chunkBytes ${chunkBytes} is out of range: expected a whole number of bytes from 1 to ${DEFAULT_CHUNK_BYTES} (64 MiB).`,
      );
    }
    this.chunkBytes = chunkBytes;
    this.chunks = new ChunkStore(options.kv, options.createBlob);
    this.locks = options.locks ?? createLocalLocks();
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
  }

  /**
   * Downloads a model (or the rest of it) into the store and returns it opened. Lists the source
   * first, so it needs the network even when everything is stored: use {@link ensure} to open a
   * complete copy offline.
   */
  async download(source: ModelSourceDescriptor, options: DownloadOptions = {}): Promise<StoredModel> {
    if (source.kind === 'local') {
      throw new SdError(
        'bad-argument',
        `Model ${source.name} comes from a local folder: import it with importFolder (files cannot be downloaded from a local folder).`,
      );
    }
    const plan = await planRemoteModel(
      { fetch: this.options.fetch, retry: this.retry, sleep: this.sleep, ...signalOf(options) },
      source,
    );
    return this.fill(plan, options);
  }

  /** {@link download} as a job the page can pause, resume and cancel (cancel deletes what was stored). */
  startDownload(source: ModelSourceDescriptor, options: Omit<DownloadOptions, 'signal'> = {}): DownloadJob {
    return new DownloadJob(
      (signal) => this.download(source, { ...options, signal }),
      () => this.delete(modelIdOf(source)),
    );
  }

  /** Copies a picked or dropped folder into the store (hashing every file) and returns it opened. */
  async importFolder(
    entries: readonly LocalFileEntry[],
    name: string,
    options: DownloadOptions = {},
  ): Promise<StoredModel> {
    return this.fill(await planLocalModel(entries, name), options);
  }

  /**
   * Stores blobs at hand as one model of its own plan (no model layout is checked: the LoRA store
   * keeps single files this way), hashing each file; returns it opened.
   */
  async importBlobs(
    id: string,
    label: string,
    files: readonly { path: string; blob: BlobLike }[],
    options: DownloadOptions = {},
  ): Promise<StoredModel> {
    const source: ModelSourceDescriptor = { kind: 'local', name: label };
    const specs = files.map((f) => ({ path: f.path, sizeBytes: f.blob.size }));
    const blobs = new Map(files.map((f) => [f.path, f.blob]));
    return this.fill({ id, label, source, files: specs, fetched: [], blobs }, options);
  }

  /** The stored copy when it is complete (works offline), else a download of what is missing. */
  async ensure(source: ModelSourceDescriptor, options: OpenOptions = {}): Promise<StoredModel> {
    const record = await this.chunks.getModel(modelIdOf(source));
    return record?.isComplete ? this.open(record.id, options) : this.download(source, options);
  }

  /**
   * Opens a stored model. Checks that every chunk is still there (browsers may evict data of
   * sites without persistent storage) and fetches only the missing ones, from the URLs recorded
   * at download time.
   */
  async open(modelId: string, options: OpenOptions = {}): Promise<StoredModel> {
    const record = await this.chunks.getModel(modelId);
    if (!record)
      throw new SdError(
        'missing-file',
        `No model "${modelId}" in the store. Download it first (stored models: see the model list).`,
      );
    const { files, damaged } = await this.inspect(record);
    if (damaged.length === 0) return new StoredModel(this.chunks, this.options.createBlob, record, files);
    const what = `${record.label} is stored, but ${damaged.join(', ')} ${damaged.length === 1 ? 'is' : 'are'} incomplete (evicted by the browser or never finished)`;
    if (options.repair === false || record.source.kind === 'local') {
      const advice =
        record.source.kind === 'local'
          ? 'Import the folder again.'
          : 'Open it again while online to fetch only the missing parts.';
      throw new SdError('missing-file', `${what}. ${advice}`);
    }
    try {
      return await this.fill(
        { id: record.id, label: record.label, source: record.source, files: record.files, fetched: [] },
        options,
      );
    } catch (e) {
      if (e instanceof SdError && e.code === 'network')
        throw new SdError('network', `${what}, and fetching the missing parts failed: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /** Every model in the store, complete or not. */
  async list(): Promise<StoredModelInfo[]> {
    const inventory = await this.chunks.inventory();
    const infos: StoredModelInfo[] = [];
    for (const id of inventory.models) {
      const record = await this.chunks.getModel(id);
      if (!record) continue;
      const { files } = await this.inspect(record);
      let sizeBytes = 0;
      let stored = 0;
      for (const spec of record.files) {
        const file = files.get(spec.path);
        sizeBytes += spec.sizeBytes ?? file?.sizeBytes ?? 0;
        stored += storedBytes(file);
      }
      let convertedBytes = 0;
      for (const path of inventory.chunks.get(id)?.keys() ?? [])
        if (isConvertedPath(path)) convertedBytes += storedBytes(await this.chunks.getFile(id, path));
      const { label, source, isComplete, updatedAtMs } = record;
      infos.push({
        id,
        label,
        source,
        fileCount: record.files.length,
        sizeBytes: sizeBytes + convertedBytes,
        storedBytes: stored + convertedBytes,
        convertedBytes,
        isComplete,
        updatedAtMs,
      });
    }
    return infos.sort((a, b) => b.updatedAtMs - a.updatedAtMs);
  }

  async usage(): Promise<StoreUsage> {
    const models = await this.list();
    const usage: StoreUsage = { models, storedBytes: models.reduce((n, m) => n + m.storedBytes, 0) };
    const estimate = await this.options.storage?.estimate();
    if (estimate?.usage !== undefined) usage.usageBytes = estimate.usage;
    if (estimate?.quota !== undefined) usage.quotaBytes = estimate.quota;
    return usage;
  }

  /**
   * Where converted weights of `modelId` go: kept under the model (reused by the next load, deleted
   * with it, counted in its size). For a model read in place from picked files, pass
   * {@link SCRATCH_MODEL_ID}: nothing of it is listed, and it is emptied with {@link clearScratch}.
   */
  convertedFiles(modelId: string): ConvertedStore {
    return storeConvertedFiles(this.chunks, this.options.createBlob, modelId, this.chunkBytes, this.now);
  }

  /** Deletes the scratch converted weights (after a model read in place has created its sessions). */
  clearScratch(): Promise<void> {
    return this.chunks.deleteModel(SCRATCH_MODEL_ID);
  }

  /** Deletes one model, partial downloads included. */
  delete(modelId: string): Promise<void> {
    return this.chunks.deleteModel(modelId);
  }

  /** Deletes every model of the store. */
  clear(): Promise<void> {
    return this.chunks.deleteModel(undefined);
  }

  /** The model's file records, and the paths that are not complete with all their chunks. */
  private async inspect(record: ModelRecord): Promise<{ files: Map<string, FileRecord>; damaged: string[] }> {
    const inventory = await this.chunks.inventory();
    const files = new Map<string, FileRecord>();
    const damaged: string[] = [];
    for (const spec of record.files) {
      const file = await this.chunks.getFile(record.id, spec.path);
      if (file) files.set(spec.path, file);
      const present = inventory.chunks.get(record.id)?.get(spec.path);
      const count = file?.state === 'complete' ? chunkCount(file.sizeBytes ?? 0, file.chunkBytes) : -1;
      let isWhole = count >= 0;
      for (let i = 0; i < count && isWhole; i++) isWhole = present?.has(i) === true;
      if (!isWhole) damaged.push(spec.path);
    }
    return { files, damaged };
  }

  /** Stores every file of a plan that is not stored yet, under per-file locks; returns the model opened. */
  private async fill(plan: ModelPlan, options: DownloadOptions): Promise<StoredModel> {
    const tracker = new ProgressTracker(plan.id, this.now, options.onProgress, this.options.progressIntervalMs);
    const previous = await this.chunks.getModel(plan.id);
    const nowMs = this.now();
    const record: ModelRecord = {
      id: plan.id,
      label: plan.label,
      source: plan.source,
      files: plan.files,
      isComplete: false,
      createdAtMs: previous?.createdAtMs ?? nowMs,
      updatedAtMs: nowMs,
    };
    await this.chunks.putModel(record);
    let totalBytes = 0;
    let stored = 0;
    let filesDone = 0;
    for (const spec of plan.files) {
      const file = await this.chunks.getFile(plan.id, spec.path);
      const has = file && sameSpec(file.spec, spec) ? storedBytes(file) : 0;
      totalBytes += spec.sizeBytes ?? file?.sizeBytes ?? 0;
      stored += has;
      if (file?.state === 'complete' && has > 0) filesDone++;
    }
    const others = async (): Promise<{ label: string; sizeBytes: number }[]> =>
      (await this.list()).filter((m) => m.id !== plan.id).map((m) => ({ label: m.label, sizeBytes: m.storedBytes }));
    await checkQuota(this.options.storage, totalBytes - stored, plan.label, others);
    if (totalBytes > stored) await requestPersistence(this.options.storage);
    tracker.start(totalBytes, stored, plan.files.length, filesDone);
    const fetched = new Map(plan.fetched.map((f) => [f.spec.path, f.bytes]));
    for (const spec of plan.files) {
      const before = await this.chunks.getFile(plan.id, spec.path);
      tracker.startFile(
        spec.path,
        before && sameSpec(before.spec, spec) ? storedBytes(before) : 0,
        spec.sizeBytes ?? before?.sizeBytes ?? 0,
      );
      const done = await this.locks.request(fileLockName(plan.id, spec.path), signalOf(options), async () => {
        const ctx: FileDownloadContext = {
          fetch: this.options.fetch,
          sleep: this.sleep,
          retry: this.retry,
          ...signalOf(options),
          chunks: this.chunks,
          // listed inside the lock: another tab may have stored chunks while we waited
          inventory: await this.chunks.inventory(),
          now: this.now,
          onBytes: (delta) => tracker.add(delta),
        };
        if (this.options.maxIntegrityRetries !== undefined) ctx.maxIntegrityRetries = this.options.maxIntegrityRetries;
        const job = { modelId: plan.id, label: plan.label, spec, chunkBytes: this.chunkBytes };
        const data = fetched.get(spec.path) ?? plan.blobs?.get(spec.path);
        return data !== undefined ? importFile(ctx, job, data) : downloadFile(ctx, job);
      });
      tracker.finishFile(done.sizeBytes ?? 0);
    }
    await this.dropStaleFiles(plan);
    record.isComplete = true;
    record.updatedAtMs = this.now();
    await this.chunks.putModel(record);
    tracker.finish();
    const { files } = await this.inspect(record);
    return new StoredModel(this.chunks, this.options.createBlob, record, files);
  }

  /** Deletes files of an earlier version of the model that its source no longer lists. */
  private async dropStaleFiles(plan: ModelPlan): Promise<void> {
    const inventory = await this.chunks.inventory();
    const listed = new Set(plan.files.map((f) => f.path));
    const storedPaths = new Set(inventory.chunks.get(plan.id)?.keys());
    for (const key of inventory.all)
      if (key[0] === KEY_FILE && key[1] === plan.id && typeof key[2] === 'string') storedPaths.add(key[2]);
    for (const path of storedPaths)
      if (!listed.has(path))
        await this.chunks.deleteFile(plan.id, path, inventory, await this.chunks.getFile(plan.id, path));
  }
}

function signalOf(options: DownloadOptions): { signal?: AbortSignalLike } {
  return options.signal ? { signal: options.signal } : {};
}
