import { SdError } from '../src/core/errors.ts';
import { generate, type GeneratedImage } from '../src/core/pipeline/generate.ts';
import { infotextOf, type InfotextModel } from '../src/core/pipeline/infotext-of.ts';
import type { GenerateRequest, SamplingMode } from '../src/core/pipeline/request.ts';
import { kSamplerNames } from '../src/core/kdiffusion/k-samplers.ts';
import { SAMPLING_TEXT_KEY } from '../src/core/png/infotext-sampling.ts';
import { encodePng } from '../src/core/png/png.ts';
import { countPromptTokens } from '../src/core/prompt/chunk-prompt.ts';
import { removeLoraTags } from '../src/core/png/lora-tags.ts';
import { createAbortSource, type AbortSource } from '../src/core/store/abort.ts';
import { modelIdOf } from '../src/core/store/model-source.ts';
import { ALL_SAMPLER_NAMES } from '../src/core/schedulers/registry.ts';
import { ClipTokenizer } from '../src/core/tokenizer/clip-tokenizer.ts';
import type {
  AddControlNetOptions,
  AddLoraOptions,
  ControlNetEntry,
  ControlPreview,
  CopyProgress,
  DiffusionApi,
  GenerateOptions,
  GenerateSummary,
  ImageResult,
  InitImageFile,
  JobEvent,
  LocalModelInfo,
  LoraEntry,
  OpenLocalOptions,
  StoreReport,
  TokenCount,
} from './api.ts';
import { controlInfotextUnits, controlPreview, controlUnitsOf } from './control-units.ts';
import { decodeInitImage } from './decode-image.ts';
import { ModelHost } from './model-host.ts';
import { classifyRunError, isFatal } from './run-errors.ts';

/** How long a failed job waits for a device-loss report before classifying its error. */
const DEVICE_LOSS_GRACE_MS = 100;

interface Job {
  isCancelled: boolean;
  /** The store's id of the job's model: it cannot be deleted while the job runs or waits. */
  modelId: string;
  /** Fires on cancel, stopping a download in progress (what is stored stays). */
  abort: AbortSource;
}

/** The file name part of a repository id or URL, as A1111 writes "Model: name". */
function modelName(label: string): string {
  const parts = label
    .replace(/@.*$/, '')
    .split('/')
    .filter((p) => p !== '');
  return parts[parts.length - 1] ?? label;
}

function toImageResult(image: GeneratedImage, request: GenerateRequest, model: InfotextModel): ImageResult {
  const infotext = infotextOf(request, image, model);
  // the sampling chunk tells our images from A1111's (whose infotext may look the same), as the CLI writes it
  const text = { parameters: infotext, [SAMPLING_TEXT_KEY]: request.sampling ?? 'diffusers' };
  const png = encodePng(image.rgb, image.width, image.height, text);
  return { index: image.index, seed: image.seed.toString(), width: image.width, height: image.height, png, infotext };
}

/**
 * What the service asks of its model host (a {@link ModelHost} in the worker; tests pass one that
 * loads the fixture models with onnxruntime-node).
 */
export type ServiceHost = Pick<
  ModelHost,
  | 'describeDevice'
  | 'modelIdOf'
  | 'acquire'
  | 'deviceLoss'
  | 'discard'
  | 'loseDevice'
  | 'storeReport'
  | 'deleteModel'
  | 'clearStore'
  | 'openLocal'
> &
  // hosts without stored LoRAs or ControlNets (tests) leave these out
  Partial<Pick<ModelHost, 'loras' | 'activeLoras' | 'deleteLora' | 'controlNets' | 'deleteControlNet'>>;

/**
 * The diffusion API without any messaging: the worker exposes it through Comlink, and it can run
 * in-process. Jobs run one at a time in arrival order; the loaded model stays between jobs.
 */
export class DiffusionService implements DiffusionApi {
  readonly #host: ServiceHost;
  readonly #mergesUrl: string;
  readonly #jobs = new Map<string, Job>();
  #queue: Promise<unknown> = Promise.resolve();
  #tokenizer: Promise<ClipTokenizer> | undefined;

  /**
   * @param siteRoot URL of the site's root folder (index.html, clip/merges.txt).
   * @param host loads the models; by default the worker's {@link ModelHost} on that site.
   */
  constructor(siteRoot: string, host: ServiceHost = new ModelHost(siteRoot)) {
    this.#host = host;
    this.#mergesUrl = new URL('clip/merges.txt', siteRoot).href;
  }

  describeDevice() {
    return this.#host.describeDevice();
  }

  async samplerNames(options?: { sampling?: SamplingMode }): Promise<string[]> {
    return options?.sampling === 'a1111' ? kSamplerNames() : [...ALL_SAMPLER_NAMES];
  }

  /** Counts with the bundled CLIP vocabulary: every Stable Diffusion model uses the same one. */
  async countTokens(options: { text: string }): Promise<TokenCount> {
    this.#tokenizer ??= fetch(this.#mergesUrl)
      .then((r) => {
        if (!r.ok) throw new SdError('network', `Could not load the CLIP merges list from ${r.url} (${r.status}).`);
        return r.text();
      })
      .then((merges) => ClipTokenizer.fromMerges(merges));
    this.#tokenizer.catch(() => {
      // let the next call try again (e.g. once the network is back)
      this.#tokenizer = undefined;
    });
    // A1111's counter leaves out extra-network tags (<lora:…>), as the text encoder never sees them
    return countPromptTokens(await this.#tokenizer, removeLoraTags(options.text));
  }

  async generate(options: GenerateOptions, onEvent: (event: JobEvent) => void): Promise<GenerateSummary> {
    const job: Job = { isCancelled: false, modelId: this.#host.modelIdOf(options), abort: createAbortSource() };
    this.#jobs.set(options.jobId, job);
    const run = this.#queue.then(() => this.#run(options, job, onEvent));
    this.#queue = run.catch(() => undefined);
    try {
      return await run;
    } finally {
      this.#jobs.delete(options.jobId);
    }
  }

  /** Refuses to replace the stored copy of a model that a job uses or waits to use. */
  async openLocalModel(
    options: OpenLocalOptions,
    onProgress: (progress: CopyProgress) => void,
  ): Promise<LocalModelInfo> {
    const modelId = modelIdOf({ kind: 'local', name: options.name });
    if (options.keepCopy && [...this.#jobs.values()].some((j) => j.modelId === modelId)) {
      throw new SdError(
        'busy',
        `${modelId} is used by a generation. Cancel the generation or wait until it ends, then keep a copy of the folder.`,
      );
    }
    return this.#host.openLocal(options, onProgress);
  }

  async cancel(options: { jobId: string }): Promise<void> {
    const job = this.#jobs.get(options.jobId);
    if (!job) return;
    job.isCancelled = true;
    job.abort.abort(
      new SdError(
        'cancelled',
        'Generation cancelled during the model download. The parts already stored are kept: generate again to resume.',
      ),
    );
  }

  async loseDevice(): Promise<void> {
    this.#host.loseDevice();
  }

  storeReport(): Promise<StoreReport> {
    return this.#host.storeReport(new Set([...this.#jobs.values()].map((j) => j.modelId)));
  }

  /** Refuses while a job downloads or uses the model (deleting it under the job would break it). */
  async deleteModel(options: { modelId: string }): Promise<void> {
    if ([...this.#jobs.values()].some((j) => j.modelId === options.modelId)) {
      throw new SdError(
        'busy',
        `${options.modelId} is being downloaded or used by a generation. Cancel the generation or wait until it ends, then delete the model.`,
      );
    }
    await this.#host.deleteModel(options.modelId);
  }

  async clearStore(): Promise<void> {
    const busy = [...new Set([...this.#jobs.values()].map((j) => j.modelId))];
    if (busy.length > 0) {
      throw new SdError(
        'busy',
        `A generation is running or waiting (with ${busy.join(', ')}). Cancel it or wait until it ends, then clear the store.`,
      );
    }
    await this.#host.clearStore();
  }

  get #loras(): NonNullable<ServiceHost['loras']> {
    if (!this.#host.loras)
      throw new SdError('internal', 'This diffusion service keeps no LoRAs (its host has no LoRA store).');
    return this.#host.loras;
  }

  async addLora(options: AddLoraOptions): Promise<LoraEntry> {
    const info = await this.#loras.add(options);
    return (await this.listLoras()).find((l) => l.name === info.name) ?? { ...info, moduleCount: 0 };
  }

  listLoras(): Promise<LoraEntry[]> {
    return this.#loras.list(this.#host.activeLoras);
  }

  /** Refuses while a job runs or waits: it may merge the LoRA. */
  async deleteLora(options: { name: string }): Promise<void> {
    this.#refuseWhileJobs(`delete LoRA ${options.name}`);
    if (this.#host.deleteLora) await this.#host.deleteLora(options.name);
    else await this.#loras.delete(options.name);
  }

  /** Throws `busy` while a job runs or waits (`action` says what then to do, e.g. "delete LoRA x"). */
  #refuseWhileJobs(action: string): void {
    if (this.#jobs.size > 0)
      throw new SdError('busy', `A generation is running or waiting. Cancel it or wait until it ends, then ${action}.`);
  }

  get #controlNets(): NonNullable<ServiceHost['controlNets']> {
    if (!this.#host.controlNets)
      throw new SdError('internal', 'This diffusion service keeps no ControlNets (its host has no ControlNet store).');
    return this.#host.controlNets;
  }

  addControlNet(options: AddControlNetOptions): Promise<ControlNetEntry> {
    return this.#controlNets.add(options);
  }

  listControlNets(): Promise<ControlNetEntry[]> {
    return this.#controlNets.list();
  }

  /** Refuses while a job runs or waits: it may use the ControlNet. */
  async deleteControlNet(options: { name: string }): Promise<void> {
    this.#refuseWhileJobs(`delete ControlNet ${options.name}`);
    if (this.#host.deleteControlNet) await this.#host.deleteControlNet(options.name);
    else await this.#controlNets.delete(options.name);
  }

  preprocessControlImage(options: { image: InitImageFile; preprocessor: string }): Promise<ControlPreview> {
    return controlPreview(options);
  }

  async #run(options: GenerateOptions, job: Job, onEvent: (event: JobEvent) => void): Promise<GenerateSummary> {
    const checkCancelled = () => {
      if (job.isCancelled) throw new SdError('cancelled', 'Generation cancelled.');
    };
    try {
      checkCancelled();
      // images and preprocessors first: a bad one is refused before the model loads
      const controlUnits = await controlUnitsOf(options.controlNets ?? []);
      const active = await this.#host.acquire(
        options,
        (progress) => onEvent({ kind: 'progress', progress }),
        job.abort.signal,
      );
      onEvent({ kind: 'model', model: active.summary });
      checkCancelled();
      const size = active.summary.defaultSize;
      const request: GenerateRequest = {
        ...options.request,
        width: options.request.width ?? size,
        height: options.request.height ?? size,
      };
      if (options.initImage) request.initImage = await decodeInitImage(options.initImage);
      if (controlUnits.length > 0) request.controlNets = controlUnits;
      const infotextModel = {
        name: modelName(active.summary.label),
        schedulerConfig: active.model.schedulerConfig,
        ...(active.loras ? { loraHashes: active.loras.hashes } : {}),
        ...(controlUnits.length > 0 ? { controlNets: controlInfotextUnits(options.controlNets ?? []) } : {}),
      };
      const { images, timings, loop } = await generate(active.model, active.runtime, request, {
        onProgress: (progress) => onEvent({ kind: 'progress', progress }),
        onImage: (image) => onEvent({ kind: 'image', image: toImageResult(image, request, infotextModel) }),
        isCancelled: () => job.isCancelled,
      });
      return { jobId: options.jobId, imageCount: images.length, backend: active.summary.backend, timings, loop };
    } catch (e) {
      const error = classifyRunError(e, await this.#host.deviceLoss(DEVICE_LOSS_GRACE_MS));
      if (isFatal(error)) await this.#host.discard();
      throw error;
    }
  }
}
