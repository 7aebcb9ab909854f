/// <reference types="svelte" />
import type {
  BackendPreference,
  ControlNetUnitOptions,
  DownloadPolicy,
  GenerateSummary,
  InitImageFile,
  JobEvent,
  LocalFile,
  ModelSummary,
  Progress,
} from '../../workers/api.ts';
import { controlNetOptions } from '../lib/controlnet-unit.ts';
import type { ShareSettings } from '../lib/share-link.ts';
import { SdError } from '../core/errors.ts';
import type { WorkerClient } from '../worker-client.ts';

/** One finished image in the gallery. */
export interface ResultImage {
  /** Object URL of the PNG (with its A1111 infotext). */
  url: string;
  seed: string;
  width: number;
  height: number;
  infotext: string;
  fileName: string;
}

/** What the progress bar shows. `fraction` is 0..1 of the whole job stage. */
export interface ProgressView {
  label: string;
  fraction: number;
  /** Denoising only. */
  step?: number;
  steps?: number;
  itPerSecond?: number;
  secondsLeft?: number;
}

/** A live preview: 8-bit RGB at 1/8 of the image size. */
export interface PreviewImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

const MiB = 1024 * 1024;

function describe(p: Progress): ProgressView {
  const ofImages = (image: number, images: number) => (images > 1 ? ` (image ${image + 1}/${images})` : '');
  switch (p.kind) {
    case 'download': {
      const total = p.totalBytes > 0 ? ` of ${(p.totalBytes / MiB).toFixed(1)} MiB` : '';
      return {
        label: `Downloading ${p.file}: ${(p.loadedBytes / MiB).toFixed(1)} MiB${total}`,
        fraction: p.totalBytes > 0 ? p.loadedBytes / p.totalBytes : 0,
      };
    }
    case 'load':
      return { label: `Loading ${p.component} (${p.index + 1}/${p.count})`, fraction: p.index / p.count };
    case 'encode':
      return { label: `Encoding the prompt${ofImages(p.image, p.images)}`, fraction: 0 };
    case 'denoise': {
      const itPerSecond = p.elapsedMs > 0 ? (p.step * 1000) / p.elapsedMs : 0;
      const callsLeft = p.steps - p.step + (p.images - p.image - 1) * p.steps;
      const secondsLeft = itPerSecond > 0 ? callsLeft / itPerSecond : undefined;
      return {
        label: `Step ${p.step}/${p.steps}${ofImages(p.image, p.images)}`,
        fraction: (p.image + p.step / p.steps) / p.images,
        step: p.step,
        steps: p.steps,
        itPerSecond,
        secondsLeft,
      };
    }
    case 'decode':
      return { label: `Decoding${ofImages(p.image, p.images)}`, fraction: (p.image + 1) / p.images };
    case 'done':
      return { label: `Done${ofImages(p.image, p.images)}`, fraction: (p.image + 1) / p.images };
  }
}

/** A1111's random seed: a whole number below 2^32 - 1. */
export function randomSeed(): string {
  return String((crypto.getRandomValues(new Uint32Array(1))[0] as number) % 4294967294);
}

let jobCounter = 0;

/** What a job takes besides the settings: the user's images and files, and where to run. */
export interface JobInputs {
  backend: BackendPreference;
  initImage: InitImageFile | null;
  /** The control image of each ControlNet unit, by unit index (null where none was given). */
  controlImages?: ReadonlyArray<InitImageFile | null>;
  hubEndpoint?: string;
  download?: DownloadPolicy;
  localFiles?: LocalFile[];
  configFiles?: LocalFile[];
}

/**
 * One generation at a time: starts it in the worker, follows its progress, collects the images and
 * turns failures into a message. Nothing here blocks: the worker does the work.
 */
export class JobState {
  isRunning = $state(false);
  isCancelling = $state(false);
  progress = $state<ProgressView | null>(null);
  preview = $state.raw<PreviewImage | null>(null);
  results = $state<ResultImage[]>([]);
  error = $state<{ code: string; message: string } | null>(null);
  notice = $state<string | null>(null);
  model = $state<ModelSummary | null>(null);
  lastSeed = $state<string | null>(null);
  summary = $state.raw<GenerateSummary | null>(null);
  /** Preview every N model calls; 0 for none. */
  previewEvery = $state(0);
  #jobId: string | null = null;
  /** The last "Loading <component>" view, shown again once that component's download is done. */
  #loading: ProgressView | null = null;

  constructor(private readonly client: WorkerClient) {}

  #onEvent(jobId: string, event: JobEvent): void {
    if (event.kind === 'model') this.model = event.model;
    else if (event.kind === 'progress') {
      // callbacks travel on their own channel and can land after the job's result: a late report
      // must not overwrite the final state
      if (jobId !== this.#jobId) return;
      const p = event.progress;
      const view = describe(p);
      if (p.kind === 'load') this.#loading = view;
      // once a component's files are in, the wait is for its session: say so rather than show a full download
      const isDownloaded = p.kind === 'download' && p.totalBytes > 0 && p.loadedBytes >= p.totalBytes;
      this.progress = isDownloaded && this.#loading ? this.#loading : view;
      if (p.kind === 'denoise' && p.preview) this.preview = p.preview;
    } else {
      const { image } = event;
      const url = URL.createObjectURL(new Blob([image.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
      const fileName = `sd-${image.seed}-${image.width}x${image.height}.png`;
      this.results = [
        { url, seed: image.seed, width: image.width, height: image.height, infotext: image.infotext, fileName },
        ...this.results,
      ];
    }
  }

  /**
   * Generates with `settings`; resolves when the job ends, however it ends. An enabled ControlNet unit
   * without its model or image stops here with an error saying which.
   */
  async run(settings: ShareSettings, inputs: JobInputs): Promise<void> {
    if (this.isRunning) return;
    const { backend, initImage, hubEndpoint, download, localFiles, configFiles } = inputs;
    let controlNets: ControlNetUnitOptions[];
    try {
      controlNets = controlNetOptions([settings.controlNet], inputs.controlImages ?? []);
    } catch (e) {
      if (!(e instanceof SdError)) throw e;
      this.error = { code: e.code, message: e.message };
      this.notice = null;
      return;
    }
    const jobId = `job-${++jobCounter}`;
    this.#jobId = jobId;
    this.isRunning = true;
    this.isCancelling = false;
    this.error = null;
    this.notice = null;
    this.preview = null;
    this.#loading = null;
    this.progress = { label: 'Starting', fraction: 0 };
    const seed = settings.seed === '-1' ? randomSeed() : settings.seed;
    this.lastSeed = seed;
    try {
      this.summary = await this.client.generate(
        {
          jobId,
          model: settings.model,
          hubEndpoint,
          localFiles,
          ...(configFiles ? { configFiles } : {}),
          backend,
          download,
          request: {
            prompt: settings.prompt,
            negativePrompt: settings.negativePrompt,
            sampler: settings.sampler,
            steps: settings.steps,
            cfgScale: settings.cfgScale,
            seed: BigInt(seed),
            width: settings.width,
            height: settings.height,
            batchSize: settings.batchSize,
            rng: settings.rng,
            promptSyntax: 'a1111',
            sampling: settings.sampling,
            // ENSD belongs to a1111 mode; an emptied field (null) means none
            ...(settings.sampling === 'a1111' && settings.etaNoiseSeedDelta
              ? { etaNoiseSeedDelta: settings.etaNoiseSeedDelta }
              : {}),
            denoisingStrength: initImage ? settings.denoisingStrength : undefined,
            previewEvery: this.previewEvery,
          },
          initImage: initImage ? { bytes: initImage.bytes.slice(), type: initImage.type } : undefined,
          ...(controlNets.length > 0 ? { controlNets } : {}),
        },
        (event) => this.#onEvent(jobId, event),
      );
      this.progress = { label: `Done in ${(this.summary.timings.totalMs / 1000).toFixed(1)} s`, fraction: 1 };
    } catch (e) {
      if (e instanceof SdError && e.code === 'cancelled') {
        this.notice = `Cancelled (${this.progress?.label ?? 'before the first step'}).`;
      } else {
        this.error = {
          code: e instanceof SdError ? e.code : 'internal',
          message: e instanceof Error ? e.message : String(e),
        };
      }
      this.progress = null;
    } finally {
      this.isRunning = false;
      this.isCancelling = false;
      this.#jobId = null;
    }
  }

  /** Stops the running job before its next model call. */
  async cancel(): Promise<void> {
    if (!this.#jobId || this.isCancelling) return;
    this.isCancelling = true;
    await this.client.cancel({ jobId: this.#jobId });
  }

  clearResults(): void {
    for (const r of this.results) URL.revokeObjectURL(r.url);
    this.results = [];
  }
}
