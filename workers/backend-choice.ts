import type { OnnxScan } from './onnx-scan.ts';
import type { AdapterSummary, BackendChoice, BackendPreference } from './api.ts';

const MiB = 1024 * 1024;

function mib(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}

/** The backend to try first, before any model file is read. */
export function firstChoice(
  preference: BackendPreference,
  adapter: AdapterSummary | undefined,
  noAdapterReason: string | undefined,
): BackendChoice {
  if (preference === 'wasm') return { backend: 'wasm', reason: 'WASM was chosen in the settings' };
  if (!adapter) return { backend: 'wasm', reason: `no WebGPU: ${noAdapterReason ?? 'no adapter'}` };
  return { backend: 'webgpu', reason: `WebGPU adapter ${adapter.vendor} ${adapter.architecture}` };
}

/**
 * Why a graph cannot run on this adapter, or undefined when it can. onnxruntime-web's WebGPU EP
 * refuses float16 graphs without `shader-f16`, and every weight must fit one buffer binding.
 */
export function gpuObstacle(scan: OnnxScan, adapter: AdapterSummary, component: string): string | undefined {
  if (scan.hasFloat16 && !adapter.hasShaderF16) {
    return `${component} has float16 tensors and the adapter lacks shader-f16`;
  }
  const limit = Math.min(adapter.maxStorageBufferBindingSize, adapter.maxBufferSize);
  if (scan.largestTensorBytes > limit) {
    return `${component} has a ${mib(scan.largestTensorBytes)} weight, above the adapter's buffer limit of ${mib(limit)}`;
  }
  return undefined;
}
