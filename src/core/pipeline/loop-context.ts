/** What the CPU and the device denoising loops share: how an image starts, progress, cancellation. */
import { SdError } from '../errors.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import { latentPreview } from './image.ts';
import type { ProgressCallback } from './progress.ts';
import { now, type StageTimings } from './timings.ts';

/** The callbacks a loop honours. */
export interface LoopHooks {
  onProgress?: ProgressCallback;
  /** Polled before each model call; when true, the run stops with SdError('cancelled'). */
  isCancelled?: () => boolean;
}

/** One image's denoising loop, as either loop runs it. */
export interface LoopContext {
  scheduler: Scheduler;
  /** Index of the first model call (img2img skips the start of the schedule; 0 for txt2img). */
  begin: number;
  /** Latent shape [1, 4, h, w]. */
  shape: readonly number[];
  hooks: LoopHooks;
  timings: StageTimings;
  /** 0-based image of the batch, and the batch size, for progress events. */
  image: number;
  images: number;
  /** Send a preview every N model calls (0: none). */
  previewEvery: number;
}

export function checkCancelled(hooks: LoopHooks): void {
  if (hooks.isCancelled?.()) throw new SdError('cancelled', 'Generation cancelled.');
}

/**
 * Multiplies by `factor`, one float32 rounding per element. Where torch multiplies by a Python scalar
 * the caller rounds the scalar to float32 first, as torch does on a float32 tensor.
 */
export function scaleLatents(values: Float32Array, factor: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) * factor;
  return out;
}

/**
 * The latents of the first model call, from the arrays drawn before the loop: txt2img `[noise]` is
 * scaled by the scheduler's initial sigma; img2img `[init latents, noise]` is noised to the level of
 * the begin index (diffusers' `add_noise`). Linear in its arrays, so the device loop runs it on
 * coefficient vectors too.
 */
export function startLatents(scheduler: Scheduler, begin: number, start: readonly Float32Array[]): Float32Array {
  const [first, noise] = start;
  if (!first) throw new SdError('internal', 'startLatents needs the starting noise.');
  return noise ? scheduler.addNoise(first, noise, begin) : scaleLatents(first, scheduler.initNoiseSigma);
}

/** Whether model call `step` (1-based after the begin index) of `steps` sends a preview. */
export function isPreviewDue(ctx: LoopContext, step: number, steps: number): boolean {
  if (!ctx.hooks.onProgress) return false;
  const every = ctx.previewEvery;
  return every > 0 && (step % every === 0 || step === steps);
}

/**
 * Emits the `denoise` progress event of one model call.
 * @param previewLatents Float32Array [1, 4, h, w] to preview (x0 estimate or latents), when due
 */
export function reportStep(
  ctx: LoopContext,
  step: number,
  steps: number,
  loopStartMs: number,
  previewLatents: Float32Array | undefined,
): void {
  const { shape } = ctx;
  const preview = previewLatents && {
    rgb: latentPreview(previewLatents, shape[3] as number, shape[2] as number),
    width: shape[3] as number,
    height: shape[2] as number,
  };
  ctx.hooks.onProgress?.({
    kind: 'denoise',
    image: ctx.image,
    images: ctx.images,
    step,
    steps,
    elapsedMs: now() - loopStartMs,
    preview,
  });
}
