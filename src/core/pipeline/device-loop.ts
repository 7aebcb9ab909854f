import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { RandomSource } from '../rng/random-source.ts';
import type { FloatType, LatentBackend, SourceId, WeightedSum } from '../runtime/latent-backend.ts';
import type { LinearPlan } from './linear-plan.ts';
import { checkCancelled, isPreviewDue, reportStep, type LoopContext } from './loop-context.ts';
import { now } from './timings.ts';

/** The model as the device loop calls it: UNet runs on device tensors, guidance left to the plan. */
export interface DeviceDenoiser {
  /** Batch size of each UNet run of one model call: [2] (batched guidance), [1, 1] (uncond, then cond) or [1]. */
  readonly passes: readonly number[];
  /** Element type of the UNet's sample input and of its output. */
  readonly sampleType: FloatType;
  readonly outputType: FloatType;
  /**
   * One UNet run. `sample` is [batch, 4, h, w], already scaled; `output`, when given, is where the
   * result goes; `callIndex` is the model call's index in the schedule (ControlNets' start / end
   * window). Returns the output [batch, 4, h, w], owned by the caller.
   */
  run(pass: number, sample: Tensor, timestep: number, output: Tensor | undefined, callIndex: number): Promise<Tensor>;
}

/** The VAE decoder input the loop ends with. */
export interface DeviceLoopOutput {
  /** Multiplies the final latents (1 / the VAE scaling factor). */
  scale: number;
  type: FloatType;
}

/** The sum of a plan's coefficient vector over the backend's sources, zero terms left out. */
function weighted(coefficients: Float32Array, ids: readonly SourceId[]): WeightedSum {
  const sources: SourceId[] = [];
  const kept: number[] = [];
  coefficients.forEach((c, j) => {
    if (c === 0) return;
    sources.push(ids[j] as SourceId);
    kept.push(c);
  });
  return { sources, coefficients: Float32Array.from(kept) };
}

/**
 * The denoising loop with the latents kept on the backend's device: per model call, one kernel makes
 * the scaled model input from the sources, the UNet output stays on the device as new sources, and
 * the scheduler's noise is drawn on the CPU (the same generator, in the CPU loop's order) and uploaded.
 * Nothing is read back except the previews that are due.
 * @param plan the loop's coefficients (`planDeviceLoop`), made for this context's request
 * @param start the arrays `startLatents` takes: `[noise]` (txt2img) or `[init latents, noise]` (img2img)
 * @returns the VAE decoder input [1, 4, h, w] on the device, owned by the caller
 */
export async function denoiseOnDevice(
  ctx: LoopContext,
  denoiser: DeviceDenoiser,
  backend: LatentBackend,
  plan: LinearPlan,
  rng: RandomSource,
  start: readonly Float32Array[],
  output: DeviceLoopOutput,
): Promise<Tensor> {
  const { timings, shape } = ctx;
  const ids: SourceId[] = start.map((values) => backend.upload(values));
  try {
    const steps = plan.calls.length;
    // a pass of batch 2 takes both copies of the input; two passes of batch 1 share one copy
    const replicas = Math.max(...denoiser.passes);
    const loopStart = now();
    for (const [k, call] of plan.calls.entries()) {
      checkCancelled(ctx.hooks);
      const s0 = now();
      const input = backend.combine(weighted(call.sample, ids), {
        scale: call.inputScale,
        replicas,
        type: denoiser.sampleType,
      });
      const s1 = now();
      try {
        for (const [pass, batch] of denoiser.passes.entries()) {
          const into = backend.outputTensor?.(denoiser.outputType, [batch, ...shape.slice(1)]);
          const out = await denoiser.run(pass, input, call.timestep, into, ctx.begin + k);
          ids.push(...(await backend.adoptOutput(out, batch)));
        }
      } finally {
        input.dispose();
      }
      const s2 = now();
      // the scheduler's draws of this call, in its order (the values are the CPU loop's)
      for (
        let next = plan.sources[ids.length];
        next?.kind === 'draw' && next.call === k;
        next = plan.sources[ids.length]
      ) {
        ids.push(backend.upload(rng.randn(next.shape)));
      }
      const next = plan.sources[ids.length];
      if (next && (next.kind === 'start' || next.call <= k)) {
        throw new SdError(
          'internal',
          `Model call ${k + 1} made ${ids.length} latent sources; the plan has more (${next.kind}) for it.`,
        );
      }
      const s3 = now();
      timings.unetStepMs.push(s2 - s1);
      timings.schedulerMs += s1 - s0 + (s3 - s2);
      const step = k + 1;
      const preview = isPreviewDue(ctx, step, steps) ? await backend.read(weighted(call.preview, ids)) : undefined;
      backend.release(call.dead.map((j) => ids[j] as SourceId));
      reportStep(ctx, step, steps, loopStart, preview);
    }
    return backend.combine(weighted(plan.final, ids), { scale: output.scale, replicas: 1, type: output.type });
  } finally {
    backend.release(ids);
  }
}
