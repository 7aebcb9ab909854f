import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { floatTensor, readFloats } from '../runtime/tensor-data.ts';
import type {
  CombineOptions,
  FloatType,
  LatentBackend,
  LatentBackendOptions,
  SourceId,
  WeightedSum,
} from '../runtime/latent-backend.ts';

/**
 * Σ_j c_j · src_j in float32, in source order, one rounding per multiply and per add, then times
 * `scale` (one more rounding): the arithmetic the WebGPU kernel does (a GPU may fuse a multiply-add,
 * which moves the last bit).
 */
export function weightedSum(
  sum: WeightedSum,
  values: (id: SourceId) => Float32Array,
  length: number,
  scale = 1,
): Float32Array {
  const acc = new Float32Array(length);
  sum.sources.forEach((id, j) => {
    const c = sum.coefficients[j] as number;
    if (c === 0) return;
    const src = values(id);
    for (let i = 0; i < length; i++) acc[i] = (acc[i] as number) + Math.fround(c * (src[i] as number));
  });
  const s = Math.fround(scale);
  if (s !== 1) for (let i = 0; i < length; i++) acc[i] = (acc[i] as number) * s;
  return acc;
}

/**
 * The `LatentBackend` on plain Float32Arrays. On a CPU runtime it runs the device loop with no gain;
 * it exists to prove, in Node, that the device loop's arithmetic gives the CPU loop's latents.
 */
export class CpuLatentBackend implements LatentBackend {
  readonly name = 'cpu';
  readCount = 0;
  private readonly sources = new Map<SourceId, Float32Array>();
  private nextId = 0;
  private readonly length: number;
  private readonly latentShape: readonly number[];

  constructor(
    private readonly runtime: Runtime,
    { latentShape }: LatentBackendOptions,
  ) {
    this.latentShape = [...latentShape];
    this.length = latentShape.reduce((a, b) => a * b, 1);
  }

  upload(values: Float32Array): SourceId {
    if (values.length !== this.length) {
      throw new SdError('internal', `A latent source needs ${this.length} values, got ${values.length}.`);
    }
    const id = this.nextId++;
    this.sources.set(id, values.slice());
    return id;
  }

  combine(sum: WeightedSum, { scale, replicas, type }: CombineOptions): Tensor {
    const one = weightedSum(sum, (id) => this.get(id), this.length, scale);
    const data = new Float32Array(this.length * replicas);
    for (let r = 0; r < replicas; r++) data.set(one, r * this.length);
    return floatTensor(this.runtime, type, data, [replicas, ...this.latentShape.slice(1)]);
  }

  constant(type: FloatType, values: Float32Array, dims: readonly number[]): Tensor {
    return floatTensor(this.runtime, type, values, dims);
  }

  async adoptOutput(tensor: Tensor, halves: number): Promise<SourceId[]> {
    const all = await readFloats(tensor);
    if (all.length !== this.length * halves) {
      throw new SdError(
        'internal',
        `A model output of ${all.length} values cannot be ${halves} latents of ${this.length}.`,
      );
    }
    const ids = Array.from({ length: halves }, (_, h) =>
      this.upload(all.subarray(h * this.length, (h + 1) * this.length)),
    );
    tensor.dispose();
    return ids;
  }

  async read(sum: WeightedSum): Promise<Float32Array> {
    this.readCount++;
    return weightedSum(sum, (id) => this.get(id), this.length);
  }

  release(ids: readonly SourceId[]): void {
    for (const id of ids) this.sources.delete(id);
  }

  dispose(): void {
    this.sources.clear();
  }

  private get(id: SourceId): Float32Array {
    const src = this.sources.get(id);
    if (!src) throw new SdError('internal', `Latent source ${id} was released or never made.`);
    return src;
  }
}
