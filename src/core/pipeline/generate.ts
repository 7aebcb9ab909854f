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

function scale(values: Float32Array, factor: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.fround((values[i] as number) * factor);
  return out;
}

function checkCancelled(hooks: GenerateHooks): void {
  if (hooks.isCancelled?.()) throw new SdError('cancelled', 'Generation cancelled.');
}

/** Number of leading model calls img2img skips, as diffusers' `get_timesteps`. */
export function img2imgBeginIndex(steps: number, strength: number, order: number): number {
  const initTimestep = Math.min(Math.floor(steps * strength), steps);
  return Math.max(steps - initTimestep, 0) * order;
}

async function encodeConditioning(model: LoadedModel, runtime: Runtime, r: GenerateRequest): Promise<GuidanceInputs> {
  const cond = await encodePrompt(model, runtime, r.prompt, r.promptSyntax);
  const guided = r.cfg > 1 && !model.unet.contract.timestepCond;
  if (!guided) return { cond };
  let uncond: Conditioning;
  if (r.negativePrompt === '' && model.forceZerosForEmptyPrompt) uncond = zerosLike(cond);
  else uncond = await encodePrompt(model, runtime, r.negativePrompt, r.promptSyntax);
  return { cond, uncond };
}

async function encodeInitImage(model: LoadedModel, runtime: Runtime, image: RgbImage, width: number, height: number): Promise<Float32Array> {
  const { session, contract } = await model.vaeEncoder();
  const rgb = resizeRgb(image.rgb, image.width, image.height, width, height);
  const input = floatTensor(runtime, contract.input.type, rgbToVaeInput(rgb, width, height), [1, 3, height, width]);
  const out = await session.run({ [contract.input.name]: input }, [contract.output.name]);
  const tensor = out[contract.output.name]!;
  const latents = (await readFloats(tensor)).slice();
  tensor.dispose();
  const plane = (width / 8) * (height / 8);
  // latent_parameters hold [mean, log-variance]: the mean is the first 4 channels
  const mean = contract.isParameters ? latents.subarray(0, 4 * plane) : latents;
  return scale(mean, model.scalingFactor);
}

async function decodeLatents(model: LoadedModel, runtime: Runtime, latents: Float32Array, width: number, height: number): Promise<Uint8Array> {
  const { session, contract } = model.vaeDecoder;
  const input = floatTensor(runtime, contract.input.type, scale(latents, 1 / model.scalingFactor), [1, 4, height / 8, width / 8]);
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
  // validate the sampler before any model work
  createScheduler({ config: model.schedulerConfig, sampler: r.sampler, steps: r.steps });

  hooks.onProgress?.({ kind: 'encode', image: 0, images: r.batchSize });
  let t0 = now();
  const guidance = await encodeConditioning(model, runtime, r);
  timings.textEncoderMs += now() - t0;
  const denoiser = new Denoiser(model, runtime, guidance, r.cfg, r.width, r.height);

  let initLatents: Float32Array | undefined;
  if (r.initImage) {
    t0 = now();
    initLatents = await encodeInitImage(model, runtime, r.initImage, r.width, r.height);
    timings.vaeEncodeMs += now() - t0;
  }

  for (let index = 0; index < r.batchSize; index++) {
    const seed = (r.seed + BigInt(index)) & 0xffffffffffffffffn;
    const rng: RandomSource = createRandomSource(r.rng, seed);
    const scheduler = createScheduler({ config: model.schedulerConfig, sampler: r.sampler, steps: r.steps });
    const calls = scheduler.timesteps.length;
    let begin = 0;
    let latents: Float32Array;
    if (initLatents) {
      begin = img2imgBeginIndex(r.steps, r.strength ?? 1, scheduler.order);
      if (begin >= calls) {
        throw new SdError('bad-argument', `strength ${r.strength} with ${r.steps} steps leaves no denoising step: raise strength or steps (steps x strength must be at least 1).`);
      }
      latents = scheduler.addNoise(initLatents, rng.randn(shape), begin);
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
