// The k-diffusion 0.0.16 sampler loop (k_diffusion/sampling.py) on this project's Scheduler contract: the
// model calls a sampler makes depend on σ alone, so they are listed up front, and each call's output is
// turned into k-diffusion's `denoised` as CompVisDenoiser / CompVisVDenoiser do.
import { SdError } from '../errors.ts';
import type { RandomSource } from '../rng/random-source.ts';
import { combine } from '../schedulers/linear-combination.ts';
import type { PredictionType, Scheduler, StepInput, StepOutput } from '../schedulers/scheduler.ts';
import { CompVisSchedule } from './compvis-schedule.ts';

/** One model call: the σ the model sees and the index i of the step (σ_i → σ_{i+1}) it belongs to. */
export interface KCall {
  sigma: number;
  step: number;
  /** 0: the call at σ_i; 1: a second-order sampler's second call of the same step. */
  stage: 0 | 1;
}

/** What a sampler is built from. */
export interface KSamplerOptions {
  /** σ_0 > σ_1 > … ending in 0 (or σ_min), as the schedule type gives them (float32 values). */
  sigmas: Float64Array;
  model: CompVisSchedule;
  predictionType: PredictionType;
}

/** What one call's step sees: the latents x the call was made on, k-diffusion's `denoised`, the noise source. */
export interface KStepInput {
  call: KCall;
  x: Float32Array;
  denoised: Float32Array;
  shape: readonly number[];
  rng: RandomSource;
}

/** k-diffusion's `get_ancestral_step`: σ_down to step to and σ_up of fresh noise (η = 1). */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { down: number; up: number } {
  if (!eta) return { down: sigmaTo, up: 0 };
  const up = Math.min(sigmaTo, eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2));
  return { down: Math.sqrt(sigmaTo ** 2 - up ** 2), up };
}

/** x + noise · scale: an ancestral sampler's fresh noise (`noise_sampler(σ, σ_next) * s_noise * σ_up`). */
export function addNoise(x: Float32Array, scale: number, shape: readonly number[], rng: RandomSource): Float32Array {
  return combine([
    [1, x],
    [scale, rng.randn(shape)],
  ]);
}

/** `to_d`: the ODE derivative (x - denoised) / σ. */
export function derivative(x: Float32Array, denoised: Float32Array, sigma: number): Float32Array {
  return combine([
    [1 / sigma, x],
    [-1 / sigma, denoised],
  ]);
}

/**
 * A k-diffusion sampler as a Scheduler: `timesteps` are the fractional `sigma_to_t(σ)` of every model call,
 * `scaleModelInput` is `1 / sqrt(σ² + 1)`, the initial noise is scaled by σ_0, and each step first forms
 * `denoised` from the (guided) model output: `x - σ·eps` (CompVisDenoiser) or
 * `x / (σ² + 1) - σ / sqrt(σ² + 1) · v` (CompVisVDenoiser). Guiding eps (or v) is the same linear map as
 * A1111's guidance of `denoised`, so the pipeline's guidance serves both modes.
 */
export abstract class KSampler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma: number;
  readonly timesteps: Float64Array;
  readonly sigmas: Float64Array;
  protected readonly calls: readonly KCall[];

  constructor(
    protected readonly options: KSamplerOptions,
    calls: readonly KCall[],
  ) {
    const { sigmas, model, predictionType } = options;
    if (predictionType !== 'epsilon' && predictionType !== 'v_prediction') {
      throw new SdError(
        'unsupported-model',
        `a1111 sampling takes epsilon or v_prediction models; this one predicts "${predictionType}". Use --sampling diffusers.`,
      );
    }
    this.sigmas = sigmas;
    this.initNoiseSigma = sigmas[0] as number;
    this.calls = calls;
    this.timesteps = Float64Array.from(calls, (c) => model.sigmaToT(c.sigma));
  }

  /** σ_i of the schedule. */
  protected sigma(i: number): number {
    return this.sigmas[i] as number;
  }

  scaleModelInput(stepIndex: number): number {
    return CompVisSchedule.inputScale(this.callAt(stepIndex).sigma);
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    const call = this.callAt(stepIndex);
    const denoised = this.denoised(sample, modelOutput, call.sigma);
    return { prevSample: this.advance({ call, x: sample, denoised, shape, rng }), denoised };
  }

  addNoise(): Float32Array {
    throw new SdError(
      'bad-argument',
      'img2img is not available in a1111 sampling mode yet: use --sampling diffusers for img2img.',
    );
  }

  /** The latents after this call: the next call's input, or the result after the last call. */
  protected abstract advance(input: KStepInput): Float32Array;

  private callAt(stepIndex: number): KCall {
    const call = this.calls[stepIndex];
    if (!call) throw new SdError('internal', `Model call ${stepIndex} is past the ${this.calls.length} planned.`);
    return call;
  }

  private denoised(x: Float32Array, output: Float32Array, sigma: number): Float32Array {
    if (this.options.predictionType === 'v_prediction') {
      const scale = sigma * sigma + 1;
      return combine([
        [1 / scale, x],
        [-sigma / Math.sqrt(scale), output],
      ]);
    }
    return combine([
      [1, x],
      [-sigma, output],
    ]);
  }
}

/** One call per step at σ_i, for steps 0..n-1 (n = sigmas.length - 1). */
export function firstOrderCalls(sigmas: Float64Array): KCall[] {
  return Array.from({ length: sigmas.length - 1 }, (_, i) => ({ sigma: sigmas[i] as number, step: i, stage: 0 }));
}

/** Calls of a second-order step: σ_i, then the second σ when the step has a second call (`second` returns it, or undefined). */
export function secondOrderCalls(sigmas: Float64Array, second: (i: number) => number | undefined): KCall[] {
  const calls: KCall[] = [];
  for (let i = 0; i < sigmas.length - 1; i++) {
    calls.push({ sigma: sigmas[i] as number, step: i, stage: 0 });
    const s = second(i);
    if (s !== undefined) calls.push({ sigma: s, step: i, stage: 1 });
  }
  return calls;
}
