// The A1111 infotext of a generated image: the one builder the worker and the CLI write into their PNGs.
import { combinedKSamplerName, resolveKSampler } from '../kdiffusion/k-samplers.ts';
import { formatInfotext, type InfotextParams } from '../png/infotext.ts';
import { controlNetInfotextEntries, type ControlNetInfotextUnit } from '../png/infotext-controlnet.ts';
import { schedulerClassName } from '../schedulers/registry.ts';
import type { RawSchedulerConfig } from '../schedulers/scheduler.ts';
import type { GeneratedImage } from './generate.ts';
import type { GenerateRequest } from './request.ts';

/** What the infotext records about the model. */
export interface InfotextModel {
  /** A1111's `Model:` value: the model's folder or repository name, without the path. */
  name: string;
  /** The model's scheduler_config.json: its class stands as the sampler when the request names none. */
  schedulerConfig: RawSchedulerConfig;
  /** A1111's `Lora hashes` value (`NAME: hash, …`, see `loraHashesText`), when LoRAs were applied. */
  loraHashes?: string;
  /** The ControlNet units applied, in the request's order: written as A1111's `ControlNet 0`, `ControlNet 1`, …. */
  controlNets?: ControlNetInfotextUnit[];
}

/**
 * The extension keys, after A1111's own: the ControlNet units, then `Lora hashes`, in the order A1111's
 * extensions add them (ControlNet's `process` runs before the LoRAs are activated).
 */
function extensionEntries(model: InfotextModel): Record<string, string> | undefined {
  const entries = {
    ...controlNetInfotextEntries(model.controlNets ?? []),
    ...(model.loraHashes === undefined ? {} : { 'Lora hashes': model.loraHashes }),
  };
  return Object.keys(entries).length === 0 ? undefined : entries;
}

/**
 * The infotext parameters of one image of `request`: its own seed and size, the batch size and
 * position only for batches of two or more, the denoising strength only for img2img, as A1111 does.
 */
export function infotextParamsOf(
  request: GenerateRequest,
  image: Pick<GeneratedImage, 'index' | 'seed' | 'width' | 'height'>,
  model: InfotextModel,
): InfotextParams {
  const isBatch = request.batchSize > 1;
  const params: InfotextParams = {
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    steps: request.steps,
    sampler: request.sampler ?? schedulerClassName(model.schedulerConfig),
    cfgScale: request.cfgScale,
    seed: image.seed,
    width: image.width,
    height: image.height,
    model: model.name,
    rng: request.rng === 'cpu' ? 'CPU' : 'GPU',
    denoisingStrength: request.initImage ? request.denoisingStrength : undefined,
    batchSize: isBatch ? request.batchSize : undefined,
    batchPos: isBatch ? image.index : undefined,
    extra: extensionEntries(model),
  };
  return request.sampling === 'a1111' ? withA1111Sampling(params, request) : params;
}

/**
 * a1111 mode: the sampler as its combined name (the writer splits it into Sampler and Schedule type),
 * `Sampling: a1111` so that our images regenerate in that mode, and A1111's `ENSD` when set.
 */
function withA1111Sampling(params: InfotextParams, request: GenerateRequest): InfotextParams {
  const sampler = combinedKSamplerName(resolveKSampler(request.sampler ?? 'Euler a'));
  const delta = request.etaNoiseSeedDelta ?? 0;
  const extra = { ...params.extra, Sampling: 'a1111', ...(delta === 0 ? {} : { ENSD: String(delta) }) };
  return { ...params, sampler, extra };
}

/** The A1111 `parameters` text of one image of `request` (see {@link infotextParamsOf}). */
export function infotextOf(
  request: GenerateRequest,
  image: Pick<GeneratedImage, 'index' | 'seed' | 'width' | 'height'>,
  model: InfotextModel,
): string {
  return formatInfotext(infotextParamsOf(request, image, model));
}
