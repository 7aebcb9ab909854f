import * as Comlink from 'comlink';
import { isFatalCode, SdError } from './core/errors.ts';
import type {
  AddControlNetOptions,
  AddLoraOptions,
  ControlNetEntry,
  ControlPreview,
  CopyProgress,
  DeviceReport,
  DiffusionApi,
  GenerateOptions,
  GenerateSummary,
  InitImageFile,
  JobEvent,
  LocalModelInfo,
  LoraEntry,
  OpenLocalOptions,
  SamplingMode,
  StoreReport,
  TokenCount,
} from '../workers/api.ts';
import { installErrorTransfer } from '../workers/error-transfer.ts';

installErrorTransfer();

/**
 * The page's only door to the diffusion worker (the one place that calls `Comlink.wrap`), with the
 * worker's own {@link DiffusionApi}. When the worker dies or a job leaves it broken (a fatal code:
 * device lost, out of memory, internal), it is replaced by a fresh worker, so the next job works
 * without reloading the page; the model comes back from IndexedDB.
 */
export class WorkerClient implements DiffusionApi {
  #worker!: Worker;
  #api!: Comlink.Remote<DiffusionApi>;
  /** Rejects when the current worker crashes (an uncaught error or a failed module load). */
  #crashed!: Promise<never>;

  constructor() {
    this.#start();
  }

  #start(): void {
    this.#worker = new Worker(new URL('../workers/diffusion.worker.ts', import.meta.url), {
      type: 'module',
      name: 'diffusion',
    });
    this.#api = Comlink.wrap<DiffusionApi>(this.#worker);
    this.#crashed = new Promise<never>((_, reject) => {
      this.#worker.addEventListener('error', (event) => {
        reject(
          new SdError(
            'internal',
            `The diffusion worker stopped (${event.message || 'it could not start'}). It was restarted: try again.`,
          ),
        );
      });
    });
    // a crash with no job waiting must not become an unhandled rejection
    this.#crashed.catch(() => undefined);
  }

  /** Replaces the worker (terminating a stuck one). */
  restart(): void {
    this.#api[Comlink.releaseProxy]();
    this.#worker.terminate();
    this.#start();
  }

  async #call<T>(call: (api: Comlink.Remote<DiffusionApi>) => Promise<T>): Promise<T> {
    try {
      return await Promise.race([call(this.#api), this.#crashed]);
    } catch (e) {
      if (e instanceof SdError && isFatalCode(e.code)) this.restart();
      throw e;
    }
  }

  describeDevice(): Promise<DeviceReport> {
    return this.#call((api) => api.describeDevice());
  }

  samplerNames(options?: { sampling?: SamplingMode }): Promise<string[]> {
    return this.#call((api) => api.samplerNames(options));
  }

  countTokens(options: { text: string }): Promise<TokenCount> {
    return this.#call((api) => api.countTokens(options));
  }

  /**
   * Runs a job; the bytes of the init image and of the control images are transferred to the worker
   * (the caller's copies are emptied).
   */
  generate(options: GenerateOptions, onEvent: (event: JobEvent) => void): Promise<GenerateSummary> {
    const images = [options.initImage, ...(options.controlNets ?? []).map((unit) => unit.image)];
    // a buffer listed twice makes postMessage throw
    const transfers = [...new Set(images.flatMap((image) => (image ? [image.bytes.buffer as ArrayBuffer] : [])))];
    return this.#call((api) => api.generate(Comlink.transfer(options, transfers), Comlink.proxy(onEvent)));
  }

  cancel(options: { jobId: string }): Promise<void> {
    return this.#call((api) => api.cancel(options));
  }

  /** Hands the picked files to the worker: File objects are cloned as references, no bytes are copied. */
  openLocalModel(options: OpenLocalOptions, onProgress: (progress: CopyProgress) => void): Promise<LocalModelInfo> {
    return this.#call((api) => api.openLocalModel(options, Comlink.proxy(onProgress)));
  }

  loseDevice(): Promise<void> {
    return this.#call((api) => api.loseDevice());
  }

  storeReport(): Promise<StoreReport> {
    return this.#call((api) => api.storeReport());
  }

  deleteModel(options: { modelId: string }): Promise<void> {
    return this.#call((api) => api.deleteModel(options));
  }

  clearStore(): Promise<void> {
    return this.#call((api) => api.clearStore());
  }

  /** A picked File is cloned as a reference: the worker reads and stores its bytes. */
  addLora(options: AddLoraOptions): Promise<LoraEntry> {
    return this.#call((api) => api.addLora(options));
  }

  listLoras(): Promise<LoraEntry[]> {
    return this.#call((api) => api.listLoras());
  }

  deleteLora(options: { name: string }): Promise<void> {
    return this.#call((api) => api.deleteLora(options));
  }

  /** Picked Files are cloned as references: the worker reads and stores their bytes. */
  addControlNet(options: AddControlNetOptions): Promise<ControlNetEntry> {
    return this.#call((api) => api.addControlNet(options));
  }

  listControlNets(): Promise<ControlNetEntry[]> {
    return this.#call((api) => api.listControlNets());
  }

  deleteControlNet(options: { name: string }): Promise<void> {
    return this.#call((api) => api.deleteControlNet(options));
  }

  /** The image's bytes are transferred to the worker (the caller's copy is emptied). */
  preprocessControlImage(options: { image: InitImageFile; preprocessor: string }): Promise<ControlPreview> {
    const transfers = [options.image.bytes.buffer as ArrayBuffer];
    return this.#call((api) => api.preprocessControlImage(Comlink.transfer(options, transfers)));
  }
}
