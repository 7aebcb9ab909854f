import { Tensor } from 'onnxruntime-common';
import type { CpuDenoiser } from '../../../src/core/pipeline/cpu-loop.ts';
import type { DeviceDenoiser } from '../../../src/core/pipeline/device-loop.ts';
import { guide } from '../../../src/core/pipeline/guidance.ts';
import type { FloatType } from '../../../src/core/runtime/latent-backend.ts';
import type { Runtime } from '../../../src/core/runtime/runtime.ts';
import type { RawSchedulerConfig } from '../../../src/core/schedulers/scheduler.ts';
import { idealModel, LATENT_SIZE } from '../schedulers/harness.ts';

/** A runtime without sessions: only onnxruntime-common's CPU tensors (enough for the loops and the CPU backend). */
export const TENSOR_RUNTIME: Runtime = {
  name: 'tensors only',
  createSession: () => Promise.reject(new Error('no sessions in this test')),
  tensor: (type, data, dims) => new Tensor(type, data, dims),
};

/** Two smooth, different "clean images" for the two sides of guidance. */
function clean(phase: number): Float32Array {
  return Float32Array.from({ length: LATENT_SIZE }, (_, i) => Math.sin(i * 0.37 + phase) * 0.8);
}

/**
 * A stand-in UNet with both sides of guidance: the ideal denoiser of a different point for the
 * unconditional and the prompt side, bent by a tanh so the model is not linear in its input (as a
 * real UNet is not). It serves the CPU loop (`predict`) and the device loop (`run` on CPU tensors).
 * @param passes as the real Denoiser: [2] batched guidance, [1, 1] two runs, [1] no guidance
 */
export class SyntheticUnet implements CpuDenoiser, DeviceDenoiser {
  readonly sampleType: FloatType = 'float32';
  readonly outputType: FloatType = 'float32';
  runs = 0;
  private readonly sides: ((x: Float32Array, t: number) => Float32Array)[];

  constructor(
    config: RawSchedulerConfig,
    readonly passes: readonly number[],
    private readonly scale: number,
  ) {
    const bend = (f: (x: Float32Array, t: number) => Float32Array) => (x: Float32Array, t: number) =>
      f(x, t).map((v) => 2 * Math.tanh(v / 2));
    const uncond = bend(idealModel(config, clean(1)));
    const cond = bend(idealModel(config, clean(0)));
    this.sides = passes.reduce((n, p) => n + p, 0) === 2 ? [uncond, cond] : [cond];
  }

  async predict(sample: Float32Array, _shape: readonly number[], timestep: number): Promise<Float32Array> {
    const [u, c] = this.sides.map((side) => side(sample, timestep));
    return c ? guide(u!, c, this.scale) : u!;
  }

  async run(pass: number, sample: Tensor, timestep: number): Promise<Tensor> {
    this.runs++;
    const batch = this.passes[pass] as number;
    const first = this.passes.slice(0, pass).reduce((n, p) => n + p, 0);
    const data = sample.data as Float32Array;
    const out = new Float32Array(data.length);
    for (let b = 0; b < batch; b++) {
      const x = data.subarray(b * LATENT_SIZE, (b + 1) * LATENT_SIZE);
      out.set(this.sides[first + b]!(x, timestep), b * LATENT_SIZE);
    }
    return new Tensor('float32', out, sample.dims);
  }
}
