import { SdError } from '../errors.ts';
import type { SafetensorsTensorInfo } from '../safetensors/safetensors-header.ts';

/** What the WebGPU adapter allows, as the worker reads it (`GPUAdapter.limits`, `features`). Bytes. */
export interface AdapterLimits {
  hasShaderF16: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** One component's weights as the safetensors headers describe them. */
export interface ComponentTensors {
  /** `unet`, `vae`, `text_encoder`, `text_encoder_2`. */
  component: string;
  tensors: Iterable<SafetensorsTensorInfo>;
}

/** Storage and GPU memory a safetensors model needs, from its headers alone. Bytes. */
export interface MemoryNeeds {
  /** The weights files as downloaded (or picked). */
  fileBytes: number;
  /** Float32 copies of float16/bfloat16 weights, written once at load and kept in the store. */
  convertedBytes: number;
  /** Weights on the GPU: every graph runs in float32, so 4 bytes per element. */
  gpuWeightBytes: number;
  /** Estimated activations of the UNet at `sizePx` with CFG (batch 2): attention scores dominate. */
  activationBytes: number;
  /** The largest float32 weight of each component, for the binding limit. */
  largest: { component: string; name: string; bytes: number };
  /** Float32 weights per component. */
  componentBytes: Record<string, number>;
}

/**
 * Largest float32 weights of one component: onnxruntime-web (non-JSPI) reads each session's
 * external data into ArrayBuffers addressed with 32-bit offsets and uploads it from the 4 GiB
 * WebAssembly address space, so one session's weights past 4 GiB cannot load; 512 MiB stay for the
 * graph, the runtime and the intermediate copies. SD 1.5's float32 UNet (3.44 GB) fits; SDXL's
 * (10.3 GB) does not.
 */
export const MAX_COMPONENT_WEIGHT_BYTES = 4 * 2 ** 30 - 512 * 2 ** 20;

/** Tensors real checkpoints carry that no graph uses (schedule buffers, EMA counters, position ids). */
const UNUSED =
  /(^|\.)(betas|alphas_cumprod\w*|sqrt_\w+|log_one_minus_alphas_cumprod|posterior_\w+|position_ids)$|^model_ema\./;

const elementBytes = (t: SafetensorsTensorInfo): number => t.byteLength / Math.max(1, sizeOf(t.dtype));
function sizeOf(dtype: string): number {
  return dtype === 'F64' || dtype === 'I64' || dtype === 'U64'
    ? 8
    : dtype === 'F32' || dtype === 'I32'
      ? 4
      : dtype === 'F16' || dtype === 'BF16' || dtype === 'I16'
        ? 2
        : 1;
}

/**
 * Sums what a model needs from its safetensors headers: the files, the converted float32 copies
 * of float16 weights (all graphs are float32 today, so the copy is made whatever the adapter), the
 * GPU weights, and an activation estimate at `sizePx` (CFG batch 2: the largest self-attention
 * score matrix, `2 · heads · tokens²` floats at the first UNet level, twice for softmax, plus 20%
 * of the weights for feature maps).
 */
export function memoryNeeds(components: readonly ComponentTensors[], sizePx: number, heads = 8): MemoryNeeds {
  let fileBytes = 0;
  let convertedBytes = 0;
  let gpuWeightBytes = 0;
  const componentBytes: Record<string, number> = {};
  let largest = { component: '', name: '', bytes: 0 };
  for (const { component, tensors } of components) {
    for (const t of tensors) {
      fileBytes += t.byteLength;
      if (UNUSED.test(t.name) || !['F16', 'BF16', 'F32'].includes(t.dtype)) continue;
      const f32 = elementBytes(t) * 4;
      if (t.dtype !== 'F32') convertedBytes += f32;
      gpuWeightBytes += f32;
      componentBytes[component] = (componentBytes[component] ?? 0) + f32;
      if (f32 > largest.bytes) largest = { component, name: t.name, bytes: f32 };
    }
  }
  const tokens = (sizePx / 8) ** 2;
  const activationBytes = 2 * 2 * heads * tokens * tokens * 4 + 0.2 * (componentBytes['unet'] ?? 0);
  return { fileBytes, convertedBytes, gpuWeightBytes, activationBytes, largest, componentBytes };
}

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e9 ? 2 : 1)} GB`;

/** One line for people: "3.4 GB to store (1.7 GB file + 1.7 GB converted), 4.2 GB of GPU memory". */
export function describeNeeds(needs: MemoryNeeds): string {
  const converted = needs.convertedBytes > 0 ? ` + ${gb(needs.convertedBytes)} converted to float32` : '';
  return `${gb(needs.fileBytes + needs.convertedBytes)} of storage (${gb(needs.fileBytes)} of weights${converted}), about ${gb(needs.gpuWeightBytes + needs.activationBytes)} of GPU memory (${gb(needs.gpuWeightBytes)} float32 weights + ${gb(needs.activationBytes)} activations)`;
}

/**
 * Refuses, before anything is converted or loaded, a model that cannot run: a weight larger than
 * one storage-buffer binding or buffer of the adapter, or a component whose float32 weights pass
 * {@link MAX_COMPONENT_WEIGHT_BYTES}. Throws 'unsupported-model' saying what and why.
 */
export function checkMemoryNeeds(needs: MemoryNeeds, adapter: AdapterLimits | undefined, label: string): void {
  const { largest } = needs;
  if (adapter) {
    const limit = Math.min(adapter.maxStorageBufferBindingSize, adapter.maxBufferSize);
    if (largest.bytes > limit)
      throw new SdError(
        'unsupported-model',
        `${label} cannot run on this GPU: its ${largest.component} weight ${largest.name} needs ${gb(largest.bytes)} as float32, over the adapter's ${gb(limit)} limit for one buffer (maxStorageBufferBindingSize ${adapter.maxStorageBufferBindingSize}, maxBufferSize ${adapter.maxBufferSize}). Use a GPU with larger limits.`,
      );
  }
  for (const [component, bytes] of Object.entries(needs.componentBytes)) {
    if (bytes > MAX_COMPONENT_WEIGHT_BYTES) {
      const f16 =
        adapter?.hasShaderF16 === false
          ? ' This adapter has no shader-f16, so float16 weights must be widened to float32.'
          : '';
      throw new SdError(
        'unsupported-model',
        `${label} cannot be loaded in the browser: its ${component} needs ${gb(bytes)} of float32 weights, and onnxruntime-web loads one model's weights through 4 GiB of 32-bit addressed memory (at most ${gb(MAX_COMPONENT_WEIGHT_BYTES)} per component).${f16} Models of SD 1.x/2.x size fit; SDXL's UNet does not. Needs: ${describeNeeds(needs)}.`,
      );
    }
  }
}
