import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import type { LoadedModel } from '../../../src/core/models/load-model.ts';
import { generate, img2imgBeginIndex } from '../../../src/core/pipeline/generate.ts';
import { compareImages, loadCases, referencePng, TOLERANCE } from '../../oracle/cases.ts';
import { caseRequest, loadFixture, nodeRuntime } from './fixture-models.ts';

const cases = new Map(loadCases().map((c) => [c.id, c]));
const refCase = (id: string) => {
  const c = cases.get(id);
  if (!c) throw new Error(`reference case ${id} is missing`);
  return c;
};

describe('img2imgBeginIndex (diffusers get_timesteps)', () => {
  it('skips steps - floor(steps * strength) inference steps, times the scheduler order', () => {
    // the reference img2img case: 20 steps at 0.75 keep 15
    expect(img2imgBeginIndex(20, 0.75, 1)).toBe(5);
    expect(img2imgBeginIndex(20, 0.75, 2)).toBe(10);
    expect(img2imgBeginIndex(10, 1, 1)).toBe(0);
    // Python's int() of 3 * 0.3 = 0.8999999999999999 is 0: nothing left
    expect(img2imgBeginIndex(3, 0.3, 1)).toBe(3);
  });
});

describe('generate on tiny-sd15', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await loadFixture('tiny-sd15');
  });
  afterAll(async () => {
    await model.release();
  });

  it('img2img matches the reference: the noise is the first draw (the encoder gives latents, no posterior sample)', async () => {
    const c = refCase('sd15-img2img-euler-075');
    const { images } = await generate(model, await nodeRuntime(), caseRequest(c));
    const diff = compareImages(images[0]!.rgb, referencePng(c).rgb);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
  });

  it('image i of a batch is the single image of seed + i', async () => {
    const c = refCase('sd15-euler-20');
    const request = { ...caseRequest(c), seed: BigInt(c.seed) - 1n, batchSize: 2 };
    const seen: bigint[] = [];
    const { images } = await generate(model, await nodeRuntime(), request, {
      onImage: (image) => seen.push(image.seed),
    });
    expect(seen).toEqual([BigInt(c.seed) - 1n, BigInt(c.seed)]);
    const diff = compareImages(images[1]!.rgb, referencePng(c).rgb);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
    expect(compareImages(images[0]!.rgb, images[1]!.rgb).mean).toBeGreaterThan(1);
  });

  it('reports one denoise progress event per model call after the img2img cut', async () => {
    const c = refCase('sd15-img2img-euler-075');
    const steps: number[] = [];
    await generate(model, await nodeRuntime(), caseRequest(c), {
      onProgress: (p) => {
        if (p.kind === 'denoise') steps.push(p.steps);
      },
    });
    expect(steps).toEqual(new Array(15).fill(15));
  });

  it('refuses a strength that leaves no step, before any model call', async () => {
    const c = refCase('sd15-img2img-euler-075');
    let calls = 0;
    const error = await generate(
      model,
      await nodeRuntime(),
      { ...caseRequest(c), sampler: 'Euler', steps: 3, denoisingStrength: 0.3 },
      {
        onProgress: () => calls++,
      },
    ).catch((e: unknown) => e);
    expect(isSdError(error, 'bad-argument')).toBe(true);
    expect((error as Error).message).toContain('strength 0.3');
    expect(calls).toBe(0);
  });

  it('stops with a cancelled error when asked', async () => {
    const c = refCase('sd15-euler-20');
    const error = await generate(model, await nodeRuntime(), caseRequest(c), { isCancelled: () => true }).catch(
      (e: unknown) => e,
    );
    expect(isSdError(error, 'cancelled')).toBe(true);
  });
});

describe('generate with mismatched parts', () => {
  it('an SDXL UNet with text_encoder_2 alone is an unknown-contract error before the first UNet call', async () => {
    const model = await loadFixture(
      'tiny-sdxl',
      (path) => path.startsWith('text_encoder/') || path.startsWith('tokenizer/'),
    );
    try {
      const c = refCase('sdxl-dpmppsdek-6-g2');
      const error = await generate(model, await nodeRuntime(), caseRequest(c)).catch((e: unknown) => e);
      expect(isSdError(error, 'unknown-contract')).toBe(true);
      expect((error as Error).message).toMatch(/32 features per token but the UNet expects 64/);
    } finally {
      await model.release();
    }
  });
});
