import type { Tensor } from 'onnxruntime-common';

/**
 * Keeps the denoising loop's latent-sized arrays where the models run (GPU buffers on WebGPU), so
 * that no latents travel to the CPU between model calls.
 *
 * Every array the loop produces (the latents, the guided model output, x0 previews) is, elementwise,
 * a linear combination of "sources" with coefficients that are the same for every element: the
 * starting noise, img2img init latents, each half of each UNet output and each noise draw. The
 * backend stores the sources and materialises combinations of them on demand; the coefficients
 * come from running the real scheduler on coefficient vectors (see `linear-plan.ts`).
 */
export interface LatentBackend {
  /** For logs and benchmarks, e.g. "webgpu" or "cpu". */
  readonly name: string;
  /**
   * Latent-sized transfers to the CPU so far: `read()` calls, and (device backends) model outputs
   * that arrived on the CPU and had to be uploaded again. The loop's target is 0 between steps.
   */
  readonly readCount: number;
  /** Adds a source from CPU values (starting noise, init latents, a noise draw): Float32Array [1, 4, h, w]. */
  upload(values: Float32Array): SourceId;
  /**
   * Σ_j coefficients[j] · source_j, times `scale`, repeated `replicas` times along the batch axis, as a
   * model input: a tensor [replicas, 4, h, w] of `type`, owned by the caller (dispose it after the run).
   */
  combine(sum: WeightedSum, options: CombineOptions): Tensor;
  /**
   * A model input that stays the same for every call of a generation (text conditioning, SDXL
   * embeddings and time ids), placed on the device once; owned by the backend until `dispose`.
   */
  constant(type: FloatType, values: Float32Array, dims: readonly number[]): Tensor;
  /**
   * A tensor to bind as the model output of a call (onnxruntime's pre-allocated `fetches`), so the
   * output lands in memory the backend owns; undefined lets the session allocate it.
   */
  outputTensor?(type: FloatType, dims: readonly number[]): Tensor | undefined;
  /**
   * Takes ownership of a model output [halves, 4, h, w] and makes each batch item a source, in batch
   * order. Device outputs are kept where they are (no copy); the tensor is disposed when its last
   * source is released.
   */
  adoptOutput(tensor: Tensor, halves: number): Promise<SourceId[]>;
  /** Σ_j coefficients[j] · source_j on the CPU (previews; the final latents of a CPU backend). Counted in `readCount`. */
  read(sum: WeightedSum): Promise<Float32Array>;
  /** Frees sources no later combination uses; ids already released are ignored. */
  release(ids: readonly SourceId[]): void;
  /** Frees every source and constant. The backend must not be used afterwards. */
  dispose(): void;
}

/** A backend's handle of one stored latent-sized array. */
export type SourceId = number;

/** Element types of latent-sized model inputs and outputs. */
export type FloatType = 'float32' | 'float16';

/** A linear combination of sources. Zero coefficients may be left out or kept; they cost nothing. */
export interface WeightedSum {
  readonly sources: readonly SourceId[];
  /** float32 coefficients, one per source. */
  readonly coefficients: Float32Array;
}

export interface CombineOptions {
  /** Multiplies the sum (the scheduler's input scaling, 1 / the VAE factor). */
  scale: number;
  /** Copies along the batch axis (2 for a classifier-free guidance batch). */
  replicas: number;
  type: FloatType;
}

/** What a backend is made for: one generation's latent shape. */
export interface LatentBackendOptions {
  /** [1, 4, h, w]: latents of one image. */
  latentShape: readonly number[];
}
