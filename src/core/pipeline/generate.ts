import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { LoadedModel } from '../models/load-model.ts';
import { createRandomSource } from '../rng/seed.ts';
import type { RandomSource } from '../rng/random-source.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { floatTensor, readFloats } from '../runtime/tensor-data.ts';
import { createScheduler } from '../schedulers/registry.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import { createKSampler } from '../kdiffusion/k-samplers.ts';
import { createImageRng } from '../rng/image-rng.ts';
import { encodePrompt, zerosLike, type Conditioning } from './conditioning.ts';
import { denoiseOnCpu } from './cpu-loop.ts';
import { ControlResiduals } from './control-residuals.ts';
import { Denoiser, type ConstantInput, type GuidanceInputs } from './denoiser.ts';
import { denoiseOnDevice } from './device-loop.ts';
import { guidanceScale } from './guidance.ts';
import { resizeRgb, rgbToVaeInput, vaeOutputToRgb } from './image.ts';
import type { FloatType, LatentBackend } from '../runtime/latent-backend.ts';
import type { LinearPlan } from './linear-plan.ts';
import { planDeviceLoop } from './linearity.ts';
import { checkCancelled, scaleLatents, type LoopContext, type LoopHooks } from './loop-context.ts';
import { validateRequest, type GenerateRequest, type RgbImage } from './request.ts';
import { emptyTimings, now, type StageTimings } from './timings.ts';
import { removeLoraTags } from '../png/lora-tags.ts';

export interface GeneratedImage extends RgbImage {
  /** Seed this image was made with (the request's seed + its index). */
  seed: bigint;
  index: number;
}

export interface GenerateHooks extends LoopHooks {
  /** Each image as soon as it is decoded. */
  onImage?: (image: GeneratedImage) => void;
}

/** Where the denoising loop ran. */
export interface LoopReport {
  /** `device`: the latents stayed on the runtime's `LatentBackend`; `cpu`: the CPU loop. */
  kind: 'device' | 'cpu';
  /** Why the CPU loop ran although the runtime offers a latent backend. */
  reason?: string;
  /**
   * Latent-sized reads to the CPU while denoising, all images together: the backend's count (previews
   * only, when the loop stays on the device), or one per UNet output in the CPU loop.
   */
  latentReads: number;
}

export interface GenerateResult {
  images: GeneratedImage[];
  timings: StageTimings;
  loop: LoopReport;
}

/**
 * Index of the first model call img2img makes, as diffusers' `get_timesteps`: the schedule is built for
 * all `steps` and the first `steps - floor(steps * strength)` inference steps (times the scheduler's
 * order) are skipped; the init image is noised to the level of the first call that remains.
 */
export function img2imgBeginIndex(steps: number, strength: number, order: number): number {
  const initTimestep = Math.min(Math.floor(steps * strength), steps);
  return Math.max(steps - initTimestep, 0) * order;
}

async function encodeConditioning(model: LoadedModel, runtime: Runtime, r: GenerateRequest): Promise<GuidanceInputs> {
  // LoRA tags apply at load (the model's weights); the text encoder never sees them (A1111 strips
  // them from the prompt only, not from the negative prompt)
  const cond = await encodePrompt(model, runtime, removeLoraTags(r.prompt), r.promptSyntax);
  const guided = r.cfgScale > 1 && !model.unet.contract.timestepCond;
  if (!guided) return { cond };
  // An empty negative prompt stands for diffusers' `negative_prompt=None`, which zeroes the SDXL
  // conditioning when the model asks for it; A1111 zeroes it for every SDXL model.
  const zeroes = model.forceZerosForEmptyPrompt || (r.promptSyntax === 'a1111' && model.family === 'sdxl');
  let uncond: Conditioning;
  if (r.negativePrompt === '' && zeroes) uncond = zerosLike(cond);
  else uncond = await encodePrompt(model, runtime, r.negativePrompt, r.promptSyntax);
  return { cond, uncond };
}

/** The VAE posterior of the init image: mean and, when the export gives it, log-variance (Float32Array [1, 4, h, w] each, unscaled). */
interface InitPosterior {
  mean: Float32Array;
  logvar: Float32Array | undefined;
}

async function encodeInitImage(
  model: LoadedModel,
  runtime: Runtime,
  image: RgbImage,
  width: number,
  height: number,
): Promise<InitPosterior> {
  const { session, contract } = await model.vaeEncoder();
  const rgb = resizeRgb(image.rgb, image.width, image.height, width, height);
  const input = floatTensor(runtime, contract.input.type, rgbToVaeInput(rgb, width, height), [1, 3, height, width]);
  const out = await session.run({ [contract.input.name]: input }, [contract.output.name]);
  const tensor = out[contract.output.name]!;
  const latents = (await readFloats(tensor)).slice();
  tensor.dispose();
  if (!contract.isParameters) return { mean: latents, logvar: undefined };
  // latent_parameters hold [mean, log-variance] along the channels
  const half = latents.length / 2;
  return { mean: latents.subarray(0, half), logvar: latents.subarray(half) };
}

/**
 * Init latents for one image, scaled by the VAE factor. With a log-variance this is diffusers'
 * `latent_dist.sample(generator)`: mean + std * N(0, 1), drawn from the image's generator before the
 * img2img noise. An export that outputs `latent_sample` (the mean, or a sample drawn inside the graph)
 * is used as it is and draws nothing, as diffusers does for an encoder that returns latents directly;
 * the reference img2img case was made that way.
 */
function initLatentsFor(
  posterior: InitPosterior,
  rng: RandomSource,
  shape: readonly number[],
  scalingFactor: number,
): Float32Array {
  const { mean, logvar } = posterior;
  const factor = Math.fround(scalingFactor);
  if (!logvar) return scaleLatents(mean, factor);
  const eps = rng.randn(shape);
  const sample = new Float32Array(mean.length);
  for (let i = 0; i < sample.length; i++) {
    const lv = Math.min(Math.max(logvar[i] as number, -30), 20);
    const std = Math.fround(Math.exp(Math.fround(0.5 * lv)));
    sample[i] = (mean[i] as number) + Math.fround(std * (eps[i] as number));
  }
  return scaleLatents(sample, factor);
}

/** The VAE decoder input from CPU latents: diffusers divides by the factor (not a multiply by its inverse, which can differ in the last bit). */
function vaeInput(model: LoadedModel, runtime: Runtime, latents: Float32Array, shape: readonly number[]): Tensor {
  const factor = Math.fround(model.scalingFactor);
  return floatTensor(
    runtime,
    model.vaeDecoder.contract.input.type,
    latents.map((v) => v / factor),
    shape,
  );
}

/**
 * The request's sampler for one image (samplers are stateful): a diffusers scheduler, or in a1111 mode the
 * k-diffusion sampler on the model's LDM σ levels (default Euler a, A1111's default sampler).
 */
function createSampler(model: LoadedModel, r: GenerateRequest): Scheduler {
  if (r.sampling !== 'a1111')
    return createScheduler({ config: model.schedulerConfig, sampler: r.sampler, steps: r.steps });
  const prediction = model.schedulerConfig['prediction_type'];
  return createKSampler({
    sampler: r.sampler ?? 'Euler a',
    steps: r.steps,
    predictionType: prediction === 'v_prediction' ? 'v_prediction' : prediction === 'sample' ? 'sample' : 'epsilon',
    isSdxl: model.family === 'sdxl',
  });
}

/** Decodes the VAE input [1, 4, h, w] (disposed here) to 8-bit RGB (truncated as A1111 does, or rounded as diffusers does). */
async function decodeLatents(
  model: LoadedModel,
  input: Tensor,
  width: number,
  height: number,
  isTruncated: boolean,
): Promise<Uint8Array> {
  const { session, contract } = model.vaeDecoder;
  try {
    const out = await session.run({ [contract.input.name]: input }, [contract.output.name]);
    const tensor = out[contract.output.name]!;
    const rgb = vaeOutputToRgb(await readFloats(tensor), width, height, isTruncated ? 'truncate' : 'round');
    tensor.dispose();
    return rgb;
  } finally {
    input.dispose();
  }
}

/** The runtime's latent backend and the plan it runs, when the request's loop is linear. */
interface DeviceLoop {
  backend: LatentBackend;
  plan: LinearPlan;
  /** The VAE decoder input's element type. */
  vaeType: FloatType;
}

/**
 * Device memory the sources of one image may take. Every source stays until the image is done (the
 * latents depend on all of them); past this (e.g. SDXL at 1024x1024 with CFG past ~340 steps), the CPU loop runs.
 */
const MAX_SOURCE_BYTES = 256 * 2 ** 20;

/**
 * Opens the runtime's latent backend when it has one and the loop can run there; otherwise says why not.
 * The plan depends on the scheduler, steps, strength and guidance, not on the seed: one serves the batch.
 */
function openDeviceLoop(
  model: LoadedModel,
  runtime: Runtime,
  r: GenerateRequest,
  guidance: GuidanceInputs,
  begin: number,
  shape: readonly number[],
): DeviceLoop | string {
  if (!runtime.latentBackend) return 'the runtime keeps no latents on a device';
  const vaeType = model.vaeDecoder.contract.input.type;
  if (vaeType !== 'float32' && vaeType !== 'float16') return `the VAE decoder takes ${vaeType} latents`;
  const planned = planDeviceLoop(
    {
      createScheduler: () => createSampler(model, r),
      begin,
      startCount: r.initImage ? 2 : 1,
      halves: guidance.uncond ? 2 : 1,
      guidanceScale: guidanceScale(r.cfgScale),
      shape,
    },
    // k-diffusion samplers declare no nonlinear options (the probe still checks them)
    r.sampling === 'a1111' ? {} : model.schedulerConfig,
    r.sampling === 'a1111' ? null : r.sampler,
  );
  if (!planned.plan) return planned.reason;
  const sourceBytes = planned.plan.sources.length * shape.reduce((a, b) => a * b, 4);
  if (sourceBytes > MAX_SOURCE_BYTES) {
    return `the loop keeps ${planned.plan.sources.length} latents (${Math.ceil(sourceBytes / 2 ** 20)} MiB) on the device, more than ${MAX_SOURCE_BYTES / 2 ** 20} MiB`;
  }
  return { backend: runtime.latentBackend({ latentShape: shape }), plan: planned.plan, vaeType };
}

/** Model inputs that stay the same for a generation go to the backend's device; the CPU path keeps plain tensors. */
function constantInputs(runtime: Runtime, backend: LatentBackend | undefined): ConstantInput | undefined {
  if (!backend) return undefined;
  return (type, values, dims) =>
    type === 'float32' || type === 'float16'
      ? backend.constant(type, values, dims)
      : floatTensor(runtime, type, values, dims);
}

/**
 * txt2img / img2img with diffusers semantics: seeded starting noise, the scheduler loop with
 * classifier-free guidance, VAE decoding to 8-bit RGB. Image i of a batch is generated exactly as
 * a single image with seed + i, so every image can be reproduced alone.
 */
export async function generate(
  model: LoadedModel,
  runtime: Runtime,
  request: GenerateRequest,
  hooks: GenerateHooks = {},
): Promise<GenerateResult> {
  validateRequest(request);
  const r = request;
  const timings = emptyTimings();
  const start = now();
  const shape = [1, 4, r.height / 8, r.width / 8] as const;
  const images: GeneratedImage[] = [];
  // validate the sampler and the img2img schedule before any model work
  const probe = createSampler(model, r);
  const begin = r.initImage ? img2imgBeginIndex(r.steps, r.denoisingStrength ?? 1, probe.order) : 0;
  if (begin >= probe.timesteps.length) {
    throw new SdError(
      'bad-argument',
      `strength ${r.denoisingStrength} with ${r.steps} steps leaves no denoising step: raise strength or steps (steps x strength must be at least 1).`,
    );
  }

  hooks.onProgress?.({ kind: 'encode', image: 0, images: r.batchSize });
  let t0 = now();
  const guidance = await encodeConditioning(model, runtime, r);
  timings.textEncoderMs += now() - t0;
  const device = openDeviceLoop(model, runtime, r, guidance, begin, shape);
  const backend = typeof device === 'string' ? undefined : device.backend;
  try {
    const denoiser = new Denoiser(
      model,
      runtime,
      guidance,
      r.cfgScale,
      r.width,
      r.height,
      constantInputs(runtime, backend),
      new ControlResiduals(
        runtime,
        model.unet.contract,
        model.controlNets ?? [],
        r.controlNets ?? [],
        probe.timesteps.length,
        r.width,
        r.height,
      ),
    );

    let posterior: InitPosterior | undefined;
    if (r.initImage) {
      t0 = now();
      posterior = await encodeInitImage(model, runtime, r.initImage, r.width, r.height);
      timings.vaeEncodeMs += now() - t0;
    }

    for (let index = 0; index < r.batchSize; index++) {
      const seed = r.seed + BigInt(index);
      const rng: RandomSource =
        r.sampling === 'a1111'
          ? createImageRng(r.rng, seed, r.etaNoiseSeedDelta ?? 0)
          : createRandomSource(r.rng, seed);
      // the unstepped probe serves the first image; schedulers are stateful, so later images get their own
      const scheduler = index === 0 ? probe : createSampler(model, r);
      // diffusers' order of draws: the posterior sample (if any), then the noise at timesteps[begin]
      const init = posterior && initLatentsFor(posterior, rng, shape, model.scalingFactor);
      const startArrays = init ? [init, rng.randn(shape)] : [rng.randn(shape)];
      const ctx: LoopContext = {
        scheduler,
        begin,
        shape,
        hooks,
        timings,
        image: index,
        images: r.batchSize,
        previewEvery: r.previewEvery ?? 0,
      };
      const input =
        typeof device === 'string'
          ? vaeInput(model, runtime, await denoiseOnCpu(ctx, denoiser, rng, startArrays), shape)
          : await denoiseOnDevice(ctx, denoiser, device.backend, device.plan, rng, startArrays, {
              scale: 1 / Math.fround(model.scalingFactor),
              type: device.vaeType,
            });

      checkCancelled(hooks);
      hooks.onProgress?.({ kind: 'decode', image: index, images: r.batchSize });
      t0 = now();
      const rgb = await decodeLatents(model, input, r.width, r.height, r.sampling === 'a1111');
      timings.vaeDecodeMs += now() - t0;
      const image: GeneratedImage = { rgb, width: r.width, height: r.height, seed, index };
      images.push(image);
      t0 = now();
      hooks.onImage?.(image);
      timings.callbackMs += now() - t0;
      hooks.onProgress?.({ kind: 'done', image: index, images: r.batchSize });
    }
    timings.totalMs = now() - start;
    const calls = (probe.timesteps.length - begin) * r.batchSize;
    const loop: LoopReport =
      typeof device === 'string'
        ? {
            kind: 'cpu',
            reason: runtime.latentBackend ? device : undefined,
            latentReads: calls * (guidance.uncond ? 2 : 1),
          }
        : { kind: 'device', latentReads: device.backend.readCount };
    return { images, timings, loop };
  } finally {
    backend?.dispose();
  }
}
