import { SdError } from '../src/core/errors.ts';
import type { Runtime } from '../src/core/runtime/runtime.ts';
import { createWasmRuntime, createWebGpuRuntime } from '../src/platform/ort/web-runtimes.ts';
import {
  requestGpuAdapter,
  requestGpuDevice,
  type GpuAdapter,
  type GpuDevice,
} from '../src/platform/webgpu/gpu-device.ts';
import type { AdapterSummary, BackendChoice, BackendPreference, DeviceReport } from './api.ts';
import { firstChoice, gpuObstacle } from './backend-choice.ts';
import { scanOnnx } from './onnx-scan.ts';
import { loadOrt, wasmThreadCount } from './ort-web.ts';

/** What the scanning runtime saw while a model loaded. */
export interface ScanState {
  /** Component being loaded (set by the loader as it goes), for messages. */
  component: string;
  hasFloat16: boolean;
}

/** A model loaded on a backend: what the loader gave, the runtime its sessions run on, and why that backend. */
export interface BackendLoad<T> {
  value: T;
  /** The backend's runtime, for the model's later sessions and for generating. */
  runtime: Runtime;
  choice: BackendChoice;
  /** Graphs created later through the scanning runtime (img2img's encoder) keep being scanned with it. */
  scan: ScanState;
}

/**
 * Where a model's sessions run. The worker's {@link WebRuntimes} tries WebGPU and falls back to WASM;
 * tests give one that runs onnxruntime-node.
 */
export interface RuntimeSource {
  describeDevice(): Promise<DeviceReport>;
  /** The WebGPU adapter a model would run on with `preference`, for the memory check; undefined for WASM. */
  adapterFor(preference: BackendPreference): Promise<AdapterSummary | undefined>;
  /**
   * Runs `load` on the preferred backend with a runtime that scans every graph first. On WebGPU a
   * graph the adapter cannot run (or an `unsupported-model` failure) retries on WASM under `auto`,
   * and is refused naming `label` under `webgpu`.
   */
  load<T>(
    preference: BackendPreference,
    label: string,
    load: (runtime: Runtime, scan: ScanState) => Promise<T>,
  ): Promise<BackendLoad<T>>;
  /** Why the device is gone, while the loss has not been dealt with. */
  readonly deviceLostReason: string | undefined;
  deviceLoss(graceMs: number): Promise<string | undefined>;
  /** After the model's sessions are released: a lost device (and its spent adapter) is dropped. */
  dropLostDevice(): void;
  /** Destroys the device as a driver reset would (diagnostics and tests of recovery). */
  loseDevice(): void;
}

/** Thrown by the scanning runtime when a graph cannot run on the WebGPU adapter; loading retries on WASM. */
class GpuObstacle extends Error {
  override readonly name = 'GpuObstacle';
}

function findObstacle(e: unknown): GpuObstacle | undefined {
  for (let c: unknown = e; c instanceof Error; c = c.cause) if (c instanceof GpuObstacle) return c;
  return undefined;
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

/** The worker's WebGPU device (asked for once, again after a loss) and onnxruntime-web's WebGPU and WASM runtimes. */
export class WebRuntimes implements RuntimeSource {
  #adapter: Promise<GpuAdapter | { reason: string }> | undefined;
  #gpu: GpuDevice | undefined;

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

  async adapterFor(preference: BackendPreference): Promise<AdapterSummary | undefined> {
    const adapter = await this.#requestAdapter();
    return 'summary' in adapter && preference !== 'wasm' ? adapter.summary : undefined;
  }

  async #device(adapter: GpuAdapter): Promise<GpuDevice> {
    if (this.#gpu && this.#gpu.lostReason === undefined) return this.#gpu;
    this.#gpu = await requestGpuDevice(adapter);
    return this.#gpu;
  }

  async load<T>(
    preference: BackendPreference,
    label: string,
    load: (runtime: Runtime, scan: ScanState) => Promise<T>,
  ): Promise<BackendLoad<T>> {
    const ort = await loadOrt();
    const adapter = await this.#requestAdapter();
    let choice = firstChoice(
      preference,
      'summary' in adapter ? adapter.summary : undefined,
      'reason' in adapter ? adapter.reason : undefined,
    );
    if (choice.backend === 'webgpu' && 'summary' in adapter) {
      const scan: ScanState = { component: 'model', hasFloat16: false };
      try {
        const gpu = await this.#device(adapter);
        const runtime = createWebGpuRuntime(ort, gpu.device);
        const value = await load(scanningRuntime(runtime, adapter.summary, scan), scan);
        return { value, runtime, choice, scan };
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
            `${label} cannot run on WebGPU here: ${why}. Choose the Auto or WASM backend.`,
            { cause: e },
          );
        }
        choice = { backend: 'wasm', reason: why };
      }
    }
    const scan: ScanState = { component: 'model', hasFloat16: false };
    const runtime = createWasmRuntime(ort);
    const value = await load(scanningRuntime(runtime, undefined, scan), scan);
    return { value, runtime, choice, scan };
  }

  dropLostDevice(): void {
    if (this.#gpu?.lostReason !== undefined) {
      this.#gpu = undefined;
      // a lost device's adapter is spent: ask for a fresh one
      this.#adapter = undefined;
    }
  }

  loseDevice(): void {
    this.#gpu?.device.destroy();
  }
}
