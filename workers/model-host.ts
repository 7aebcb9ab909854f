import { SdError } from '../src/core/errors.ts';
import { LoraSet } from '../src/core/lora/lora-set.ts';
import { defaultSizeOf } from '../src/core/models/default-size.ts';
import { loadModel, type LoadedModel } from '../src/core/models/load-model.ts';
import { checkMemoryNeeds, describeNeeds } from '../src/core/models/memory-needs.ts';
import type { ModelFiles } from '../src/core/models/model-files.ts';
import type { ProgressCallback } from '../src/core/pipeline/progress.ts';
import type { Runtime } from '../src/core/runtime/runtime.ts';
import { schedulerClassName } from '../src/core/schedulers/registry.ts';
import { openBlobModel } from '../src/core/store/open-blob-model.ts';
import type { AbortSignalLike } from '../src/core/store/platform.ts';
import type {
  BackendPreference,
  CopyProgress,
  DeviceReport,
  LocalModelInfo,
  ModelSummary,
  OpenLocalOptions,
  StoreReport,
} from './api.ts';
import { WebRuntimes, type BackendLoad, type RuntimeSource } from './backend-runtimes.ts';
import { ControlNetHost } from './controlnet-host.ts';
import { ControlNetSessions } from './controlnet-sessions.ts';
import { LoraHost, type PromptLoras } from './lora-host.ts';
import { remergeLoras } from './lora-remerge.ts';
import { ModelSources, type ModelRef, type ModelRequest } from './model-sources.ts';

/** A model with open sessions, ready for jobs. */
export interface ActiveModel {
  /** The sessions; for a model built with ControlNet inputs, with the current job's ControlNets in `controlNets`. */
  model: LoadedModel;
  runtime: Runtime;
  summary: ModelSummary;
  /** The prompt's LoRAs merged into the weights, and A1111's `Lora hashes` of them. */
  loras?: { set: LoraSet; hashes: string; files: ModelFiles };
  /** The ControlNet sessions, when the UNet was built with ControlNet residual inputs. */
  controlNets?: ControlNetSessions;
}

/** What a job asks of the host: its model, the backend, and what is merged into or attached to the model. */
export interface AcquireRequest extends ModelRequest {
  backend: BackendPreference;
  /** The prompt's `<lora:NAME:…>` tags name the stored LoRAs to merge. */
  request?: { prompt: string };
  /** The job's ControlNet units name stored ControlNets; any unit builds the UNet with ControlNet inputs. */
  controlNets?: readonly { model: string }[];
}

/** Options of {@link ModelHost}; the defaults are the browser's (tests run the host in Node with their own runtimes). */
export interface ModelHostOptions {
  runtimes?: RuntimeSource;
  controlNets?: ControlNetHost;
}

/**
 * Owns the one loaded model: loads it through the IndexedDB-backed files on the backend its
 * {@link RuntimeSource} picks (WebGPU, or WASM with the reason), merges the prompt's LoRAs, attaches
 * the job's ControlNets, and keeps the sessions between jobs.
 */
export class ModelHost {
  readonly #sources: ModelSources;
  readonly #runtimes: RuntimeSource;
  #active: { key: string; modelId: string; value: ActiveModel } | undefined;
  /** The stored LoRAs, which prompt tags name. */
  readonly loras = new LoraHost();
  /** The stored ControlNets, which ControlNet units name. */
  readonly controlNets: ControlNetHost;

  /** @param siteRoot the site's root URL: relative model URLs and the bundled CLIP merges resolve against it. */
  constructor(siteRoot: string, options: ModelHostOptions = {}) {
    this.#sources = new ModelSources(siteRoot);
    this.#runtimes = options.runtimes ?? new WebRuntimes();
    this.controlNets = options.controlNets ?? new ControlNetHost();
  }

  /** Why the device is gone, while the loss has not been dealt with. */
  get deviceLostReason(): string | undefined {
    return this.#runtimes.deviceLostReason;
  }

  /** Why the device was lost, waiting up to `graceMs` for the news (see {@link RuntimeSource.deviceLoss}). */
  deviceLoss(graceMs: number): Promise<string | undefined> {
    return this.#runtimes.deviceLoss(graceMs);
  }

  describeDevice(): Promise<DeviceReport> {
    return this.#runtimes.describeDevice();
  }

  /** The store's id for the model a job names (as listed in {@link storeReport}). */
  modelIdOf(request: { model: string; hubEndpoint?: string }): string {
    return this.#sources.modelIdOf(request);
  }

  /** The stored models; `inUse` holds the ids of models that jobs download or use. */
  async storeReport(inUse: ReadonlySet<string>): Promise<StoreReport> {
    const usage = await this.#sources.usage();
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
    await this.#sources.delete(modelId);
  }

  /** Deletes every stored model (the loaded one is closed first). */
  async clearStore(): Promise<void> {
    await this.discard();
    await this.#sources.clear();
  }

  /**
   * Checks that picked files form a model and, with `keepCopy`, copies them into the store (a
   * loaded copy of the same name is closed first: its files are replaced).
   */
  async openLocal(options: OpenLocalOptions, onProgress: (progress: CopyProgress) => void): Promise<LocalModelInfo> {
    const info = await this.#sources.checkLocal(options);
    if (!options.keepCopy) return info;
    if (this.#active?.modelId === info.model) await this.discard();
    await this.#sources.keepLocal(options, onProgress);
    return info;
  }

  /**
   * The model's sessions for `request` on the preferred backend, loading (and downloading) when
   * needed, with the LoRAs its prompt names merged and the ControlNets its units name attached.
   * Aborting `signal` stops a download (what is stored stays).
   */
  async acquire(request: AcquireRequest, onProgress: ProgressCallback, signal?: AbortSignalLike): Promise<ActiveModel> {
    const ref = this.#sources.refOf(request);
    const loras = request.request ? await this.loras.resolve(request.request.prompt) : undefined;
    const units = request.controlNets ?? [];
    // unknown names are refused before anything loads
    const controls = units.length > 0 ? await this.controlNets.resolve(units.map((u) => u.model)) : undefined;
    const hasControl = controls !== undefined;
    const key = `${ref.modelId}|${request.backend}|${ref.filesKey}|${loras?.key ?? ''}|${hasControl ? 'controlnet' : ''}`;
    let active: ActiveModel;
    if (this.#active?.key === key && this.deviceLostReason === undefined) {
      active = this.#active.value;
      // the same files: only the multipliers may differ, and only the components they change are rebuilt
      if (loras && active.loras) await remergeLoras(active, active.loras.set, loras.multipliers, onProgress);
    } else {
      active = await this.#load(key, ref, request, loras, hasControl, onProgress, signal);
    }
    if (controls !== undefined) {
      const sessions = await active.controlNets!.sessionsFor(controls, onProgress);
      active.model = { ...active.model, controlNets: sessions };
    }
    return active;
  }

  async #load(
    key: string,
    ref: ModelRef,
    request: AcquireRequest,
    loras: PromptLoras | undefined,
    hasControl: boolean,
    onProgress: ProgressCallback,
    signal: AbortSignalLike | undefined,
  ): Promise<ActiveModel> {
    await this.discard();
    const loraSet = loras
      ? new LoraSet(
          loras.files.map((file, i) => ({ file, ...loras.multipliers[i]! })),
          true,
        )
      : undefined;
    const at = await this.#sources.open(ref, request, onProgress, signal);
    const opened = await openBlobModel(at.files, {
      singleFile: at.singleFile,
      ...(at.config ? { config: at.config } : {}),
      convertedStore: at.convertedStore,
      ...(loraSet ? { loras: loraSet } : {}),
      ...(hasControl ? { controlResiduals: true } : {}),
    });
    if (opened.needs) checkMemoryNeeds(opened.needs, await this.#runtimes.adapterFor(request.backend), at.files.label);
    const extra = {
      ...(opened.description ? { description: opened.description } : {}),
      ...(opened.needs ? { memory: describeNeeds(opened.needs) } : {}),
    };
    const files = opened.files;
    const loaded = await this.#runtimes.load(request.backend, files.label, (runtime, scan) =>
      loadModel(files, runtime, {
        fallbackMerges: () => this.#sources.fallbackMerges(),
        onComponent: (component, index, count) => {
          scan.component = component;
          onProgress({ kind: 'load', component, index, count });
        },
      }),
    );
    // a re-merge with other multipliers rebuilds graphs over the converted weights: keep them until the next load
    if (ref.inPlace && !loraSet) await this.#sources.clearScratch();
    const active = this.#activate(key, ref.modelId, loaded, extra);
    if (hasControl) {
      if (!opened.baseUnet) throw new SdError('internal', `${files.label} was built without a UNet config.`);
      active.controlNets = new ControlNetSessions(opened.baseUnet, loaded.runtime);
    }
    return this.#withLoras(active, loras, loraSet, files);
  }

  #activate(
    key: string,
    modelId: string,
    loaded: BackendLoad<LoadedModel>,
    extra: Pick<ModelSummary, 'description' | 'memory'>,
  ): ActiveModel {
    const { value: model, runtime, choice, scan } = loaded;
    // only img2img's encoder is created after this, on first use
    scan.component = 'vae_encoder';
    const summary: ModelSummary = {
      label: model.label,
      family: model.family,
      scheduler: schedulerClassName(model.schedulerConfig),
      defaultSize: defaultSizeOf(model.family),
      hasFloat16: scan.hasFloat16,
      backend: choice,
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

  /** Deletes a stored ControlNet, releasing its session on the loaded model first. */
  async deleteControlNet(name: string): Promise<void> {
    await this.#active?.value.controlNets?.release(name);
    await this.controlNets.delete(name);
  }

  /** Releases the sessions (and a lost device), so the next job starts clean. */
  async discard(): Promise<void> {
    const active = this.#active;
    this.#active = undefined;
    if (active) {
      // releasing on a lost device or a broken heap can fail; the sessions are dropped either way
      await Promise.allSettled([active.value.controlNets?.releaseAll(), active.value.model.release()]);
    }
    this.#runtimes.dropLostDevice();
  }

  /** Destroys the device as a driver reset would (diagnostics and tests of recovery). */
  loseDevice(): void {
    this.#runtimes.loseDevice();
  }
}
