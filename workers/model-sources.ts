import { SdError } from '../src/core/errors.ts';
import type { ConvertedStore } from '../src/core/models/component-weights.ts';
import type { ProgressCallback } from '../src/core/pipeline/progress.ts';
import type { BlobModelFiles } from '../src/core/store/blob-model-files.ts';
import {
  localModelFiles,
  normalizeLocalEntries,
  planLocalModel,
  singleCheckpointPath,
} from '../src/core/store/local-source.ts';
import { modelIdOf, parseModelSource, type ModelSourceDescriptor } from '../src/core/store/model-source.ts';
import { SCRATCH_MODEL_ID, type ModelStore, type StoreUsage } from '../src/core/store/model-store.ts';
import type { AbortSignalLike } from '../src/core/store/platform.ts';
import { createBrowserModelStore } from '../src/platform/store/browser-platform.ts';
import type { CopyProgress, DownloadPolicy, LocalFile, LocalModelInfo, OpenLocalOptions } from './api.ts';

/** How a job names its model (the fields of `GenerateOptions` that say where the files are). */
export interface ModelRequest {
  model: string;
  hubEndpoint?: string;
  localFiles?: LocalFile[];
  configFiles?: LocalFile[];
  download?: DownloadPolicy;
}

/** A job's model, resolved without reading a file: its store id and what tells its files from others of that id. */
export interface ModelRef {
  source: ModelSourceDescriptor;
  modelId: string;
  /** The user's files, read in place (nothing copied), for a `local:` model that comes with them. */
  inPlace?: { name: string; files: LocalFile[] };
  /** Tells one set of files from another under the same id (another pick, changed files, another config). */
  filesKey: string;
}

/** A model's files, ready for `openBlobModel`. */
export interface ModelFilesAtHand {
  files: BlobModelFiles;
  /** The path of its one `.safetensors` checkpoint, when it is a single file. */
  singleFile?: string;
  /** The diffusers folder the user picked as a single file's config. */
  config?: BlobModelFiles;
  /** Where float16 weights widened at load go: kept under a stored model; scratch for files read in place. */
  convertedStore: ConvertedStore;
}

/**
 * The worker's model files: the store (IndexedDB) with its downloads and copies of local folders,
 * and the user's files read in place. Resolves what a job names to files, without loading anything.
 */
export class ModelSources {
  readonly #store: ModelStore = createBrowserModelStore();
  /** Stores with a job's own download policy, by policy (they share the IndexedDB database). */
  readonly #policyStores = new Map<string, ModelStore>();
  /** The site's root URL: relative model URLs and the bundled CLIP merges resolve against it. */
  readonly #siteRoot: string;

  constructor(siteRoot: string) {
    this.#siteRoot = siteRoot;
  }

  /** The store's id for the model a job names (as listed in the store report). */
  modelIdOf(request: { model: string; hubEndpoint?: string }): string {
    return modelIdOf(this.#sourceOf(request));
  }

  #sourceOf(request: { model: string; hubEndpoint?: string }): ModelSourceDescriptor {
    return parseModelSource(absoluteUrl(request.model, this.#siteRoot), request.hubEndpoint);
  }

  /** What a job's model is, from its request alone (nothing is read). */
  refOf(request: ModelRequest): ModelRef {
    const source = this.#sourceOf(request);
    const inPlace =
      source.kind === 'local' && request.localFiles ? { name: source.name, files: request.localFiles } : undefined;
    const configKey = request.configFiles ? filesKey(request.configFiles) : '';
    return {
      source,
      modelId: modelIdOf(source),
      ...(inPlace ? { inPlace } : {}),
      filesKey: `${inPlace ? filesKey(inPlace.files) : 'store'}|${configKey}`,
    };
  }

  /**
   * The files of `ref`: the user's files in place (the scratch copy of converted weights emptied
   * first), or the stored copy, downloading what is missing. Aborting `signal` stops a download.
   */
  async open(
    ref: ModelRef,
    request: ModelRequest,
    onProgress: ProgressCallback,
    signal?: AbortSignalLike,
  ): Promise<ModelFilesAtHand> {
    const { inPlace } = ref;
    const config = request.configFiles ? { config: localModelFiles(request.configFiles, 'config') } : {};
    if (inPlace) {
      await this.#store.clearScratch();
      const paths = normalizeLocalEntries(inPlace.files, inPlace.name).map((e) => e.path);
      return {
        // the user's files, read in place by slices: nothing is copied
        files: localModelFiles(inPlace.files, inPlace.name),
        ...withSingleFile(paths),
        ...config,
        convertedStore: this.#store.convertedFiles(SCRATCH_MODEL_ID),
      };
    }
    const stored = await this.#openStored(ref.source, this.#storeFor(request.download), onProgress, signal);
    return {
      files: stored,
      ...withSingleFile(stored.paths()),
      ...config,
      convertedStore: this.#store.convertedFiles(ref.modelId),
    };
  }

  /** Empties the scratch copy of converted weights (once sessions over files read in place are created). */
  clearScratch(): Promise<void> {
    return this.#store.clearScratch();
  }

  usage(): Promise<StoreUsage> {
    return this.#store.usage();
  }

  delete(modelId: string): Promise<void> {
    return this.#store.delete(modelId);
  }

  clear(): Promise<void> {
    return this.#store.clear();
  }

  /** Checks that picked files form a model, naming what was expected when they do not. */
  async checkLocal(options: OpenLocalOptions): Promise<LocalModelInfo> {
    const { name, files, keepCopy } = options;
    if (!/^[^/\\]+$/.test(name))
      throw new SdError(
        'bad-argument',
        `"${name}" cannot name a local model: expected a folder's name, without slashes.`,
      );
    const plan = await planLocalModel(files, name);
    return {
      model: plan.id,
      label: plan.label,
      fileCount: plan.files.length,
      sizeBytes: plan.files.reduce((n, f) => n + (f.sizeBytes ?? 0), 0),
      isStored: keepCopy,
    };
  }

  /** Copies picked files into the store (each file hashed), replacing a stored copy of the same name. */
  async keepLocal(options: OpenLocalOptions, onProgress: (progress: CopyProgress) => void): Promise<void> {
    await this.#store.importFolder(options.files, options.name, {
      onProgress: (p) => {
        if (p.phase === 'downloading')
          onProgress({ file: p.path ?? '', loadedBytes: p.loadedBytes, totalBytes: p.totalBytes });
      },
    });
  }

  /** The bundled CLIP merges, for models that ship no tokenizer files. */
  async fallbackMerges(): Promise<string> {
    const url = new URL('clip/merges.txt', this.#siteRoot).href;
    const response = await fetch(url);
    if (!response.ok)
      throw new SdError('network', `Could not load the bundled CLIP merges from ${url} (${response.status}).`);
    return response.text();
  }

  /** The store with `policy`'s retry settings (the default store when there are none). */
  #storeFor(policy: DownloadPolicy | undefined): ModelStore {
    const retry: { stallTimeoutMs?: number; maxRetries?: number } = {};
    if (policy?.stallTimeoutMs !== undefined) retry.stallTimeoutMs = policy.stallTimeoutMs;
    if (policy?.maxRetries !== undefined) retry.maxRetries = policy.maxRetries;
    const key = JSON.stringify(retry);
    if (key === '{}') return this.#store;
    let store = this.#policyStores.get(key);
    if (!store) this.#policyStores.set(key, (store = createBrowserModelStore({ retry })));
    return store;
  }

  /** The stored copy when complete (offline too), else a download of what is missing. */
  async #openStored(
    source: ModelSourceDescriptor,
    store: ModelStore,
    onProgress: ProgressCallback,
    signal: AbortSignalLike | undefined,
  ) {
    if (source.kind === 'local') {
      const id = modelIdOf(source);
      if (!(await store.list()).some((m) => m.id === id && m.isComplete)) {
        throw new SdError(
          'missing-file',
          `${id} names a folder from someone's disk that this browser has not kept: a link carries only the folder's name, not its files. Open the folder with "Open a folder…" (tick "Keep a copy in this browser" to use it offline later).`,
        );
      }
    }
    return store.ensure(source, {
      ...(signal ? { signal } : {}),
      onProgress: (p) => {
        if (p.phase === 'downloading')
          onProgress({
            kind: 'download',
            file: p.path ?? 'file list',
            loadedBytes: p.loadedBytes,
            totalBytes: p.totalBytes,
          });
      },
    });
  }
}

function withSingleFile(paths: readonly string[]): { singleFile?: string } {
  const singleFile = singleCheckpointPath(paths);
  return singleFile === undefined ? {} : { singleFile };
}

/** Tells one pick of a folder from another of the same name (files changed, or another folder). */
function filesKey(files: readonly LocalFile[]): string {
  const stamp = (f: LocalFile) => `${f.path}:${f.file.size}:${(f.file as Partial<File>).lastModified ?? ''}`;
  return files.map(stamp).sort().join('|');
}

/** Relative model URLs ("./models/x", "/models/x") resolve against the site; ids and absolute URLs stay. */
function absoluteUrl(model: string, siteRoot: string): string {
  const text = model.trim();
  return /^(\.{1,2}\/|\/)/.test(text) ? new URL(text, siteRoot).href : text;
}
