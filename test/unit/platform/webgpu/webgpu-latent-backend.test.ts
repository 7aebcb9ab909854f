/// <reference types="@webgpu/types" />
import { Tensor } from 'onnxruntime-common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DawnDevice } from '../../../../src/platform/webgpu/dawn.ts';
import { weightedSum } from '../../../../src/core/pipeline/cpu-latent-backend.ts';
import type { SourceId } from '../../../../src/core/runtime/latent-backend.ts';
import { TorchCpuGenerator } from '../../../../src/core/rng/torch-cpu-generator.ts';
import { fromHalfBits, toHalfBits } from '../../../../src/core/runtime/tensor-data.ts';
import { WebGpuLatentBackend, type GpuTensorClass } from '../../../../src/platform/webgpu/webgpu-latent-backend.ts';
import { openTestDevice, readBuffer } from './dawn.ts';

const SHAPE = [1, 4, 6, 8];
const N = 192;
const tensors = Tensor as unknown as GpuTensorClass;

let dawn: DawnDevice;
beforeAll(async () => {
  dawn = await openTestDevice();
});
afterAll(() => dawn?.device.destroy());

/** A combination's result as float32 values (float16 widened). */
async function values(tensor: Tensor): Promise<Float32Array> {
  const bytes = await readBuffer(dawn.device, tensor.gpuBuffer as GPUBuffer);
  return tensor.type === 'float16' ? fromHalfBits(new Uint16Array(bytes)) : new Float32Array(bytes);
}

/** |gpu - cpu| within float32 rounding of the terms' size (the GPU may fuse multiply-adds). */
function expectClose(gpu: Float32Array, cpu: Float32Array, size: Float32Array, rel = 1e-6): void {
  for (let i = 0; i < cpu.length; i++)
    expect(Math.abs(gpu[i]! - cpu[i]!)).toBeLessThanOrEqual(rel * size[i % size.length]! + 1e-30);
}

describe('WebGpuLatentBackend on Dawn', () => {
  it('combines float32 uploads and float16 model outputs as the CPU backend does, over chained passes', async () => {
    const backend = new WebGpuLatentBackend(dawn.device, tensors, { latentShape: SHAPE });
    const rng = new TorchCpuGenerator(5);
    const cpu = new Map<SourceId, Float32Array>();
    for (let k = 0; k < 9; k++) {
      const v = rng.randn(SHAPE).map((x) => x * (k + 1));
      cpu.set(backend.upload(v), v);
    }
    // a float16 "UNet output" of batch 2, adopted in place: its halves are two sources at offsets 0 and N
    const halfBits = toHalfBits(rng.randn([2, ...SHAPE.slice(1)]));
    const buffer = dawn.device.createBuffer({
      size: halfBits.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    dawn.device.queue.writeBuffer(buffer, 0, halfBits as Uint16Array<ArrayBuffer>);
    let disposed = false;
    const output = Tensor.fromGpuBuffer(buffer, {
      dataType: 'float16',
      dims: [2, ...SHAPE.slice(1)],
      dispose: () => (disposed = true),
    });
    const halves = await backend.adoptOutput(output, 2);
    const widened = fromHalfBits(halfBits);
    halves.forEach((id, h) => cpu.set(id, widened.subarray(h * N, (h + 1) * N)));
    const ids = [...cpu.keys()];
    for (const count of [0, 1, 6, 7, 11]) {
      const chosen = ids.slice(ids.length - count);
      const coefficients = Float32Array.from(chosen, (_, j) => (j % 4 === 3 ? 0 : Math.fround(0.37 * (j + 1) - 1.3)));
      const sum = { sources: chosen, coefficients };
      const size = weightedSum(
        { sources: chosen, coefficients: coefficients.map(Math.abs) },
        (id) => cpu.get(id)!.map(Math.abs),
        N,
      );
      for (const [replicas, scale] of [
        [1, 1],
        [2, 0.18215],
      ] as const) {
        const expected = weightedSum(sum, (id) => cpu.get(id)!, N, scale);
        const f32 = backend.combine(sum, { scale, replicas, type: 'float32' });
        expect(f32.dims).toEqual([replicas, 4, 6, 8]);
        const got = await values(f32);
        for (let r = 0; r < replicas; r++)
          expectClose(
            got.subarray(r * N, (r + 1) * N),
            expected,
            size.map((s) => s * scale),
          );
        f32.dispose();
        // float16 output: the float32 result rounded once more (to the nearest or a neighbouring half)
        const f16 = backend.combine(sum, { scale, replicas, type: 'float16' });
        const half = await values(f16);
        const rounded = fromHalfBits(toHalfBits(expected));
        for (let i = 0; i < N; i++)
          expect(Math.abs(half[i]! - rounded[i]!)).toBeLessThanOrEqual(Math.abs(rounded[i]!) * 2 ** -10 + 1e-7);
        f16.dispose();
      }
      expectClose(
        await backend.read(sum),
        weightedSum(sum, (id) => cpu.get(id)!, N),
        size,
      );
    }
    expect(backend.readCount).toBe(5);
    backend.release([halves[0]!]);
    expect(disposed).toBe(false);
    backend.release([halves[1]!]);
    expect(disposed).toBe(true);
    expect(() =>
      backend.combine(
        { sources: [halves[0]!], coefficients: Float32Array.of(1) },
        { scale: 1, replicas: 1, type: 'float32' },
      ),
    ).toThrow(/released/);
    backend.dispose();
    buffer.destroy();
  });

  it('keeps constants on the device, float16 padded to whole words', async () => {
    const backend = new WebGpuLatentBackend(dawn.device, tensors, { latentShape: SHAPE });
    const ids = Float32Array.of(64, 128, 0, 0, 6);
    const t = backend.constant('float16', ids, [1, 5]);
    expect(t.location).toBe('gpu-buffer');
    expect(
      Array.from(fromHalfBits(new Uint16Array(await readBuffer(dawn.device, t.gpuBuffer as GPUBuffer, 12)))).slice(
        0,
        5,
      ),
    ).toEqual([64, 128, 0, 0, 6]);
    backend.dispose();
  });
});
