import { SdError } from '../../core/errors.ts';
import { createWebGpuRuntime } from '../../platform/ort/web-runtimes.ts';
import { createNodeRuntime } from '../../platform/ort/node-runtime.ts';
import { CountingRuntime } from './counting-runtime.ts';
import type { AdapterSummary } from '../../platform/webgpu/gpu-device.ts';
import type { GpuBufferTracker } from '../../platform/webgpu/gpu-buffer-tracker.ts';

export const BENCH_BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type BenchBackend = (typeof BENCH_BACKENDS)[number];

/** The runtime a benchmark measures, counting, with what is known of its device. */
export interface BenchRuntime {
  backend: BenchBackend;
  runtime: CountingRuntime;
  /** WebGPU only: the adapter. */
  adapter: AdapterSummary | undefined;
  /** WebGPU only: the GPU buffers onnxruntime allocated. */
  gpuBuffers: GpuBufferTracker | undefined;
  /** Frees the device, if any. */
  close(): void;
}

/**
 * The three backends the benchmark can measure in Node: `cpu` (onnxruntime-node), `wasm`
 * (onnxruntime-web's WebAssembly kernels, what a browser without WebGPU gets) and `webgpu`
 * (onnxruntime-web's WebGPU EP on Dawn for Node, the browser's GPU path).
 */
export async function createBenchRuntime(backend: BenchBackend): Promise<BenchRuntime> {
  if (backend === 'cpu' || backend === 'wasm') {
    const runtime = new CountingRuntime(await createNodeRuntime(backend), false);
    return { backend, runtime, adapter: undefined, gpuBuffers: undefined, close() {} };
  }
  if (backend === 'webgpu') {
    // Dawn must be navigator.gpu before onnxruntime-web is loaded
    const { openDawnDevice } = await import('../../platform/webgpu/dawn.ts');
    const gpu = await openDawnDevice();
    const ort = await import('onnxruntime-web/webgpu');
    // CPU-side kernels (shape ops) are tiny; worker threads only add start-up time in Node
    ort.env.wasm.numThreads = 1;
    const inner = createWebGpuRuntime(ort, gpu.device, {
      label: `onnxruntime-web ${ort.env.versions.web ?? ''} (webgpu, Dawn)`,
    });
    return {
      backend,
      runtime: new CountingRuntime(inner, true),
      adapter: gpu.adapter,
      gpuBuffers: gpu.buffers,
      close: () => gpu.device.destroy(),
    };
  }
  throw new SdError(
    'bad-argument',
    `Unknown backend "${String(backend)}". Expected one of: ${BENCH_BACKENDS.join(', ')}.`,
  );
}
