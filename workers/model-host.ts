import { SdError } from '../src/core/errors.ts';
import { loadModel, type LoadedModel } from '../src/core/models/load-model.ts';
import { defaultSizeOf } from '../src/core/models/default-size.ts';
import { schedulerClassName } from '../src/core/schedulers/registry.ts';
import type { ProgressCallback } from '../src/core/pipeline/progress.ts';
import type { Runtime } from '../src/core/runtime/runtime.ts';
import { checkMemoryNeeds, describeNeeds } from '../src/core/models/memory-needs.ts';
import {
  localModelFiles,
  normalizeLocalEntries,
  planLocalModel,
  singleCheckpointPath,
} from '../src/core/store/local-source.ts';
import { openBlobModel } from '../src/core/store/open-blob-model.ts';
import type { StoredModel } from '../src/core/store/stored-model.ts';
import { modelIdOf, parseModelSource, type ModelSourceDescriptor } from '../src/core/store/model-source.ts';
import type { AbortSignalLike } from '../src/core/store/platform.ts';
import { SCRATCH_MODEL_ID, type ModelStore } from '../src/core/store/model-store.ts';
import { createBrowserModelStore } from '../src/platform/store/browser-platform.ts';
import type {
  AdapterSummary,
  BackendChoice,
  BackendPreference,
  CopyProgress,
  DeviceReport,
  DownloadPolicy,
  LocalFile,
  LocalModelInfo,
  ModelSummary,
  OpenLocalOptions,
  StoreReport,
} from './api.ts';
import { firstChoice, gpuObstacle } from './backend-choice.ts';
import {
  requestGpuAdapter,
  requestGpuDevice,
  type GpuAdapter,
  type GpuDevice,
} from '../src/platform/webgpu/gpu-device.ts';
import { scanOnnx } from './onnx-scan.ts';
import { LoraHost, type PromptLoras } from './lora-host.ts';
import { LoraSet } from '../src/core/lora/lora-set.ts';
import type { ModelFiles } from '../src/core/models/model-files.ts';
import { remergeLoras } from './lora-remerge.ts';
import { createWasmRuntime, createWebGpuRuntime } from '../src/platform/ort/web-runtimes.ts';
import { loadOrt, wasmThreadCount } from './ort-web.ts';

/** A model with open sessions, ready for jobs. */
export interface ActiveModel {
  model: LoadedModel;
  runtime: Runtime;
  summary: ModelSummary;
  /** The prompt's LoRAs merged into the weights, and A1111's `Lora hashes` of them. */
  loras?: { set: LoraSet; hashes: string; files: ModelFiles };
}

/** Thrown by the scanning runtime when a graph cannot run on the WebGPU adapter; loading retries on WASM. */
class GpuObstacle extends Error {
  override readonly name = 'GpuObstacle';
}

function findObstacle(e: unknown): GpuObstacle | undefined {
  for (let c: unknown = e; c instanceof Error; c = c.cause) if (c instanceof GpuObstacle) return c;
  return undefined;
}

/** What the scanning runtime saw while a model loaded. */
interface ScanState {
  /** Component being loaded (from loadModel's onComponent), for messages. */
  component: string;
  hasFloat16: boolean;
}

/** Wraps a runtime so every graph is scanned first: float16 is noted and, on WebGPU, obstacles stop the load early. */
function scanningRuntime(base: Runtime, adapter: AdapterSummary | undefined, state: ScanState): Runtime {
  return {
    name: base.name,
    tensor: (type, data, dims) => base.tensor(type, data, dims),
    createSession(model, externalData) {
      const scan = scanOnnx(model);
      state.hasFloat16 ||= scan.hasFloat16;
      const obstacle = adapter && gpuObstacle(scan, adapter, state.component);
      if (obstacle) return Promise.reject(new GpuObstacle(obstacle));
      return base.createSession(model, externalData);
    },
  };
}

/**
 * Owns the worker's WebGPU device and the one loaded model: picks the backend (WebGPU, or WASM with
 * the reason), loads through the IndexedDB-backed files, and keeps the sessions between jobs.
 */
export class ModelHost {
  readonly #store: ModelStore = createBrowserModelStore();
  /** The site's root URL: relative model URLs and the bundled CLIP merges resolve against it. */
  readonly #siteRoot: string;
  #adapter: Promise<GpuAdapter | { reason: string }> | undefined;
  #gpu: GpuDevice | undefined;
  #active: { key: string; modelId: string; value: ActiveModel } | undefined;
  /** Stores with a job's own download policy, by policy (they share the IndexedDB database). */
  readonly #policyStores = new Map<string, ModelStore>();
  /** The stored LoRAs, which prompt tags name. */
  readonly loras = new LoraHost();

  /** Why the device is gone, while the loss has not been dealt with. */
  constructor(siteRoot: string) {
    this.#siteRoot = siteRoot;
  }

  get deviceLostReason(): string | undefined {
    return this.#gpu?.lostReason;
  }

  /**
   * Why the device was lost, waiting up to `graceMs` for the news: a failed GPU call (a map that
   * never resolves) can surface a task before the device's `lost` promise settles.
   */
  async deviceLoss(graceMs: number): Promise<string | undefined> {
    const gpu = this.#gpu;
    if (!gpu || gpu.lostReason !== undefined) return gpu?.lostReason;
    await Promise.race([gpu.device.lost, new Promise((done) => setTimeout(done, graceMs))]);
    return gpu.lostReason;
  }

  #requestAdapter(): Promise<GpuAdapter | { reason: string }> {
    this.#adapter ??= requestGpuAdapter();
    return this.#adapter;
  }

  async describeDevice(): Promise<DeviceReport> {
    const adapter = await this.#requestAdapter();
    return {
      adapter: 'summary' in adapter ? adapter.summary : null,
      unavailableReason: 'reason' in adapter ? adapter.reason : undefined,
      isCrossOriginIsolated: globalThis.crossOriginIsolated === true,
      wasmThreads: wasmThreadCount(),
    };
  }

  async #device(adapter: GpuAdapter): Promise<GpuDevice> {
    if (this.#gpu && this.#gpu.lostReason === undefined) return this.#gpu;
    this.#gpu = await requestGpuDevice(adapter);
    return this.#gpu;
  }

  /** The store's id for the model a job names (as listed in {@link storeReport}). */
  modelIdOf(request: { model: string; hubEndpoint?: string }): string {
    return modelIdOf(parseModelSource(absoluteUrl(request.model, this.#siteRoot), request.hubEndpoint));
  }

  /** The stored models; `inUse` holds the ids of models that jobs download or use. */
  async storeReport(inUse: ReadonlySet<string>): Promise<StoreReport> {
    const usage = await this.#store.usage();
    const models = usage.models.map((m) => ({
      ...m,
      isInUse: inUse.has(m.id),
      isLoaded: this.#active?.modelId === m.id,
    }));
    return { ...usage, models };
  }

  /** Deletes a stored model, closing its sessions first when it is the loaded one. */
  async deleteModel(modelId: string): Promise<void> {
    if (this.#active?.modelId === modelId) await this.discard();
    await this.#store.delete(modelId);
  }

  /** Deletes every stored model (the loaded one is closed first). */
  async clearStore(): Promise<void> {
    await this.discard();
    await this.#store.clear();
  }

  /**
   * Checks that picked files form a model and, with `keepCopy`, copies them into the store (a
   * loaded copy of the same name is closed first: its files are replaced).
   */
  async openLocal(options: OpenLocalOptions, onProgress: (progress: CopyProgress) => void): Promise<LocalModelInfo> {
    const { name, files, keepCopy } = options;
    if (!/^[^/\\]+$/.test(name))
      throw new SdError(
        'bad-argument',
        `"${name}" cannot name a local model: expected a folder's name, without slashes.`,
      );
    const plan = await planLocalModel(files, name);
    const info: LocalModelInfo = {
      model: plan.id,
      label: plan.label,
      fileCount: plan.files.length,
      sizeBytes: plan.files.reduce((n, f) => n + (f.sizeBytes ?? 0), 0),
      isStored: keepCopy,
    };
    if (!keepCopy) return info;
    if (this.#active?.modelId === plan.id) await this.discard();
    await this.#store.importFolder(files, name, {
      onProgress: (p) => {
        if (p.phase === 'downloading')
          onProgress({ file: p.path ?? '', loadedBytes: p.loadedBytes, totalBytes: p.totalBytes });
      },
    });
    return info;
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

  /**
   * The model's sessions for `model` on the preferred backend, loading (and downloading) when
   * needed. Aborting `signal` stops a download (what is stored stays).
   */
  async acquire(
    request: {
      model: string;
      hubEndpoint?: string;
      localFiles?: LocalFile[];
      configFiles?: LocalFile[];
      backend: BackendPreference;
      download?: DownloadPolicy;
      /** The prompt's `<lora:NAME:…>` tags name the stored LoRAs to merge. */
      request?: { prompt: string };
    },
    onProgress: ProgressCallback,
    signal?: AbortSignalLike,
  ): Promise<ActiveModel> {
    const preference = request.backend;
    const source = parseModelSource(absoluteUrl(request.model, this.#siteRoot), request.hubEndpoint);
    const modelId = modelIdOf(source);
    const inPlace =
      source.kind === 'local' && request.localFiles ? { name: source.name, files: request.localFiles } : undefined;
    const configKey = request.configFiles ? filesKey(request.configFiles) : '';
    const loras = request.request ? await this.loras.resolve(request.request.prompt) : undefined;
    const key = `${modelId}|${preference}|${inPlace ? filesKey(inPlace.files) : 'store'}|${configKey}|${loras?.key ?? ''}`;
    if (this.#active?.key === key && this.deviceLostReason === undefined) {
      const active = this.#active.value;
      // the same files: only the multipliers may differ, and only the components they change are rebuilt
      if (loras && active.loras) await remergeLoras(active, active.loras.set, loras.multipliers, onProgress);
      return active;
    }
    await this.discard();
    const loraSet = loras
      ? new LoraSet(
          loras.files.map((file, i) => ({ file, ...loras.multipliers[i]! })),
          true,
        )
      : undefined;
    const stored = inPlace
      ? undefined
      : await this.#openStored(source, this.#storeFor(request.download), onProgress, signal);
    // the user's files, read in place by slices: nothing is copied
    const blobFiles = inPlace ? localModelFiles(inPlace.files, inPlace.name) : stored!;
    const paths = inPlace ? normalizeLocalEntries(inPlace.files, inPlace.name).map((e) => e.path) : stored!.paths();
    // converted float32 weights: kept under a stored model; a scratch copy for files read in place
    if (inPlace) await this.#store.clearScratch();
    const opened = await openBlobModel(blobFiles, {
      singleFile: singleCheckpointPath(paths),
      ...(request.configFiles ? { config: localModelFiles(request.configFiles, 'config') } : {}),
      convertedStore: this.#store.convertedFiles(inPlace ? SCRATCH_MODEL_ID : modelId),
      ...(loraSet ? { loras: loraSet } : {}),
    });
    const early = await this.#requestAdapter();
    if (opened.needs)
      checkMemoryNeeds(
        opened.needs,
        'summary' in early && preference !== 'wasm' ? early.summary : undefined,
        blobFiles.label,
      );
    const extra = {
      ...(opened.description ? { description: opened.description } : {}),
      ...(opened.needs ? { memory: describeNeeds(opened.needs) } : {}),
    };
    const files = opened.files;
    const state: ScanState = { component: 'model', hasFloat16: false };
    const options = {
      fallbackMerges: () => fetchText(new URL('clip/merges.txt', this.#siteRoot).href),
      onComponent: (component: string, index: number, count: number) => {
        state.component = component;
        onProgress({ kind: 'load', component, index, count });
      },
    };
    const ort = await loadOrt();
    const adapter = await this.#requestAdapter();
    let choice = firstChoice(
      preference,
      'summary' in adapter ? adapter.summary : undefined,
      'reason' in adapter ? adapter.reason : undefined,
    );
    if (choice.backend === 'webgpu' && 'summary' in adapter) {
      try {
        const gpu = await this.#device(adapter);
        const runtime = createWebGpuRuntime(ort, gpu.device);
        const loaded = await loadModel(files, scanningRuntime(runtime, adapter.summary, state), options);
        // a re-merge with other multipliers rebuilds graphs over the converted weights: keep them until the next load
        if (inPlace && !loraSet) await this.#store.clearScratch();
        return await this.#withLoras(
          this.#activate(key, modelId, loaded, runtime, choice, state, extra),
          loras,
          loraSet,
          files,
        );
      } catch (e) {
        const obstacle = findObstacle(e);
        const isBackendFailure = obstacle !== undefined || (e instanceof SdError && e.code === 'unsupported-model');
        if (!isBackendFailure) throw e;
        const why = obstacle
          ? obstacle.message
          : `WebGPU could not load the model (${e instanceof Error ? e.message.slice(0, 200) : String(e)})`;
        if (preference === 'webgpu') {
          throw new SdError(
            'unsupported-model',
            `${files.label} cannot run on WebGPU here: ${why}. Choose the Auto or WASM backend.`,
            { cause: e },
          );
        }
        choice = { backend: 'wasm', reason: why };
      }
    }
    state.hasFloat16 = false;
    const runtime = createWasmRuntime(ort);
    const loaded = await loadModel(files, scanningRuntime(runtime, undefined, state), options);
    if (inPlace && !loraSet) await this.#store.clearScratch();
    return this.#withLoras(this.#activate(key, modelId, loaded, runtime, choice, state, extra), loras, loraSet, files);
  }

  /** The stored copy when complete (offline too), else a download of what is missing. */
  async #openStored(
    source: ModelSourceDescriptor,
    store: ModelStore,
    onProgress: ProgressCallback,
    signal: AbortSignalLike | undefined,
  ): Promise<StoredModel> {
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

  #activate(
    key: string,
    modelId: string,
    model: LoadedModel,
    runtime: Runtime,
    backend: BackendChoice,
    state: ScanState,
    extra: Pick<ModelSummary, 'description' | 'memory'>,
  ): ActiveModel {
    // only img2img's encoder is created after this, on first use
    state.component = 'vae_encoder';
    const summary: ModelSummary = {
      label: model.label,
      family: model.family,
      scheduler: schedulerClassName(model.schedulerConfig),
      defaultSize: defaultSizeOf(model.family),
      hasFloat16: state.hasFloat16,
      backend,
      assumptions: [...model.assumptions],
      ...(model.suggested ? { suggested: { ...model.suggested } } : {}),
      ...extra,
    };
    const value = { model, runtime, summary };
    this.#active = { key, modelId, value };
    return value;
  }

  /**
   * Checks that every LoRA found its place in the built model (a LoRA for another architecture is
   * refused, and the model closed), notes partial fits among the summary's lines, and keeps the set
   * for re-merges.
   */
  async #withLoras(
    active: ActiveModel,
    loras: PromptLoras | undefined,
    set: LoraSet | undefined,
    files: ModelFiles,
  ): Promise<ActiveModel> {
    if (!loras || !set) return active;
    try {
      active.summary.assumptions.push(...set.check());
    } catch (e) {
      await this.discard();
      throw e;
    }
    active.loras = { set, hashes: loras.hashes, files };
    return active;
  }

  /** The loaded model's LoRA set, for the LoRA panel's matched-module counts. */
  get activeLoras(): LoraSet | undefined {
    return this.#active?.value.loras?.set;
  }

  /** Deletes a stored LoRA; a loaded model it is merged into is closed first. */
  async deleteLora(name: string): Promise<void> {
    if (this.#active?.value.loras?.set.applied.some((l) => l.file.name === name)) await this.discard();
    await this.loras.delete(name);
  }

  /** Releases the sessions (and a lost device), so the next job starts clean. */
  async discard(): Promise<void> {
    const active = this.#active;
    this.#active = undefined;
    if (active) {
      try {
        await active.value.model.release();
      } catch {
        // releasing on a lost device or a broken heap can fail; the sessions are dropped either way
      }
    }
    if (this.#gpu?.lostReason !== undefined) {
      this.#gpu = undefined;
      // a lost device's adapter is spent: ask for a fresh one
      this.#adapter = undefined;
    }
  }

  /** Destroys the device as a driver reset would (diagnostics and tests of recovery). */
  loseDevice(): void {
    this.#gpu?.device.destroy();
  }
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

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok)
    throw new SdError('network', `Could not load the bundled CLIP merges from ${url} (${response.status}).`);
  return response.text();
}
