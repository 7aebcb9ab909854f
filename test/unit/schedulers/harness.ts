import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RandomSource } from '../../../src/core/rng/random-source.ts';
import { alphasCumprod, trainBetas, type BetaConfig } from '../../../src/core/schedulers/betas.ts';
import type { RawSchedulerConfig, Scheduler } from '../../../src/core/schedulers/scheduler.ts';
import { MODELS } from '../../fixtures.ts';

/** Every fixture model's scheduler_config.json, by model folder name. */
export function modelConfigs(): Record<string, RawSchedulerConfig> {
  const out: Record<string, RawSchedulerConfig> = {};
  for (const model of readdirSync(MODELS).sort()) {
    out[model] = JSON.parse(readFileSync(resolve(MODELS, model, 'scheduler/scheduler_config.json'), 'utf8'));
  }
  return out;
}

export const SHAPE: readonly number[] = [1, 4, 4, 6];
export const LATENT_SIZE = 96;

/** A smooth synthetic "clean image" in latent space. */
export function cleanLatents(): Float32Array {
  return Float32Array.from({ length: LATENT_SIZE }, (_, i) => Math.sin(i * 0.37) * 0.8);
}

/** A RandomSource wrapper that counts draws. */
export class CountingRandom implements RandomSource {
  draws = 0;
  constructor(private readonly inner: RandomSource) {}
  randn(shape: readonly number[]): Float32Array {
    this.draws++;
    return this.inner.randn(shape);
  }
}

/**
 * The ideal denoiser of a one-point data distribution at `clean`, in the UNet's parameterisation: the model
 * input x = sqrt(a) x0 + sqrt(1 - a) eps with a = alpha_bar(t) (linearly interpolated for fractional t).
 */
export function idealModel(config: RawSchedulerConfig, clean: Float32Array) {
  const alphas = alphasCumprod(
    trainBetas({
      num_train_timesteps: 1000,
      beta_start: 0.0001,
      beta_end: 0.02,
      beta_schedule: 'linear',
      ...config,
    } as BetaConfig),
  );
  const prediction = (config['prediction_type'] as string | undefined) ?? 'epsilon';
  return (input: Float32Array, t: number): Float32Array => {
    const lo = Math.max(0, Math.min(alphas.length - 1, Math.floor(t)));
    const hi = Math.min(alphas.length - 1, lo + 1);
    const w = Math.min(Math.max(t - lo, 0), 1);
    const ab = (alphas[lo] as number) * (1 - w) + (alphas[hi] as number) * w;
    const a = Math.sqrt(ab);
    const b = Math.sqrt(1 - ab);
    return input.map((x, i) => {
      const eps = (x - a * (clean[i] as number)) / b;
      return prediction === 'v_prediction' ? a * eps - b * (clean[i] as number) : eps;
    });
  };
}

export interface LoopResult {
  latents: Float32Array;
  calls: number;
  draws: number;
}

/** A txt2img denoising loop as the pipeline runs it (init noise, then scale, model, step per timestep). */
export function runLoop(
  scheduler: Scheduler,
  model: (input: Float32Array, t: number) => Float32Array,
  rng: RandomSource,
  from = 0,
  start?: Float32Array,
): LoopResult {
  const counting = new CountingRandom(rng);
  let latents = start ?? counting.randn(SHAPE).map((v) => v * scheduler.initNoiseSigma);
  const drawsBefore = counting.draws;
  let calls = 0;
  for (let i = from; i < scheduler.timesteps.length; i++) {
    const scale = scheduler.scaleModelInput(i);
    const output = model(
      latents.map((v) => v * scale),
      scheduler.timesteps[i] as number,
    );
    latents = scheduler.step({
      modelOutput: output,
      stepIndex: i,
      sample: latents,
      shape: SHAPE,
      rng: counting,
    }).prevSample;
    calls++;
  }
  return { latents, calls, draws: counting.draws - drawsBefore };
}

export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}
