import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
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

/**
 * LCM's guidance-scale embedding (diffusers' `get_guidance_scale_embedding`, fed to the UNet as
 * `timestep_cond`): sinusoids of w = (cfg - 1) * 1000, sines then cosines, a zero appended for an odd
 * `dim`. Every operation is rounded to float32 as torch computes it: arguments reach several thousand
 * radians, where a double-precision argument would move the sine by up to 3e-4.
 * @returns Float32Array [dim]
 */
export function guidanceEmbedding(cfg: number, dim: number): Float32Array {
  const f = Math.fround;
  // diffusers subtracts 1: its CFG formula is the Imagen one, LCM's w was trained on the paper's
  const w = f(f(cfg - 1) * 1000);
  const half = Math.floor(dim / 2);
  const out = new Float32Array(dim);
  const base = f(f(Math.log(10000)) / (half - 1));
  for (let i = 0; i < half; i++) {
    const arg = f(w * f(Math.exp(f(i * -base))));
    out[i] = Math.sin(arg);
    out[half + i] = Math.cos(arg);
  }
  return out;
}

/**
 * The timestep as the UNet declares it. Integer inputs get the value truncated toward zero, as diffusers'
 * ONNX pipeline does (`np.array([t], dtype=int64)`); float16 inputs round it (946.42 becomes 946.5).
 * A declared batch of 1 (or a scalar) gets one value even for a CFG batch of 2, as that pipeline passes it.
 */
function timestepTensor(runtime: Runtime, info: ValueInfo, t: number, batch: number): Tensor {
  const dims = info.shape.length === 0 ? [] : info.shape[0] === 1 ? [1] : [batch];
  const n = dims.length === 0 ? 1 : (dims[0] as number);
  switch (info.type) {
    case 'int64':
      return runtime.tensor('int64', new BigInt64Array(n).fill(BigInt(Math.trunc(t))), dims);
    case 'int32':
      return runtime.tensor('int32', new Int32Array(n).fill(Math.trunc(t)), dims);
    default:
      return floatTensor(runtime, info.type, new Float32Array(n).fill(t), dims);
  }
}

/** Batch concatenation; a single part is passed through uncopied (model inputs are never written to). */
function concat(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** diffusers' SDXL img2img defaults for refiner-style UNets (`requires_aesthetics_score`). */
const AESTHETIC_SCORE = 6;
const NEGATIVE_AESTHETIC_SCORE = 2.5;

/**
 * SDXL micro-conditioning for one side of guidance (diffusers' `_get_add_time_ids`): original size,
 * crop top-left (0, 0), then the target size, or for refiner UNets (5 values) the aesthetic score.
 * Sizes are in image pixels, height first.
 */
export function sdxlTimeIds(width: number, height: number, withAestheticScore: boolean, isNegative: boolean): Float32Array {
  if (withAestheticScore) return Float32Array.of(height, width, 0, 0, isNegative ? NEGATIVE_AESTHETIC_SCORE : AESTHETIC_SCORE);
  return Float32Array.of(height, width, 0, 0, height, width);
}

/** One side of guidance as the UNet is fed: text conditioning plus its SDXL time ids. */
interface Side {
  cond: Conditioning;
  timeIds: Float32Array;
}

/**
 * Runs the UNet for one model call, with classifier-free guidance: one call of batch 2
 * ([uncond, cond], as diffusers does) when both sides have the same token length and the model takes
 * a batch of 2, else two calls of batch 1.
 */
export class Denoiser {
  private readonly sides: { cond: Side; uncond: Side | undefined };
  private readonly canBatch: boolean;
  private readonly lcmEmbedding: Float32Array | undefined;
  private readonly cfg: number;

  constructor(
    private readonly model: LoadedModel,
    private readonly runtime: Runtime,
    inputs: GuidanceInputs,
    cfg: number,
    width: number,
    height: number,
  ) {
    const { contract } = model.unet;
    const idsLength = contract.timeIds?.shape[1];
    const aesthetic = typeof idsLength === 'number' ? idsLength === 5 : model.requiresAestheticsScore;
    this.sides = {
      cond: { cond: inputs.cond, timeIds: sdxlTimeIds(width, height, aesthetic, false) },
      uncond: inputs.uncond && { cond: inputs.uncond, timeIds: sdxlTimeIds(width, height, aesthetic, true) },
    };
    for (const side of [inputs.cond, inputs.uncond]) if (side) checkConditioning(contract.encoderHiddenStates, side);
    // exports with a fixed batch of 1 cannot take [uncond, cond] in one call
    const fixedBatch = (v: ValueInfo | undefined): boolean => v !== undefined && v.shape[0] === 1;
    this.canBatch = !fixedBatch(contract.sample) && !fixedBatch(contract.encoderHiddenStates) && inputs.uncond?.tokens === inputs.cond.tokens;
    // torch multiplies float32 tensors by the scale rounded to float32
    this.cfg = Math.fround(cfg);
    const tc = contract.timestepCond;
    const dim = tc && typeof tc.shape[1] === 'number' ? tc.shape[1] : 256;
    this.lcmEmbedding = tc ? guidanceEmbedding(cfg, dim) : undefined;
  }

  /** Noise prediction after guidance. @param sample Float32Array [1, 4, h, w], already scaled for the model input */
  async predict(sample: Float32Array, shape: readonly number[], timestep: number): Promise<Float32Array> {
    const { cond, uncond } = this.sides;
    if (!uncond) return (await this.run([cond], sample, shape, timestep))[0]!;
    let u: Float32Array;
    let c: Float32Array;
    if (this.canBatch) {
      [u, c] = (await this.run([uncond, cond], sample, shape, timestep)) as [Float32Array, Float32Array];
    } else {
      u = (await this.run([uncond], sample, shape, timestep))[0]!;
      c = (await this.run([cond], sample, shape, timestep))[0]!;
    }
    // diffusers: uncond + scale * (cond - uncond), each operation rounded to float32
    const out = new Float32Array(c.length);
    const g = this.cfg;
    for (let i = 0; i < out.length; i++) {
      const ui = u[i] as number;
      out[i] = ui + Math.fround(g * Math.fround((c[i] as number) - ui));
    }
    return out;
  }

  private async run(sides: Side[], sample: Float32Array, shape: readonly number[], timestep: number): Promise<Float32Array[]> {
    const { contract, session } = this.model.unet;
    const rt = this.runtime;
    const batch = sides.length;
    const first = sides[0]!.cond;
    const feeds: Record<string, Tensor> = {
      [contract.sample.name]: floatTensor(rt, contract.sample.type, concat(sides.map(() => sample)), [batch, ...shape.slice(1)]),
      [contract.timestep.name]: timestepTensor(rt, contract.timestep, timestep, batch),
      [contract.encoderHiddenStates.name]: floatTensor(rt, contract.encoderHiddenStates.type, concat(sides.map((s) => s.cond.hidden)), [batch, first.tokens, first.hiddenSize]),
    };
    if (contract.textEmbeds && contract.timeIds) {
      const pooled = sides.map((s) => s.cond.pooled);
      if (pooled.some((p) => p === undefined)) {
        throw new SdError('unknown-contract', 'The UNet takes "text_embeds" (SDXL) but the text encoder gave no pooled output ("text_embeds" of text_encoder_2). Use a complete SDXL export.');
      }
      const p = concat(pooled as Float32Array[]);
      feeds[contract.textEmbeds.name] = floatTensor(rt, contract.textEmbeds.type, p, [batch, p.length / batch]);
      const ids = concat(sides.map((s) => s.timeIds));
      feeds[contract.timeIds.name] = floatTensor(rt, contract.timeIds.type, ids, [batch, ids.length / batch]);
    }
    if (contract.timestepCond && this.lcmEmbedding) {
      const e = this.lcmEmbedding;
      feeds[contract.timestepCond.name] = floatTensor(rt, contract.timestepCond.type, concat(sides.map(() => e)), [batch, e.length]);
    }
    const result = await session.run(feeds, [contract.output.name]);
    const tensor = result[contract.output.name]!;
    const all = (await readFloats(tensor)).slice();
    tensor.dispose();
    const per = all.length / batch;
    return Array.from({ length: batch }, (_, i) => all.subarray(i * per, (i + 1) * per));
  }
}

/**
 * Checks conditioning against the UNet's declared `encoder_hidden_states` before the first call, so a
 * mismatch reads as a message rather than a runtime shape error.
 */
function checkConditioning(info: ValueInfo, c: Conditioning): void {
  const [, tokens, width] = info.shape;
  if (typeof width === 'number' && width !== c.hiddenSize) {
    throw new SdError('unknown-contract', `The text encoder(s) give ${c.hiddenSize} features per token but the UNet expects ${width}: the text encoder and UNet do not belong to the same model. Re-download the model.`);
  }
  // a UNet exported with a fixed token length (77) cannot take chunked prompts
  if (typeof tokens === 'number' && tokens !== c.tokens) {
    throw new SdError(
      'bad-argument',
      `The prompt needs ${c.tokens} conditioning tokens (${c.tokens / 77} chunks of 77) but this UNet was exported for exactly ${tokens}. Shorten the prompt to at most 75 tokens and remove BREAK, or use an export with a dynamic sequence length.`,
    );
  }
}
