/// <reference types="@webgpu/types" />
import type * as OrtWebModule from 'onnxruntime-web/webgpu';
import { createOrtRuntime, type OrtModule, type Runtime } from '../../core/runtime/runtime.ts';
import { WebGpuLatentBackend, type GpuTensorClass } from '../webgpu/webgpu-latent-backend.ts';

/** onnxruntime-web's WebGPU build; it also carries the WASM (CPU) execution provider. */
export type OrtWeb = typeof OrtWebModule;

export interface WebGpuRuntimeOptions {
  /** How the runtime names itself in reports (default "onnxruntime-web (webgpu)"). */
  label?: string;
  /**
   * Bind UNet outputs to buffers of the latent backend (default true); false leaves them to the
   * session, which costs a copy per step (tests compare both).
   */
  preallocateOutputs?: boolean;
}

/**
 * Sessions on a WebGPU device, with the latents kept in GPU buffers on that device between model
 * calls. The worker, the benchmark (Dawn for Node) and the device-loop tests all build the WebGPU
 * runtime here, so they measure and test the same wiring.
 */
export function createWebGpuRuntime(ort: OrtWeb, device: GPUDevice, options: WebGpuRuntimeOptions = {}): Runtime {
  const { label = 'onnxruntime-web (webgpu)', preallocateOutputs = true } = options;
  const base = createOrtRuntime(
    ort as unknown as OrtModule,
    label,
    { executionProviders: [{ name: 'webgpu', device }] },
    { acceptsBlobs: true },
  );
  const tensors = ort.Tensor as unknown as GpuTensorClass;
  return {
    ...base,
    latentBackend: (backendOptions) => new WebGpuLatentBackend(device, tensors, backendOptions, preallocateOutputs),
  };
}

/** Sessions on the CPU through onnxruntime-web's WebAssembly kernels. */
export function createWasmRuntime(ort: OrtWeb): Runtime {
  return createOrtRuntime(
    ort as unknown as OrtModule,
    'onnxruntime-web (wasm)',
    { executionProviders: ['wasm'] },
    { acceptsBlobs: true },
  );
}
