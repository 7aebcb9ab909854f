import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../../src/core/png/png.ts';
import { formatInfotext } from '../../../src/core/png/infotext.ts';
import { infotextOfImage, infotextOfPng, settingsFromInfotext } from '../../../src/lib/infotext-settings.ts';
import { FIXTURES, REFERENCE } from '../../fixtures.ts';

describe('settings restored from a PNG', () => {
  it('restores every parameter our PNGs carry, and reports the model as ignored', () => {
    const text = formatInfotext({
      prompt: 'a (red:1.5) apple',
      negativePrompt: 'blurry',
      steps: 12,
      sampler: 'DPM++ 2M Karras',
      cfgScale: 6.5,
      seed: 18446744073709551615n,
      width: 64,
      height: 128,
      model: 'tiny-sd15',
      rng: 'GPU',
      denoisingStrength: 0.6,
    });
    // our diffusers-mode PNGs carry no Version in these settings, but the sampling chunk says the mode
    const png = encodePng(new Uint8Array(8 * 8 * 3), 8, 8, { parameters: text, sampling: 'diffusers' });
    const found = infotextOfImage(png, 'ours.png');
    expect(found).toEqual({ text: infotextOfPng(png), sampling: 'diffusers' });
    const { settings, ignored } = settingsFromInfotext(infotextOfPng(png)!, 'diffusers');
    expect(settings).toEqual({
      prompt: 'a (red:1.5) apple',
      negativePrompt: 'blurry',
      sampler: 'DPM++ 2M Karras',
      steps: 12,
      cfgScale: 6.5,
      seed: '18446744073709551615',
      width: 64,
      height: 128,
      denoisingStrength: 0.6,
      rng: 'gpu',
      sampling: 'diffusers',
    });
    expect(ignored).toEqual(['Model (tiny-sd15: pick the model yourself)']);
  });

  it("reads AUTOMATIC1111's newer sampler + schedule pair and lists keys it cannot use", () => {
    const text =
      'cat\nNegative prompt: dog\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 5, Size: 512x768, Hires upscale: 2, Version: v1.10.1';
    const { settings, ignored } = settingsFromInfotext(text);
    expect(settings.sampler).toBe('DPM++ 2M Karras');
    expect([settings.width, settings.height]).toEqual([512, 768]);
    expect(ignored).toContain('Hires upscale');
  });

  it('says a PNG without parameters has none', () => {
    expect(infotextOfPng(new Uint8Array(readFileSync(resolve(REFERENCE, 'cases/sd15-euler-20.png'))))).toBeUndefined();
  });

  it('restores nothing for a sampler it cannot reproduce, saying why and what is closest', () => {
    const text =
      'cat\nSteps: 20, Sampler: DPM++ 3M SDE, Schedule type: Exponential, CFG scale: 7, Seed: 5, Size: 512x768';
    const { settings, ignored, problems } = settingsFromInfotext(text, 'diffusers');
    expect(settings.sampler).toBeUndefined();
    expect(settings.steps).toBe(20);
    expect(ignored).toEqual(['Sampler', 'Schedule type']);
    expect(problems).toEqual([
      'Sampler "DPM++ 3M SDE" with schedule type "Exponential" cannot be reproduced here: the third-order DPM++ SDE solver ' +
        'is not ported here. The closest sampler here is "DPM++ 2M SDE Karras" (it gives a different image): pick it or ' +
        'another sampler yourself.',
    ]);
  });

  it('says a ComfyUI PNG carries a workflow and no parameters', () => {
    const png = encodePng(new Uint8Array(3), 1, 1, { workflow: '{"nodes": []}' });
    expect(infotextOfImage(png, 'comfy.png')).toEqual({
      missing:
        'comfy.png carries a ComfyUI workflow ("workflow" JSON) and no AUTOMATIC1111 "parameters" text, so there are no ' +
        'settings to read here. Open it in ComfyUI, or use an image saved by AUTOMATIC1111, Forge, SD.Next or this tool.',
    });
  });
});

describe('the sampling mode of a restored image', () => {
  const A1111_CASES = resolve(FIXTURES, 'single-file/a1111-cases');

  it("selects a1111 for AUTOMATIC1111's PNGs, with their sampler and schedule type", () => {
    const bytes = new Uint8Array(readFileSync(resolve(A1111_CASES, 'a1k-dpmpp2m-karras-15-gpu.png')));
    const found = infotextOfImage(bytes, 'a1k.png');
    if (!('text' in found)) throw new Error(found.missing);
    expect(found.sampling).toBeUndefined();
    const { settings, ignored, problems, samplingReason } = settingsFromInfotext(found.text, found.sampling);
    expect(settings).toMatchObject({
      sampling: 'a1111',
      sampler: 'DPM++ 2M Karras',
      etaNoiseSeedDelta: 0,
      steps: 15,
      seed: '1234',
      rng: 'gpu',
    });
    expect(samplingReason).toMatch(/AUTOMATIC1111 v1\./);
    expect(ignored).toEqual(['Model (tiny-sd15: pick the model yourself)']);
    expect(problems).toEqual([]);
  });

  it('treats an infotext without Version as A1111 unless the PNG says it is ours', () => {
    const text = 'cat\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64';
    expect(settingsFromInfotext(text).settings.sampling).toBe('a1111');
    expect(settingsFromInfotext(text, 'diffusers').settings.sampling).toBe('diffusers');
  });

  it('keeps our a1111-mode images in a1111 mode with their ENSD, which is not listed as ignored', () => {
    const text =
      'cat\nSteps: 4, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 5, Size: 64x64, Sampling: a1111, ENSD: 31337, Version: sd-web 0.1.0';
    const { settings, ignored } = settingsFromInfotext(text, 'a1111');
    expect(settings).toMatchObject({ sampling: 'a1111', sampler: 'Euler a Karras', etaNoiseSeedDelta: 31337 });
    expect(ignored).toEqual([]);
  });

  it('lists ENSD as ignored in diffusers mode', () => {
    const text = 'cat\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, ENSD: 31337';
    const { settings, ignored } = settingsFromInfotext(text, 'diffusers');
    expect(settings.etaNoiseSeedDelta).toBeUndefined();
    expect(ignored).toEqual(['ENSD']);
  });

  it('falls back to Euler a for a sampler a1111 mode cannot run, saying why', () => {
    const text =
      'cat\nSteps: 4, Sampler: DPM++ 2M SDE, Schedule type: Karras, CFG scale: 7, Seed: 5, Size: 64x64, Version: v1.10.1';
    const { settings, ignored, problems } = settingsFromInfotext(text);
    expect(settings.sampling).toBe('a1111');
    expect(settings.sampler).toBeNull();
    expect(ignored).toEqual(['Sampler', 'Schedule type']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^a1111 sampling cannot run "DPM\+\+ 2M SDE": .*Brownian tree/);
  });
});
