import { SdError } from '../errors.ts';
import type { LoadedModel } from '../models/load-model.ts';
import { createRandomSource } from '../rng/seed.ts';
import type { RandomSource } from '../rng/random-source.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { floatTensor, readFloats } from '../runtime/tensor-data.ts';
import { createScheduler } from '../schedulers/registry.ts';
import { encodePrompt, zerosLike, type Conditioning } from './conditioning.ts';
import { Denoiser, type GuidanceInputs } from './denoiser.ts';
import { latentPreview, resizeRgb, rgbToVaeInput, vaeOutputToRgb } from './image.ts';
import type { ProgressCallback } from './progress.ts';
import { validateRequest, type GenerateRequest, type RgbImage } from './request.ts';
import { emptyTimings, now, type StageTimings } from './timings.ts';

export interface GeneratedImage extends RgbImage {
  /** Seed this image was made with (the request's seed + its index). */
  seed: bigint;
  index: number;
}

export interface GenerateHooks {
  onProgress?: ProgressCallback;
  /** Each image as soon as it is decoded. */
  onImage?: (image: GeneratedImage) => void;
  /** Polled before each model call; when true, the run stops with SdError('cancelled'). */
  isCancelled?: () => boolean;
}

export interface GenerateResult {
  images: GeneratedImage[];
  timings: StageTimings;
}

/**
 * Multiplies by `factor`, one float32 rounding per element. Where torch multiplies by a Python scalar
 * the caller rounds the scalar to float32 first, as torch does on a float32 tensor.
 */
function scale(values: Float32Array, factor: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) * factor;
  return out;
}

function checkCancelled(hooks: GenerateHooks): void {
  if (hooks.isCancelled?.()) throw new SdError('cancelled', 'Generation cancelled.');
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
  const cond = await encodePrompt(model, runtime, r.prompt, r.promptSyntax);
  const guided = r.cfg > 1 && !model.unet.contract.timestepCond;
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

async function encodeInitImage(model: LoadedModel, runtime: Runtime, image: RgbImage, width: number, height: number): Promise<InitPosterior> {
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
function initLatentsFor(posterior: InitPosterior, rng: RandomSource, shape: readonly number[], scalingFactor: number): Float32Array {
  const { mean, logvar } = posterior;
  const factor = Math.fround(scalingFactor);
  if (!logvar) return scale(mean, factor);
  const eps = rng.randn(shape);
  const sample = new Float32Array(mean.length);
  for (let i = 0; i < sample.length; i++) {
    const lv = Math.min(Math.max(logvar[i] as number, -30), 20);
    const std = Math.fround(Math.exp(Math.fround(0.5 * lv)));
    sample[i] = (mean[i] as number) + Math.fround(std * (eps[i] as number));
  }
  return scale(sample, factor);
}

async function decodeLatents(model: LoadedModel, runtime: Runtime, latents: Float32Array, width: number, height: number): Promise<Uint8Array> {
  const { session, contract } = model.vaeDecoder;
  // diffusers divides by the factor (not a multiply by its inverse, which can differ in the last bit)
  const factor = Math.fround(model.scalingFactor);
  const unscaled = latents.map((v) => v / factor);
  const input = floatTensor(runtime, contract.input.type, unscaled, [1, 4, height / 8, width / 8]);
  const out = await session.run({ [contract.input.name]: input }, [contract.output.name]);
  const tensor = out[contract.output.name]!;
  const rgb = vaeOutputToRgb(await readFloats(tensor), width, height);
  tensor.dispose();
  return rgb;
}

/**
 * txt2img / img2img with diffusers semantics: seeded starting noise, the scheduler loop with
 * classifier-free guidance, VAE decoding to 8-bit RGB. Image i of a batch is generated exactly as
 * a single image with seed + i, so every image can be reproduced alone.
 */
export async function generate(model: LoadedModel, runtime: Runtime, request: GenerateRequest, hooks: GenerateHooks = {}): Promise<GenerateResult> {
  validateRequest(request);
  const r = request;
  const timings = emptyTimings();
  const start = now();
  const shape = [1, 4, r.height / 8, r.width / 8] as const;
  const images: GeneratedImage[] = [];
  // validate the sampler and the img2img schedule before any model work
  const probe = createScheduler({ config: model.schedulerConfig, sampler: r.sampler, steps: r.steps });
  const begin = r.initImage ? img2imgBeginIndex(r.steps, r.strength ?? 1, probe.order) : 0;
  if (begin >= probe.timesteps.length) {
    throw new SdError('bad-argument', `strength ${r.strength} with ${r.steps} steps leaves no denoising step: raise strength or steps (steps x strength must be at least 1).`);
  }

  hooks.onProgress?.({ kind: 'encode', image: 0, images: r.batchSize });
  let t0 = now();
  const guidance = await encodeConditioning(model, runtime, r);
  timings.textEncoderMs += now() - t0;
  const denoiser = new Denoiser(model, runtime, guidance, r.cfg, r.width, r.height);

  let posterior: InitPosterior | undefined;
  if (r.initImage) {
    t0 = now();
    posterior = await encodeInitImage(model, runtime, r.initImage, r.width, r.height);
    timings.vaeEncodeMs += now() - t0;
  }

  for (let index = 0; index < r.batchSize; index++) {
    const seed = r.seed + BigInt(index);
    const rng: RandomSource = createRandomSource(r.rng, seed);
    const scheduler = createScheduler({ config: model.schedulerConfig, sampler: r.sampler, steps: r.steps });
    const calls = scheduler.timesteps.length;
    let latents: Float32Array;
    if (posterior) {
      // diffusers' order of draws: the posterior sample (if any), then the noise at timesteps[begin]
      const init = initLatentsFor(posterior, rng, shape, model.scalingFactor);
      latents = scheduler.addNoise(init, rng.randn(shape), begin);
    } else {
      latents = scale(rng.randn(shape), scheduler.initNoiseSigma);
    }

    const loopStart = now();
    for (let i = begin; i < calls; i++) {
      checkCancelled(hooks);
      const s0 = now();
      const input = scale(latents, scheduler.scaleModelInput(i));
      const s1 = now();
      const modelOutput = await denoiser.predict(input, shape, scheduler.timesteps[i] as number);
      const s2 = now();
      const out = scheduler.step({ modelOutput, stepIndex: i, sample: latents, shape, rng });
      latents = out.prevSample;
      const s3 = now();
      timings.unetStepMs.push(s2 - s1);
      timings.schedulerMs += s1 - s0 + (s3 - s2);
      const step = i - begin + 1;
      if (hooks.onProgress) {
        const every = r.previewEvery ?? 0;
        const preview = every > 0 && (step % every === 0 || i === calls - 1)
          ? { rgb: latentPreview(out.denoised ?? latents, shape[3], shape[2]), width: shape[3], height: shape[2] }
          : undefined;
        hooks.onProgress({ kind: 'denoise', image: index, images: r.batchSize, step, steps: calls - begin, elapsedMs: now() - loopStart, preview });
      }
    }

    checkCancelled(hooks);
    hooks.onProgress?.({ kind: 'decode', image: index, images: r.batchSize });
    t0 = now();
    const rgb = await decodeLatents(model, runtime, latents, r.width, r.height);
    timings.vaeDecodeMs += now() - t0;
    const image: GeneratedImage = { rgb, width: r.width, height: r.height, seed, index };
    images.push(image);
    hooks.onImage?.(image);
    hooks.onProgress?.({ kind: 'done', image: index, images: r.batchSize });
  }
  timings.totalMs = now() - start;
  return { images, timings };
}
