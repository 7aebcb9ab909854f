import { concatFloats } from '../io/concat.ts';
import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { LoadedModel } from '../models/load-model.ts';
import type { ValueInfo } from '../models/contracts.ts';
import type { ElementType, Runtime } from '../runtime/runtime.ts';
import { floatTensor, readFloats } from '../runtime/tensor-data.ts';
import type { Conditioning } from './conditioning.ts';
import type { ControlResiduals } from './control-residuals.ts';
import type { CpuDenoiser } from './cpu-loop.ts';
import type { DeviceDenoiser } from './device-loop.ts';
import { guide, guidanceScale } from './guidance.ts';
import type { FloatType } from '../runtime/latent-backend.ts';

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

/** diffusers' SDXL img2img defaults for refiner-style UNets (`requires_aesthetics_score`). */
const AESTHETIC_SCORE = 6;
const NEGATIVE_AESTHETIC_SCORE = 2.5;

/**
 * SDXL micro-conditioning for one side of guidance (diffusers' `_get_add_time_ids`): original size,
 * crop top-left (0, 0), then the target size, or for refiner UNets (5 values) the aesthetic score.
 * Sizes are in image pixels, height first.
 */
export function sdxlTimeIds(
  width: number,
  height: number,
  withAestheticScore: boolean,
  isNegative: boolean,
): Float32Array {
  if (withAestheticScore)
    return Float32Array.of(height, width, 0, 0, isNegative ? NEGATIVE_AESTHETIC_SCORE : AESTHETIC_SCORE);
  return Float32Array.of(height, width, 0, 0, height, width);
}

/** One side of guidance as the UNet is fed: text conditioning plus its SDXL time ids. */
interface Side {
  cond: Conditioning;
  timeIds: Float32Array;
}

/** Makes a model input that stays the same for every call (the CPU path: a plain tensor; the device loop: a device buffer). */
export type ConstantInput = (type: ElementType, values: Float32Array, dims: readonly number[]) => Tensor;

/**
 * Runs the UNet for one model call, with classifier-free guidance: one call of batch 2
 * ([uncond, cond], as diffusers does) when both sides have the same token length and the model takes
 * a batch of 2, else two calls of batch 1.
 */
export class Denoiser implements CpuDenoiser, DeviceDenoiser {
  /** Batch size of each UNet run of one model call: [2] (batched guidance), [1, 1] (uncond then cond) or [1]. */
  readonly passes: readonly number[];
  readonly guidanceScale: number;
  readonly sampleType: FloatType;
  readonly outputType: FloatType;
  /** The sides each pass feeds, in batch order. */
  private readonly passSides: readonly (readonly Side[])[];
  /** The inputs of each pass that do not change between calls, made on first use. */
  private readonly constantFeeds: (Record<string, Tensor> | undefined)[];
  private readonly lcmEmbedding: Float32Array | undefined;
  private readonly constant: ConstantInput;

  /** @param constant how the inputs that stay the same are made (default: CPU tensors of the runtime) */
  constructor(
    private readonly model: LoadedModel,
    private readonly runtime: Runtime,
    inputs: GuidanceInputs,
    cfg: number,
    width: number,
    height: number,
    constant?: ConstantInput,
    /** ControlNets run before each UNet run, their residuals fed to it. */
    private readonly control?: ControlResiduals,
  ) {
    const { contract } = model.unet;
    const idsLength = contract.timeIds?.shape[1];
    const aesthetic = typeof idsLength === 'number' ? idsLength === 5 : model.requiresAestheticsScore;
    const cond: Side = { cond: inputs.cond, timeIds: sdxlTimeIds(width, height, aesthetic, false) };
    const uncond: Side | undefined = inputs.uncond && {
      cond: inputs.uncond,
      timeIds: sdxlTimeIds(width, height, aesthetic, true),
    };
    for (const side of [inputs.cond, inputs.uncond]) if (side) checkConditioning(contract.encoderHiddenStates, side);
    // exports with a fixed batch of 1 cannot take [uncond, cond] in one call
    const fixedBatch = (v: ValueInfo | undefined): boolean => v !== undefined && v.shape[0] === 1;
    const canBatch =
      !fixedBatch(contract.sample) &&
      !fixedBatch(contract.encoderHiddenStates) &&
      inputs.uncond?.tokens === inputs.cond.tokens;
    this.passSides = !uncond ? [[cond]] : canBatch ? [[uncond, cond]] : [[uncond], [cond]];
    this.passes = this.passSides.map((p) => p.length);
    this.constantFeeds = this.passSides.map(() => undefined);
    this.guidanceScale = guidanceScale(cfg);
    this.sampleType = latentType(contract.sample);
    this.outputType = latentType(contract.output);
    const tc = contract.timestepCond;
    const dim = tc && typeof tc.shape[1] === 'number' ? tc.shape[1] : 256;
    this.lcmEmbedding = tc ? guidanceEmbedding(cfg, dim) : undefined;
    this.constant = constant ?? ((type, values, dims) => floatTensor(runtime, type, values, dims));
  }

  /** Noise prediction after guidance. @param sample Float32Array [1, 4, h, w], already scaled for the model input */
  async predict(
    sample: Float32Array,
    shape: readonly number[],
    timestep: number,
    callIndex = 0,
  ): Promise<Float32Array> {
    const halves: Float32Array[] = [];
    for (const [pass, batch] of this.passes.entries()) {
      const input = floatTensor(
        this.runtime,
        this.model.unet.contract.sample.type,
        concatFloats(new Array<Float32Array>(batch).fill(sample)),
        [batch, ...shape.slice(1)],
      );
      const tensor = await this.run(pass, input, timestep, undefined, callIndex);
      const all = (await readFloats(tensor)).slice();
      tensor.dispose();
      for (let i = 0; i < batch; i++)
        halves.push(all.subarray((i * all.length) / batch, ((i + 1) * all.length) / batch));
    }
    return halves.length === 2 ? guide(halves[0]!, halves[1]!, this.guidanceScale) : halves[0]!;
  }

  /**
   * One UNet run of a model call.
   * @param sample the model input [batch, 4, h, w] (batch = `passes[pass]`), already scaled, of `sampleType`
   * @param output a tensor to write the output into (pre-allocated on the device), or undefined
   * @param callIndex the model call's index in the schedule (when ControlNets steer it)
   * @returns the model output [batch, 4, h, w] of `outputType`, owned by the caller
   */
  async run(pass: number, sample: Tensor, timestep: number, output?: Tensor, callIndex = 0): Promise<Tensor> {
    const { contract, session } = this.model.unet;
    const batch = this.passes[pass] as number;
    const constants = this.constantsOf(pass);
    const unetTimestep = timestepTensor(this.runtime, contract.timestep, timestep, batch);
    // a ControlNet whose timestep input is declared as the UNet's takes the same tensor
    const sameAsUnet = (info: ValueInfo): boolean =>
      info.type === contract.timestep.type && String(info.shape) === String(contract.timestep.shape);
    const residuals = this.control?.isActive
      ? await this.control.feeds(
          pass,
          batch,
          sample,
          (info) => (sameAsUnet(info) ? unetTimestep : timestepTensor(this.runtime, info, timestep, batch)),
          constants,
          callIndex,
        )
      : undefined;
    const feeds: Record<string, Tensor> = {
      ...constants,
      ...residuals?.feeds,
      [contract.sample.name]: sample,
      [contract.timestep.name]: unetTimestep,
    };
    try {
      const result = await session.run(feeds, output ? { [contract.output.name]: output } : [contract.output.name]);
      return result[contract.output.name]!;
    } finally {
      residuals?.dispose();
    }
  }

  private constantsOf(pass: number): Record<string, Tensor> {
    const known = this.constantFeeds[pass];
    if (known) return known;
    const { contract } = this.model.unet;
    const sides = this.passSides[pass]!;
    const batch = sides.length;
    const first = sides[0]!.cond;
    const feeds: Record<string, Tensor> = {
      [contract.encoderHiddenStates.name]: this.constant(
        contract.encoderHiddenStates.type,
        concatFloats(sides.map((s) => s.cond.hidden)),
        [batch, first.tokens, first.hiddenSize],
      ),
    };
    if (contract.textEmbeds && contract.timeIds) {
      const pooled = sides.map((s) => s.cond.pooled);
      if (pooled.some((p) => p === undefined)) {
        throw new SdError(
          'unknown-contract',
          'The UNet takes "text_embeds" (SDXL) but the text encoder gave no pooled output ("text_embeds" of text_encoder_2). Use a complete SDXL export.',
        );
      }
      const p = concatFloats(pooled as Float32Array[]);
      feeds[contract.textEmbeds.name] = this.constant(contract.textEmbeds.type, p, [batch, p.length / batch]);
      const ids = concatFloats(sides.map((s) => s.timeIds));
      feeds[contract.timeIds.name] = this.constant(contract.timeIds.type, ids, [batch, ids.length / batch]);
    }
    if (contract.timestepCond && this.lcmEmbedding) {
      const e = this.lcmEmbedding;
      feeds[contract.timestepCond.name] = this.constant(contract.timestepCond.type, concatFloats(sides.map(() => e)), [
        batch,
        e.length,
      ]);
    }
    this.constantFeeds[pass] = feeds;
    return feeds;
  }
}

/** The element type of a latent-sized UNet input or output. */
function latentType(info: ValueInfo): FloatType {
  if (info.type === 'float32' || info.type === 'float16') return info.type;
  throw new SdError('unknown-contract', `The UNet's "${info.name}" is ${info.type}; expected float32 or float16.`);
}

/**
 * Checks conditioning against the UNet's declared `encoder_hidden_states` before the first call, so a
 * mismatch reads as a message rather than a runtime shape error.
 */
function checkConditioning(info: ValueInfo, c: Conditioning): void {
  const [, tokens, width] = info.shape;
  if (typeof width === 'number' && width !== c.hiddenSize) {
    throw new SdError(
      'unknown-contract',
      `The text encoder(s) give ${c.hiddenSize} features per token but the UNet expects ${width}: the text encoder and UNet do not belong to the same model. Re-download the model.`,
    );
  }
  // a UNet exported with a fixed token length (77) cannot take chunked prompts
  if (typeof tokens === 'number' && tokens !== c.tokens) {
    throw new SdError(
      'bad-argument',
      `The prompt needs ${c.tokens} conditioning tokens (${c.tokens / 77} chunks of 77) but this UNet was exported for exactly ${tokens}. Shorten the prompt to at most 75 tokens and remove BREAK, or use an export with a dynamic sequence length.`,
    );
  }
}
