/// <reference types="@webgpu/types" />
import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../../core/errors.ts';
import type * as Latent from '../../core/runtime/latent-backend.ts';
import { readFloats, toHalfBits } from '../../core/runtime/tensor-data.ts';
import {
  createCombinePipeline,
  packParams,
  PARAMS_STRIDE,
  SOURCES_PER_PASS,
  WORKGROUP_SIZE,
  type PassSource,
} from './combine-kernel.ts';

/**
 * The `Tensor` class of the onnxruntime module whose sessions take the tensors (onnxruntime-web's own:
 * a session checks pre-allocated outputs with `instanceof`).
 */
export interface GpuTensorClass {
  fromGpuBuffer(
    buffer: GPUBuffer,
    options: { dataType: Latent.FloatType; dims: readonly number[]; dispose?: () => void },
  ): Tensor;
}

/** Usage of every latent-sized buffer: bound as storage by the kernel and by onnxruntime, copied both ways. */
function storageUsage(): number {
  // read when called, not at import: the module loads in workers that end up without WebGPU
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

/** A stored source: a range of a buffer, and who frees the buffer when its last source goes. */
interface Source {
  buffer: GPUBuffer;
  /** First element in the buffer. */
  offset: number;
  isHalf: boolean;
  owner: { refs: number; free: () => void };
}

/**
 * `LatentBackend` on WebGPU, on the device the onnxruntime-web sessions use. Sources are GPU
 * buffers: uploads, and UNet outputs adopted where onnxruntime left them (no copy); combinations run
 * as the kernel of `combine-kernel.ts` and come out as `Tensor.fromGpuBuffer` tensors the sessions
 * take as inputs. Buffers of one size are recycled: every use is ordered by the device queue.
 */
export class WebGpuLatentBackend implements Latent.LatentBackend {
  readonly name = 'webgpu';
  readCount = 0;
  private readonly length: number;
  private readonly latentShape: readonly number[];
  private readonly sources = new Map<Latent.SourceId, Source>();
  private nextId = 0;
  private readonly pipeline: GPUComputePipeline;
  private readonly layout: GPUBindGroupLayout;
  /** Bound where a pass has no accumulator input (a binding cannot be left empty). */
  private readonly empty: GPUBuffer;
  private params: GPUBuffer;
  private readonly free = new Map<number, GPUBuffer[]>();
  /** Every buffer this backend made (destroyed by `dispose`), and those waiting in `free`. */
  private readonly owned = new Set<GPUBuffer>();
  private readonly idle = new Set<GPUBuffer>();
  private readonly constants: Tensor[] = [];

  /**
   * @param preallocateOutputs bind UNet outputs to buffers of this backend (onnxruntime's pre-allocated
   *   outputs); false leaves them to the session (then create it with `preferredOutputLocation: 'gpu-buffer'`)
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly tensors: GpuTensorClass,
    { latentShape }: Latent.LatentBackendOptions,
    private readonly preallocateOutputs = true,
  ) {
    this.latentShape = [...latentShape];
    this.length = latentShape.reduce((a, b) => a * b, 1);
    if (this.length % 2 !== 0)
      throw new SdError('internal', `Latents of ${this.length} values: the kernel needs an even count.`);
    ({ pipeline: this.pipeline, layout: this.layout } = createCombinePipeline(device));
    this.empty = this.take(16, storageUsage());
    this.params = this.take(PARAMS_STRIDE * 4, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  upload(values: Float32Array): Latent.SourceId {
    if (values.length !== this.length)
      throw new SdError('internal', `A latent source needs ${this.length} values, got ${values.length}.`);
    const buffer = this.take(values.byteLength, storageUsage());
    // latents are made by the pipeline in ordinary memory, never in a SharedArrayBuffer
    this.device.queue.writeBuffer(buffer, 0, values as Float32Array<ArrayBuffer>);
    return this.add({ buffer, offset: 0, isHalf: false, owner: { refs: 1, free: () => this.give(buffer) } });
  }

  combine(sum: Latent.WeightedSum, { scale, replicas, type }: Latent.CombineOptions): Tensor {
    const bytes = this.length * replicas * (type === 'float16' ? 2 : 4);
    const buffer = this.take(bytes, storageUsage());
    this.run(sum, buffer, scale, replicas, type === 'float16');
    return this.tensors.fromGpuBuffer(buffer, {
      dataType: type,
      dims: [replicas, ...this.latentShape.slice(1)],
      dispose: () => this.give(buffer),
    });
  }

  constant(type: Latent.FloatType, values: Float32Array, dims: readonly number[]): Tensor {
    const data = type === 'float16' ? toHalfBits(values) : values;
    // writeBuffer takes whole 4-byte words
    const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
    padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const buffer = this.take(padded.byteLength, storageUsage());
    this.device.queue.writeBuffer(buffer, 0, padded);
    const tensor = this.tensors.fromGpuBuffer(buffer, { dataType: type, dims, dispose: () => this.give(buffer) });
    this.constants.push(tensor);
    return tensor;
  }

  outputTensor(type: Latent.FloatType, dims: readonly number[]): Tensor | undefined {
    if (!this.preallocateOutputs) return undefined;
    const buffer = this.take(dims.reduce((a, b) => a * b, 1) * (type === 'float16' ? 2 : 4), storageUsage());
    return this.tensors.fromGpuBuffer(buffer, { dataType: type, dims, dispose: () => this.give(buffer) });
  }

  async adoptOutput(tensor: Tensor, halves: number): Promise<Latent.SourceId[]> {
    if (tensor.size !== this.length * halves) {
      throw new SdError(
        'internal',
        `A model output of ${tensor.size} values cannot be ${halves} latents of ${this.length}.`,
      );
    }
    if (tensor.location !== 'gpu-buffer') {
      // the session read it back: upload it again, and count the read
      const values = await readFloats(tensor);
      this.readCount += halves;
      const ids = Array.from({ length: halves }, (_, h) =>
        this.upload(values.subarray(h * this.length, (h + 1) * this.length)),
      );
      tensor.dispose();
      return ids;
    }
    const owner = { refs: halves, free: () => tensor.dispose() };
    const buffer = tensor.gpuBuffer as GPUBuffer;
    return Array.from({ length: halves }, (_, h) =>
      this.add({ buffer, offset: h * this.length, isHalf: tensor.type === 'float16', owner }),
    );
  }

  async read(sum: Latent.WeightedSum): Promise<Float32Array> {
    this.readCount++;
    const bytes = this.length * 4;
    const buffer = this.take(bytes, storageUsage());
    this.run(sum, buffer, 1, 1, false);
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.give(buffer);
    try {
      await staging.mapAsync(GPUMapMode.READ);
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  release(ids: readonly Latent.SourceId[]): void {
    for (const id of ids) {
      const source = this.sources.get(id);
      if (!source) continue;
      this.sources.delete(id);
      if (--source.owner.refs === 0) source.owner.free();
    }
  }

  dispose(): void {
    this.release([...this.sources.keys()]);
    for (const tensor of this.constants.splice(0)) tensor.dispose();
    for (const buffer of this.owned) buffer.destroy();
    this.owned.clear();
    this.idle.clear();
    this.free.clear();
  }

  private add(source: Source): Latent.SourceId {
    const id = this.nextId++;
    this.sources.set(id, source);
    return id;
  }

  /**
   * Encodes and submits the passes of one sum into `out`: sources in order, `SOURCES_PER_PASS` per
   * pass, partial sums through two float32 scratch buffers.
   */
  private run(sum: Latent.WeightedSum, out: GPUBuffer, scale: number, replicas: number, halfOutput: boolean): void {
    const terms: PassSource[] = [];
    sum.sources.forEach((id, j) => {
      const coefficient = sum.coefficients[j] as number;
      if (coefficient === 0) return;
      const s = this.sources.get(id);
      if (!s) throw new SdError('internal', `Latent source ${id} was released or never made.`);
      terms.push({ buffer: s.buffer, offset: s.offset, isHalf: s.isHalf, coefficient });
    });
    const passes = Math.max(1, Math.ceil(terms.length / SOURCES_PER_PASS));
    const pairs = this.length / 2;
    if (this.params.size < passes * PARAMS_STRIDE) {
      this.give(this.params);
      this.params = this.take(passes * 2 * PARAMS_STRIDE, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    }
    const scratch =
      passes > 1 ? [this.take(this.length * 4, storageUsage()), this.take(this.length * 4, storageUsage())] : [];
    const encoder = this.device.createCommandEncoder({ label: 'latent combine' });
    for (let p = 0; p < passes; p++) {
      const chunk = terms.slice(p * SOURCES_PER_PASS, (p + 1) * SOURCES_PER_PASS);
      const final = p === passes - 1;
      const params = packParams({ pairs, replicas, sources: chunk, accumulate: p > 0, final, halfOutput, scale });
      this.device.queue.writeBuffer(this.params, p * PARAMS_STRIDE, params);
      const target = final ? out : (scratch[p % 2] as GPUBuffer);
      const accIn = p > 0 ? (scratch[(p - 1) % 2] as GPUBuffer) : this.empty;
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: this.params, offset: p * PARAMS_STRIDE, size: params.byteLength } },
        { binding: 1, resource: { buffer: accIn } },
        { binding: 2, resource: { buffer: target } },
        ...Array.from({ length: SOURCES_PER_PASS }, (_, j) => ({
          binding: 3 + j,
          resource: { buffer: chunk[j]?.buffer ?? this.empty },
        })),
      ];
      const pass = encoder.beginComputePass();
      pass.setPipeline(this.pipeline);
      pass.setBindGroup(0, this.device.createBindGroup({ layout: this.layout, entries }));
      pass.dispatchWorkgroups(Math.ceil(pairs / WORKGROUP_SIZE));
      pass.end();
    }
    this.device.queue.submit([encoder.finish()]);
    for (const b of scratch) this.give(b);
  }

  /** A recycled buffer of exactly `size` bytes and `usage`, or a new one. */
  private take(size: number, usage: number): GPUBuffer {
    const key = size * 1024 + usage;
    const buffer = this.free.get(key)?.pop() ?? this.device.createBuffer({ size, usage, label: 'latents' });
    this.owned.add(buffer);
    this.idle.delete(buffer);
    return buffer;
  }

  private give(buffer: GPUBuffer): void {
    // after dispose, or a second dispose of the same tensor
    if (!this.owned.has(buffer) || this.idle.has(buffer)) return;
    this.idle.add(buffer);
    const key = buffer.size * 1024 + buffer.usage;
    const list = this.free.get(key) ?? [];
    list.push(buffer);
    this.free.set(key, list);
  }
}
