import type { RandomSource } from '../rng/random-source.ts';
import {
  checkCancelled,
  isPreviewDue,
  reportStep,
  scaleLatents,
  startLatents,
  type LoopContext,
} from './loop-context.ts';
import { now } from './timings.ts';

/** The model as the CPU loop calls it: guided noise prediction for CPU latents. */
export interface CpuDenoiser {
  /**
   * @param sample Float32Array [1, 4, h, w], already scaled for the model input
   * @param callIndex the model call's index in the schedule (ControlNets' start / end window)
   * @returns the guided output, same shape
   */
  predict(sample: Float32Array, shape: readonly number[], timestep: number, callIndex: number): Promise<Float32Array>;
}

/**
 * The denoising loop on CPU arrays: scale, model call, guidance, scheduler step, for every model
 * call from the begin index. Each model output is read back to the CPU.
 * @param start what `startLatents` takes: `[noise]` (txt2img) or `[init latents, noise]` (img2img)
 * @returns the final latents, Float32Array [1, 4, h, w] (scaled by the VAE factor)
 */
export async function denoiseOnCpu(
  ctx: LoopContext,
  denoiser: CpuDenoiser,
  rng: RandomSource,
  start: readonly Float32Array[],
): Promise<Float32Array> {
  const { scheduler, begin, shape, timings } = ctx;
  const calls = scheduler.timesteps.length;
  let latents = startLatents(scheduler, begin, start);
  const loopStart = now();
  for (let i = begin; i < calls; i++) {
    checkCancelled(ctx.hooks);
    const s0 = now();
    const input = scaleLatents(latents, scheduler.scaleModelInput(i));
    const s1 = now();
    const modelOutput = await denoiser.predict(input, shape, scheduler.timesteps[i] as number, i);
    const s2 = now();
    const out = scheduler.step({ modelOutput, stepIndex: i, sample: latents, shape, rng });
    latents = out.prevSample;
    const s3 = now();
    timings.unetStepMs.push(s2 - s1);
    timings.schedulerMs += s1 - s0 + (s3 - s2);
    const step = i - begin + 1;
    const steps = calls - begin;
    reportStep(ctx, step, steps, loopStart, isPreviewDue(ctx, step, steps) ? (out.denoised ?? latents) : undefined);
  }
  return latents;
}
