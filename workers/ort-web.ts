/// <reference types="@webgpu/types" />
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { createOrtRuntime, type OrtModule, type Runtime } from '../src/core/runtime/runtime.ts';
import { WebGpuLatentBackend, type GpuTensorClass } from '../src/gpu/webgpu-latent-backend.ts';

/** onnxruntime-web's WebGPU build; it also carries the WASM (CPU) execution provider. */
type OrtWeb = typeof import('onnxruntime-web/webgpu');

let ortModule: Promise<OrtWeb> | undefined;

/** Threads for the WASM backend: several need SharedArrayBuffer, which only cross-origin isolated pages have. */
export function wasmThreadCount(): number {
  return globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
}

/**
 * Loads onnxruntime-web once, in its own chunk (its threads re-import that chunk by URL), with the
 * .wasm served from this site (no CDN): Vite copies the file and `?url` gives its address.
 */
export function loadOrt(): Promise<OrtWeb> {
  ortModule ??= import('onnxruntime-web/webgpu').then((ort) => {
    ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, self.location.href).href };
    ort.env.wasm.numThreads = wasmThreadCount();
    ort.env.logLevel = 'warning';
    return ort;
  });
  return ortModule;
}

/**
 * Sessions on the shared WebGPU device, with the latents kept in GPU buffers on that device between
 * model calls (UNet outputs written straight into the latent backend's buffers).
 */
export function webgpuRuntime(ort: OrtWeb, device: GPUDevice): Runtime {
  const base = createOrtRuntime(ort as unknown as OrtModule, 'onnxruntime-web (webgpu)', { executionProviders: [{ name: 'webgpu', device }] }, { acceptsBlobs: true });
  const tensors = ort.Tensor as unknown as GpuTensorClass;
  return { ...base, latentBackend: (options) => new WebGpuLatentBackend(device, tensors, options) };
}

/** Sessions on the CPU through WebAssembly. */
export function wasmRuntime(ort: OrtWeb): Runtime {
  return createOrtRuntime(ort as unknown as OrtModule, 'onnxruntime-web (wasm)', { executionProviders: ['wasm'] }, { acceptsBlobs: true });
}
