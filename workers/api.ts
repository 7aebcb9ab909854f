/**
 * The typed contract between the page and the diffusion worker. Every value here is
 * structured-clone safe: the worker `expose`s an object that satisfies {@link DiffusionApi}, and the
 * page reaches it through `Comlink.wrap` (in src/worker-client.ts only). Calls take one options
 * object; callbacks travel as `Comlink.proxy`; pixel buffers are transferred, not copied.
 */
import type { AdapterSummary } from '../src/platform/webgpu/gpu-device.ts';
import type { SdErrorCode } from '../src/core/errors.ts';
import type { ModelFamily } from '../src/core/models/load-model.ts';
import type { LoopReport } from '../src/core/pipeline/generate.ts';
import type { Progress } from '../src/core/pipeline/progress.ts';
import type { GenerateRequest, SamplingMode } from '../src/core/pipeline/request.ts';
import type { StageTimings } from '../src/core/pipeline/timings.ts';
import type { StoredModelInfo } from '../src/core/store/model-store.ts';

export type { LoopReport, Progress, SdErrorCode, ModelFamily, SamplingMode, StageTimings };
export type { AdapterSummary };

/** Inference backends the worker can run on. */
export type BackendName = 'webgpu' | 'wasm';
/** `auto`: WebGPU when the adapter can run the model, else WASM. */
export type BackendPreference = 'auto' | BackendName;

/** The worker's view of the machine. */
export interface DeviceReport {
  /** null when the browser has no WebGPU or no adapter; `unavailableReason` says which. */
  adapter: AdapterSummary | null;
  unavailableReason?: string;
  isCrossOriginIsolated: boolean;
  /** Threads onnxruntime-web's WASM backend uses (1 without cross-origin isolation). */
  wasmThreads: number;
}

/** The backend a model runs on, and why (shown on the page). */
export interface BackendChoice {
  backend: BackendName;
  reason: string;
}

/** A loaded model, as the page needs to know it. */
export interface ModelSummary {
  /** Repository id or URL it was loaded from. */
  label: string;
  family: ModelFamily;
  /** diffusers class of the model's own scheduler_config.json, e.g. "PNDMScheduler". */
  scheduler: string;
  /** Natural image side in pixels: 512 for SD 1.x/2.x and Turbo, 1024 for SDXL (the core's `defaultSizeOf`). */
  defaultSize: number;
  /** Whether the UNet or text encoder declares float16 inputs or outputs. */
  hasFloat16: boolean;
  backend: BackendChoice;
  /**
   * What the loader filled in because the model left it out, one short line each (e.g. "no
   * model_index.json: layout inferred from unet/, text_encoder/, vae_decoder/"); empty when nothing was.
   */
  assumptions: string[];
  /** Steps and CFG to use when they had to be assumed (turbo without a scheduler config: 1 step, CFG 0). */
  suggested?: {
    steps: number;
    cfgScale: number;
  }; /** What the files were opened as, for safetensors models ("single-file SD 1.x checkpoint, …"). */
  description?: string;
  /** Storage and GPU memory the weights need (safetensors models), one line for people. */
  memory?: string;
}

/** An encoded init image for img2img; decoded in the worker (PNG exactly, other formats by the browser). */
export interface InitImageFile {
  bytes: Uint8Array;
  /** MIME type, e.g. "image/png". */
  type: string;
}

/** One generation job. */
export interface GenerateOptions {
  /** Chosen by the caller; `cancel` names it. */
  jobId: string;
  /**
   * Hugging Face repository id (`org/name`, optionally `@revision`), absolute URL of a diffusers ONNX
   * folder, or `local:NAME` for a model the user opened ({@link DiffusionApi.openLocalModel}).
   */
  model: string;
  /**
   * The files of the `local:` model that `model` names, read in place (nothing copied). Absent for a
   * `local:` model: its copy in the store, or an error saying to open the files again.
   */
  localFiles?: LocalFile[];
  /**
   * A diffusers folder the user picked as the config of a single `.safetensors` file of an
   * architecture the built-in configs do not cover (as diffusers' `config=` and the CLI's `--config`).
   */
  configFiles?: LocalFile[];
  /** Hugging Face endpoint for repository ids (a mirror, like HF_ENDPOINT); https://huggingface.co when absent. */
  hubEndpoint?: string;
  backend: BackendPreference;
  /**
   * The generation itself, without the decoded init image (see `initImage`). A null width or height
   * means the model family's natural size ({@link ModelSummary.defaultSize}).
   */
  request: Omit<GenerateRequest, 'initImage' | 'controlNets' | 'width' | 'height'> & {
    width: number | null;
    height: number | null;
  };
  initImage?: InitImageFile;
  /**
   * ControlNet units (A1111's "ControlNet Unit 0", "1", …), summed as diffusers' Multi-ControlNet. Each
   * names a stored ControlNet ({@link DiffusionApi.addControlNet}); safetensors models only.
   */
  controlNets?: ControlNetUnitOptions[];
  /** How patient the model download is; defaults suit real networks (tests shorten them). */
  download?: DownloadPolicy;
}

/**
 * A file the user picked or dropped: its path inside what was picked ("sd15/unet/model.onnx" for a
 * folder, the file's own name for a single file) and its contents. A File is structured-cloned as a
 * reference to the user's file: no bytes are copied, and the worker reads it by slices.
 */
export interface LocalFile {
  path: string;
  file: Blob;
}

/** A model the user opens from their own files. */
export interface OpenLocalOptions {
  /** What was picked, as people see it (the folder's name); the model is then `local:NAME`. */
  name: string;
  /** Every file picked: a diffusers ONNX folder (with or without model_index.json). */
  files: LocalFile[];
  /**
   * Copy the files into the store: the model is then listed with the stored models and opens
   * offline later, without the files. Otherwise they are read in place on every load.
   */
  keepCopy: boolean;
}

/** Copying a local model into the store. Sizes in bytes. */
export interface CopyProgress {
  /** The file being copied ("unet/model.onnx"). */
  file: string;
  loadedBytes: number;
  totalBytes: number;
}

/** A local model the worker accepted. Sizes in bytes. */
export interface LocalModelInfo {
  /** The reference to generate with ({@link GenerateOptions.model}): `local:NAME`, also its store id. */
  model: string;
  label: string;
  /** Files the pipeline reads, and their total size. */
  fileCount: number;
  sizeBytes: number;
  /** The files were copied into the store: generating needs no {@link GenerateOptions.localFiles}. */
  isStored: boolean;
}

/**
 * Overrides of the store's retry policy for a job's download. The page takes them from the query
 * (`?stall_ms=`, `?retries=`), so tests can make a stalled download fail in seconds.
 */
export interface DownloadPolicy {
  /** Silence (no bytes) after which a download connection is closed and retried; default 30 000. */
  stallTimeoutMs?: number;
  /** Attempts without progress after the first, before the download fails; default 5. */
  maxRetries?: number;
}

/** A stored model as the store panel lists it. Sizes in bytes. */
export interface StoredModelEntry extends StoredModelInfo {
  /** A running or queued job downloads or uses it: deleting it is refused until the job ends. */
  isInUse: boolean;
  /** Its sessions are open in the worker (deleting it closes them first). */
  isLoaded: boolean;
}

/** The model store's contents and the origin's storage, as the worker sees them. Sizes in bytes. */
export interface StoreReport {
  models: StoredModelEntry[];
  storedBytes: number;
  /** From `navigator.storage.estimate()`, when the browser tells. */
  usageBytes?: number;
  quotaBytes?: number;
}

/** A stored LoRA as the LoRA panel lists it. Sizes in bytes. */
export interface LoraEntry {
  /** The name prompt tags use, `<lora:NAME:…>`: the file name without `.safetensors`. */
  name: string;
  sizeBytes: number;
  /** Low-rank modules (down/up pairs) in the file. */
  moduleCount: number;
  /** Modules merged into a weight of the loaded model; absent until a generation applied it to that model. */
  matchedModules?: number;
}

/** A LoRA file to keep in the browser: a picked or dropped `.safetensors` file, or its URL. */
export type AddLoraOptions = { file: Blob; fileName: string } | { url: string };

/** A stored ControlNet as the ControlNet panel lists it. Sizes in bytes. */
export interface ControlNetEntry {
  /**
   * Its name (A1111's ControlNet "Model"): the file name without `.safetensors`, or the folder's name
   * for a diffusers ControlNet folder.
   */
  name: string;
  sizeBytes: number;
  /** What the files are, one line for people ("ControlNet 1.1 file, float16", "diffusers ControlNet folder"). */
  description: string;
  /** A `config.json` came with the weights (a diffusers ControlNet folder); otherwise the model's UNet is its config. */
  hasConfig: boolean;
}

/**
 * A ControlNet to keep in the browser (its own IndexedDB store: it survives reloads and works offline):
 * - `files`: a picked or dropped `.safetensors` file (ControlNet 1.0 with `control_model.` keys, 1.1,
 *   or diffusers' `ControlNetModel` weights), optionally with the `config.json` of its diffusers folder;
 *   `name` overrides the name taken from the file (a folder's name);
 * - `url`: a `.safetensors` URL; for a diffusers folder's `diffusion_pytorch_model[.fp16].safetensors`
 *   the `config.json` beside it is fetched too.
 */
export type AddControlNetOptions = { files: LocalFile[]; name?: string } | { url: string };

/** One ControlNet unit of a job (A1111's "ControlNet Unit N"). */
export interface ControlNetUnitOptions {
  /** The stored ControlNet's name ({@link ControlNetEntry.name}). */
  model: string;
  /** The user's image, encoded; the worker decodes it and runs the preprocessor. */
  image: InitImageFile;
  /** Preprocessor spec: `canny:LOW:HIGH` (A1111's defaults `canny:100:200`), `invert` or `none`. */
  preprocessor: string;
  /** A1111's Control Weight (`controlnet_conditioning_scale`), 0 to 10, typically 1. */
  weight: number;
  /** A1111's Starting / Ending Control Step, fractions of the steps: 0 ≤ start < end ≤ 1. */
  start: number;
  end: number;
}

/** A preprocessed control image, for the panel to show next to the user's image. */
export interface ControlPreview {
  /** The control image as a PNG. */
  png: Uint8Array;
  width: number;
  height: number;
}

/** A finished image: a PNG with A1111 infotext in its `parameters` text chunk. */
export interface ImageResult {
  index: number;
  /** Decimal seed the image was made with. */
  seed: string;
  width: number;
  height: number;
  png: Uint8Array;
  infotext: string;
}

/** Everything a job reports while it runs, in order. */
export type JobEvent =
  | { kind: 'model'; model: ModelSummary }
  | { kind: 'progress'; progress: Progress }
  | { kind: 'image'; image: ImageResult };

export interface GenerateSummary {
  jobId: string;
  imageCount: number;
  backend: BackendChoice;
  timings: StageTimings;
  /** Where the denoising loop kept the latents, and how many latent-sized reads reached the CPU. */
  loop: LoopReport;
}

/** Prompt length in CLIP tokens (without start/end tokens) against the capacity of its 75-token chunks. */
export interface TokenCount {
  tokens: number;
  /** 75 × number of chunks the prompt occupies (at least 75): the counter reads `tokens/limit`. */
  limit: number;
}

/** The diffusion worker's API. */
export interface DiffusionApi {
  describeDevice(): Promise<DeviceReport>;
  /**
   * The sampler names a sampling mode runs (diffusers when absent), as the request's `sampler` takes them:
   * diffusers mode's A1111 names mapped onto diffusers schedulers; a1111 mode's k-diffusion samplers, each
   * plain (Uniform schedule) and with every other schedule type ("DPM++ 2M Karras").
   */
  samplerNames(options?: { sampling?: SamplingMode }): Promise<string[]>;
  countTokens(options: { text: string }): Promise<TokenCount>;
  /**
   * Loads the model (from the IndexedDB copy, or downloads it first), picks the backend and runs the
   * job. Rejects with an SdError-like error whose `code` survives the worker boundary
   * (`cancelled`, `out-of-memory`, `device-lost`, ...).
   */
  generate(options: GenerateOptions, onEvent: (event: JobEvent) => void): Promise<GenerateSummary>;
  /**
   * Checks that picked files form a model, naming what was expected when they do not (code
   * `missing-file`), and with `keepCopy` copies them into the store (each file hashed). Generate
   * with the returned `model`, passing the files as `localFiles` unless `isStored`. One entry point
   * for every kind of local model: a single checkpoint file comes as a one-entry list.
   */
  openLocalModel(options: OpenLocalOptions, onProgress: (progress: CopyProgress) => void): Promise<LocalModelInfo>;
  /** Stops the job before its next model call; loaded sessions stay for the next run. */
  cancel(options: { jobId: string }): Promise<void>;
  /** Diagnostics: destroys the WebGPU device, as a driver reset would (the next job recovers). */
  loseDevice(): Promise<void>;
  /**
   * The stored models (newest first) with the storage used and available. Persistence is asked for
   * by the page itself: `navigator.storage.persist()` exists in windows only, not in workers.
   */
  storeReport(): Promise<StoreReport>;
  /**
   * Deletes a stored model, partial downloads included; a loaded model is closed first. Rejects
   * with code `busy` while a job downloads or uses it (cancel the job or let it end first).
   */
  deleteModel(options: { modelId: string }): Promise<void>;
  /** Deletes every stored model; rejects with code `busy` while any job runs or waits. */
  clearStore(): Promise<void>;
  /**
   * Keeps a LoRA file in the browser (its own IndexedDB store: it survives reloads and works offline)
   * under its file name without `.safetensors`, the NAME of `<lora:NAME:…>` tags; a LoRA of the same
   * name is replaced. Rejects for files that are no LoRA. At generate time the prompt's tags are
   * resolved against these names and merged into safetensors models' weights.
   */
  addLora(options: AddLoraOptions): Promise<LoraEntry>;
  /** The stored LoRAs by name. */
  listLoras(): Promise<LoraEntry[]>;
  /** Deletes a stored LoRA (a loaded model it is merged into is closed first). */
  deleteLora(options: { name: string }): Promise<void>;
  /**
   * Keeps a ControlNet in the browser under its name (a ControlNet of the same name is replaced).
   * Rejects for files that are no ControlNet, naming what was expected.
   */
  addControlNet(options: AddControlNetOptions): Promise<ControlNetEntry>;
  /** The stored ControlNets by name. */
  listControlNets(): Promise<ControlNetEntry[]>;
  /** Deletes a stored ControlNet; rejects with code `busy` while a job runs or waits. */
  deleteControlNet(options: { name: string }): Promise<void>;
  /** Runs a preprocessor (`canny:LOW:HIGH`, `invert`, `none`) on an image, for the panel's preview. */
  preprocessControlImage(options: { image: InitImageFile; preprocessor: string }): Promise<ControlPreview>;
}
