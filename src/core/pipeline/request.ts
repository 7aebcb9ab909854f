import { SdError } from '../errors.ts';
import type { PromptSyntax } from './conditioning.ts';

/** An 8-bit RGB image, row-major [H, W, 3]. */
export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * One ControlNet's settings (diffusers' `StableDiffusionControlNetPipeline` arguments; A1111's
 * ControlNet unit). The i-th unit steers with the model's i-th loaded ControlNet.
 */
export interface ControlUnit {
  /** The control image as the ControlNet takes it (already preprocessed), resized to the generation size. */
  image: RgbImage;
  /** `controlnet_conditioning_scale` (A1111's "Control Weight"), e.g. 1. */
  weight: number;
  /** `control_guidance_start` / `control_guidance_end` (A1111's Starting / Ending Control Step): fractions of the model calls, 0 ≤ start < end ≤ 1. */
  start: number;
  end: number;
}

/** Starting-noise generator: torch's CPU generator (diffusers) or A1111's GPU Philox. */
export type RngName = 'cpu' | 'gpu';

/**
 * How the image is sampled: `diffusers` runs diffusers' schedulers (0.27.2 ports); `a1111` runs
 * AUTOMATIC1111's k-diffusion samplers on the model's σ levels (fractional timesteps, x0-space guidance,
 * σ schedule types, 8-bit truncation), so A1111 images regenerate exactly.
 */
export type SamplingMode = 'diffusers' | 'a1111';

/**
 * Everything that determines the images of one generation. Field names are the project's one name
 * for each setting (the page's settings, the worker API and the infotext use the same); the share
 * link's query (`negative`, `cfg`, `batch`, `strength`) and the CLI's `--cfg` and `--strength` keep
 * their short spellings as their own formats.
 */
export interface GenerateRequest {
  prompt: string;
  negativePrompt: string;
  /** AUTOMATIC1111 sampler name, or null for the model's own scheduler_config.json. */
  sampler: string | null;
  steps: number;
  /** Classifier-free guidance scale (A1111's "CFG scale"); at most 1 skips the unconditional pass. */
  cfgScale: number;
  /** Seed of the first image; image i of a batch uses seed + i. 0..2^64-1 (the page and links carry it as a decimal string). */
  seed: bigint;
  width: number;
  height: number;
  /** Number of images. */
  batchSize: number;
  /** Starting-noise generator: torch's CPU generator (diffusers) or A1111's GPU/NV Philox. */
  rng: RngName;
  promptSyntax: PromptSyntax;
  /** img2img source image; resized to width x height when its size differs. */
  initImage?: RgbImage;
  /** img2img: how much of the schedule to run, in (0, 1] (diffusers' `strength`, A1111's "Denoising strength"). */
  denoisingStrength?: number;
  /** Send a preview every N model calls (0 or absent: none). */
  previewEvery?: number;
  /**
   * `diffusers` when absent. In `a1111` mode `sampler` is an A1111 k-diffusion sampler, optionally with its
   * schedule type as a suffix ("DPM++ 2M Karras"; a plain name means Uniform); null means Euler a.
   */
  sampling?: SamplingMode;
  /** a1111 mode: A1111's "Eta noise seed delta" (ENSD); noise after the first draw comes from seed + delta. */
  etaNoiseSeedDelta?: number;
  /** ControlNet units, one per ControlNet loaded with the model (absent or empty: none). */
  controlNets?: ControlUnit[];
}

export const MAX_SIDE = 4096;
export const MAX_BATCH = 64;

function isInt(n: number): boolean {
  return Number.isInteger(n);
}

/** Checks a request before any work starts; throws SdError('bad-argument') naming the value and what is allowed. */
export function validateRequest(r: GenerateRequest): void {
  const bad = (message: string): never => {
    throw new SdError('bad-argument', message);
  };
  for (const [name, v] of [
    ['width', r.width],
    ['height', r.height],
  ] as const) {
    if (!isInt(v) || v < 8 || v > MAX_SIDE || v % 8 !== 0) {
      bad(
        `${name} ${v} is not allowed: use a multiple of 8 from 8 to ${MAX_SIDE} (e.g. ${Math.max(8, Math.min(MAX_SIDE, Math.round((Number.isFinite(v) ? v : 512) / 8) * 8))}).`,
      );
    }
  }
  if (!isInt(r.steps) || r.steps < 1 || r.steps > 1000)
    bad(`steps ${r.steps} is not allowed: use a whole number from 1 to 1000.`);
  if (!Number.isFinite(r.cfgScale) || r.cfgScale < 0 || r.cfgScale > 100)
    bad(`cfg ${r.cfgScale} is not allowed: use a number from 0 to 100 (7 is typical; at most 1 disables guidance).`);
  if (!isInt(r.batchSize) || r.batchSize < 1 || r.batchSize > MAX_BATCH)
    bad(`batch size ${r.batchSize} is not allowed: use a whole number from 1 to ${MAX_BATCH}.`);
  if (r.seed < 0n || r.seed > 0xffffffffffffffffn)
    bad(`seed ${r.seed} is not allowed: use a whole number from 0 to 18446744073709551615.`);
  else if (r.seed + BigInt(r.batchSize) - 1n > 0xffffffffffffffffn) {
    bad(
      `seed ${r.seed} with batch size ${r.batchSize} is not allowed: image i uses seed + i, which must stay at most 18446744073709551615; lower the seed.`,
    );
  }
  if (r.rng !== 'cpu' && r.rng !== 'gpu') bad(`rng "${String(r.rng)}" is not allowed: use cpu or gpu.`);
  if (r.sampling !== undefined && r.sampling !== 'diffusers' && r.sampling !== 'a1111')
    bad(`sampling "${String(r.sampling)}" is not allowed: use a1111 or diffusers.`);
  const delta = r.etaNoiseSeedDelta;
  if (delta !== undefined && (!Number.isSafeInteger(delta) || delta < 0))
    bad(`ENSD ${delta} is not allowed: use a whole number of at least 0 (A1111's "Eta noise seed delta", e.g. 31337).`);
  if (r.sampling === 'a1111' && r.initImage)
    bad('img2img is not available in a1111 sampling mode yet: use --sampling diffusers for img2img.');
  for (const [i, unit] of (r.controlNets ?? []).entries()) {
    const name = `ControlNet ${i}`;
    if (!Number.isFinite(unit.weight) || unit.weight < 0 || unit.weight > 10)
      bad(`${name} weight ${unit.weight} is not allowed: use a number from 0 to 10 (1 is typical).`);
    if (!(unit.start >= 0 && unit.start < unit.end && unit.end <= 1))
      bad(
        `${name} start ${unit.start} and end ${unit.end} are not allowed: use fractions of the steps with 0 ≤ start < end ≤ 1 (e.g. 0 and 1).`,
      );
    const { rgb, width, height } = unit.image;
    if (rgb.length !== width * height * 3)
      bad(`The ${name} control image has ${rgb.length} bytes; ${width}x${height} RGB needs ${width * height * 3}.`);
  }
  if (r.initImage) {
    const s = r.denoisingStrength;
    if (s === undefined || !Number.isFinite(s) || s <= 0 || s > 1)
      bad(`strength ${String(s)} is not allowed: img2img needs a strength in (0, 1], e.g. 0.75.`);
    const { rgb, width, height } = r.initImage;
    if (rgb.length !== width * height * 3)
      bad(`The init image has ${rgb.length} bytes; ${width}x${height} RGB needs ${width * height * 3}.`);
  } else if (r.denoisingStrength !== undefined) {
    bad(
      `strength ${r.denoisingStrength} was given without an init image: strength only applies to img2img; add an init image or drop strength.`,
    );
  }
}
