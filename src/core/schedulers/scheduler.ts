import type { RandomSource } from '../rng/random-source.ts';

/** What the model predicts, as diffusers' `prediction_type` names it. */
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

/** Everything one scheduler step needs. Arrays are float32 latents laid out as `shape`. */
export interface StepInput {
  /** Model output after classifier-free guidance: Float32Array [1, 4, H/8, W/8]. */
  modelOutput: Float32Array;
  /** Index into `Scheduler.timesteps` of the model call that produced `modelOutput`. */
  stepIndex: number;
  /** The latents the model call was made on, before `scaleModelInput` was applied. */
  sample: Float32Array;
  /** Latent shape, e.g. [1, 4, 8, 8]; noise is drawn with this shape. */
  shape: readonly number[];
  /** The seeded generator shared with the initial noise; drawn from only when the algorithm needs noise. */
  rng: RandomSource;
}

export interface StepOutput {
  /** Latents for the next model call (or the final latents after the last call). */
  prevSample: Float32Array;
  /** The predicted clean latents x0, where the algorithm computes them (used for previews). */
  denoised?: Float32Array;
}

/**
 * The one contract every sampler implements, so the pipeline never branches on the algorithm.
 * A scheduler is built for a fixed number of inference steps and is stateful: call `step` once per
 * entry of `timesteps`, in order, starting at the begin index (0 for txt2img).
 */
export interface Scheduler {
  /** diffusers' `order`: model calls per inference step (2 for Heun and DPM2, else 1). */
  readonly order: number;
  /** Standard deviation the initial N(0, 1) noise is multiplied by for txt2img. */
  readonly initNoiseSigma: number;
  /** Timestep value passed to the UNet for each model call (length = steps × order, minus what the algorithm drops). */
  readonly timesteps: Float64Array;
  /** Factor that diffusers' `scale_model_input` multiplies the latents by before the call at `stepIndex`. */
  scaleModelInput(stepIndex: number): number;
  /** Advances the latents by one model call. */
  step(input: StepInput): StepOutput;
  /**
   * img2img: `original` noised to the level of the call at `stepIndex` (diffusers' `add_noise` with
   * `timesteps[stepIndex]`), and makes `stepIndex` the begin index (diffusers' `set_begin_index`).
   */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array;
}

/** Raw `scheduler_config.json` content (snake_case keys, as diffusers writes it). */
export type RawSchedulerConfig = Readonly<Record<string, unknown>>;
