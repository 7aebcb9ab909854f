import type { LoadedModel } from '../../core/models/load-model.ts';
import { generate } from '../../core/pipeline/generate.ts';
import type { GenerateRequest } from '../../core/pipeline/request.ts';
import type { CountingRuntime, SessionCounters } from './counting-runtime.ts';

/** What one generation took, per stage, in ms (counts where named). */
export interface RunSample {
  textEncoderMs: number;
  /** Per UNet step as the pipeline times it: input tensors, model call(s), output read, guidance. */
  unetStepMs: number[];
  /** Per UNet step: time inside the UNet session's `run` alone. */
  unetRunMs: number[];
  /** Per UNet step: UNet `run` calls (1 when CFG runs as one batch of 2). */
  unetCalls: number[];
  /** Per UNet step: UNet outputs read into host memory (see SessionCounters.hostReads). */
  unetHostReads: number[];
  /** Scheduler steps and input scaling. */
  schedulerMs: number;
  vaeDecodeMs: number;
  /** The whole generation (session creation excluded). */
  totalMs: number;
  /** Time inside `run` of every session (text encoder, UNet, VAE). */
  modelRunMs: number;
}

const diff = (a: SessionCounters, b: SessionCounters): SessionCounters => ({
  calls: a.calls - b.calls,
  runMs: a.runMs - b.runMs,
  hostReads: a.hostReads - b.hostReads,
});

/**
 * Runs one txt2img generation through the real pipeline and splits its time by stage. The UNet's
 * counters are read at each denoise progress event, so the model time, calls and output reads of
 * every step are observed rather than inferred.
 */
export async function measureRun(
  model: LoadedModel,
  runtime: CountingRuntime,
  request: GenerateRequest,
): Promise<RunSample> {
  runtime.reset();
  const unet = runtime.countersOf(model.unet.session);
  let previous = { ...unet };
  const perStep: SessionCounters[] = [];
  const { timings } = await generate(model, runtime, request, {
    onProgress(p) {
      if (p.kind !== 'denoise') return;
      perStep.push(diff(unet, previous));
      previous = { ...unet };
    },
  });
  return {
    textEncoderMs: timings.textEncoderMs,
    unetStepMs: timings.unetStepMs,
    unetRunMs: perStep.map((s) => s.runMs),
    unetCalls: perStep.map((s) => s.calls),
    unetHostReads: perStep.map((s) => s.hostReads),
    schedulerMs: timings.schedulerMs,
    vaeDecodeMs: timings.vaeDecodeMs,
    totalMs: timings.totalMs,
    modelRunMs: runtime.totalRunMs(),
  };
}
