import { describe, expect, it } from 'vitest';
import { infotextOf, infotextParamsOf } from '../../../src/core/pipeline/infotext-of.ts';
import type { GenerateRequest } from '../../../src/core/pipeline/request.ts';
import { parseInfotext } from '../../../src/core/png/infotext.ts';

const REQUEST: GenerateRequest = {
  prompt: 'a red fox',
  negativePrompt: 'blurry',
  sampler: 'DPM++ 2M Karras',
  steps: 20,
  cfgScale: 7.5,
  seed: 42n,
  width: 64,
  height: 96,
  batchSize: 1,
  rng: 'gpu',
  promptSyntax: 'a1111',
};
const MODEL = { name: 'tiny-sd15', schedulerConfig: { _class_name: 'PNDMScheduler' } };
const IMAGE = { index: 0, seed: 42n, width: 64, height: 96 };

describe('infotextOf', () => {
  it('writes one image of a single-image txt2img request as A1111 does', () => {
    expect(infotextOf(REQUEST, IMAGE, MODEL)).toBe(
      'a red fox\nNegative prompt: blurry\n' +
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 42, Size: 64x96, Model: tiny-sd15',
    );
  });

  it("records the model's scheduler class when no sampler is picked, and 'unknown' when the config names none", () => {
    expect(infotextParamsOf({ ...REQUEST, sampler: null }, IMAGE, MODEL).sampler).toBe('PNDMScheduler');
    expect(infotextParamsOf({ ...REQUEST, sampler: null }, IMAGE, { ...MODEL, schedulerConfig: {} }).sampler).toBe(
      'unknown',
    );
  });

  it("writes each image's seed, the batch size and position for batches, CPU noise and img2img strength", () => {
    const request: GenerateRequest = {
      ...REQUEST,
      batchSize: 3,
      rng: 'cpu',
      initImage: { rgb: new Uint8Array(64 * 96 * 3), width: 64, height: 96 },
      denoisingStrength: 0.6,
    };
    const text = infotextOf(request, { ...IMAGE, index: 2, seed: 44n }, MODEL);
    expect(text).toMatch(/Seed: 44, .*Batch size: 3, Batch pos: 2, Denoising strength: 0\.6, RNG: CPU$/);
    expect(parseInfotext(text).params).toMatchObject({ seed: 44n, batchSize: 3, batchPos: 2, denoisingStrength: 0.6 });
  });

  it('leaves the strength out of txt2img even when the request carries one', () => {
    expect(infotextParamsOf({ ...REQUEST, denoisingStrength: 0.5 }, IMAGE, MODEL).denoisingStrength).toBeUndefined();
  });
});
