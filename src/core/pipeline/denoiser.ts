import type { Tensor } from 'onnxruntime-common';
import type { LoadedModel } from '../models/load-model.ts';
import type { ValueInfo } from '../models/contracts.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { floatTensor, readFloats } from '../runtime/tensor-data.ts';
import type { Conditioning } from './conditioning.ts';

/** Text conditioning for both sides of classifier-free guidance. */
export interface GuidanceInputs {
  cond: Conditioning;
  /** Absent when guidance is off (cfg <= 1, or an LCM model with guidance embedded). */
  uncond?: Conditioning;
}

/** LCM's guidance-scale embedding (sinusoidal, as in the LCM pipeline's `get_guidance_scale_embedding`). */
export function guidanceEmbedding(cfg: number, dim: number): Float32Array {
  const w = (cfg - 1) * 1000;
  const half = Math.floor(dim / 2);
  const out = new Float32Array(dim);
  const base = Math.log(10000) / (half - 1);
  for (let i = 0; i < half; i++) {
    const arg = Math.fround(w * Math.fround(Math.exp(-base * i)));
    out[i] = Math.sin(arg);
    out[half + i] = Math.cos(arg);
  }
  return out;
}

function timestepTensor(runtime: Runtime, info: ValueInfo, t: number, batch: number): Tensor {
  const dims = info.shape.length === 0 ? [] : info.shape[0] === 1 ? [1] : [batch];
  const n = dims.length === 0 ? 1 : (dims[0] as number);
  switch (info.type) {
    case 'int64':
      // numpy's astype(int64) truncates toward zero
      return runtime.tensor('int64', new BigInt64Array(n).fill(BigInt(Math.trunc(t))), dims);
    case 'int32':
      return runtime.tensor('int32', new Int32Array(n).fill(Math.trunc(t)), dims);
    default:
      return floatTensor(runtime, info.type, new Float32Array(n).fill(t), dims);
  }
}

function repeat(values: Float32Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let i = 0; i < times; i++) out.set(values, i * values.length);
  return out;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Runs the UNet for one model call, with classifier-free guidance: one call of batch 2
 * ([uncond, cond], as diffusers does) when both sides have the same token length, else two calls.
 */
export class Denoiser {
  private readonly timeIds: Float32Array;
  private readonly lcmEmbedding: Float32Array | undefined;

  constructor(
    private readonly model: LoadedModel,
    private readonly runtime: Runtime,
    private readonly inputs: GuidanceInputs,
    private readonly cfg: number,
    width: number,
    height: number,
  ) {
    // SDXL micro-conditioning: original size, crop top-left, target size
    this.timeIds = Float32Array.of(height, width, 0, 0, height, width);
    const cond = model.unet.contract.timestepCond;
    const dim = cond && typeof cond.shape[1] === 'number' ? cond.shape[1] : 256;
    this.lcmEmbedding = cond ? guidanceEmbedding(cfg, dim) : undefined;
  }

  /** Noise prediction after guidance. @param sample Float32Array [1, 4, h, w], already scaled for the model input */
  async predict(sample: Float32Array, shape: readonly number[], timestep: number): Promise<Float32Array> {
    const { cond, uncond } = this.inputs;
    if (!uncond) return (await this.run([cond], sample, shape, timestep))[0]!;
    let u: Float32Array;
    let c: Float32Array;
    if (uncond.tokens === cond.tokens) {
      [u, c] = (await this.run([uncond, cond], sample, shape, timestep)) as [Float32Array, Float32Array];
    } else {
      u = (await this.run([uncond], sample, shape, timestep))[0]!;
      c = (await this.run([cond], sample, shape, timestep))[0]!;
    }
    const out = new Float32Array(c.length);
    const g = this.cfg;
    for (let i = 0; i < out.length; i++) {
      const ui = u[i] as number;
      out[i] = Math.fround(ui + Math.fround(g * Math.fround((c[i] as number) - ui)));
    }
    return out;
  }

  private async run(sides: Conditioning[], sample: Float32Array, shape: readonly number[], timestep: number): Promise<Float32Array[]> {
    const { contract, session } = this.model.unet;
    const rt = this.runtime;
    const batch = sides.length;
    const first = sides[0]!;
    const hidden = batch === 1 ? first.hidden : concat(sides[0]!.hidden, sides[1]!.hidden);
    const feeds: Record<string, Tensor> = {
      [contract.sample.name]: floatTensor(rt, contract.sample.type, batch === 1 ? sample : repeat(sample, batch), [batch, ...shape.slice(1)]),
      [contract.timestep.name]: timestepTensor(rt, contract.timestep, timestep, batch),
      [contract.encoderHiddenStates.name]: floatTensor(rt, contract.encoderHiddenStates.type, hidden, [batch, first.tokens, first.hiddenSize]),
    };
    if (contract.textEmbeds && contract.timeIds) {
      const pooled = batch === 1 ? first.pooled! : concat(sides[0]!.pooled!, sides[1]!.pooled!);
      feeds[contract.textEmbeds.name] = floatTensor(rt, contract.textEmbeds.type, pooled, [batch, pooled.length / batch]);
      feeds[contract.timeIds.name] = floatTensor(rt, contract.timeIds.type, repeat(this.timeIds, batch), [batch, 6]);
    }
    if (contract.timestepCond && this.lcmEmbedding) {
      const e = this.lcmEmbedding;
      feeds[contract.timestepCond.name] = floatTensor(rt, contract.timestepCond.type, repeat(e, batch), [batch, e.length]);
    }
    const result = await session.run(feeds, [contract.output.name]);
    const tensor = result[contract.output.name]!;
    const all = (await readFloats(tensor)).slice();
    tensor.dispose();
    const per = all.length / batch;
    return Array.from({ length: batch }, (_, i) => all.subarray(i * per, (i + 1) * per));
  }
}
