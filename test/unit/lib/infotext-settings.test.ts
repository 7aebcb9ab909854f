import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../../src/core/png/png.ts';
import { formatInfotext } from '../../../src/core/png/infotext.ts';
import { controlNetInfotextEntries, controlNetInfotextUnit } from '../../../src/core/png/infotext-controlnet.ts';
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

describe('ControlNet units of a restored image', () => {
  const settingsLine = 'Steps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512, Model: sd15';
  const unitText = (fields: string) => `"Module: canny, Model: control_v11p_sd15_canny [d14c016b], ${fields}"`;
  const A1111_UNIT = unitText(
    'Weight: 0.8, Resize Mode: Crop and Resize, Low Vram: False, Processor Res: 512, Threshold A: 50, ' +
      'Threshold B: 120, Guidance Start: 0.1, Guidance End: 0.6, Pixel Perfect: False, Control Mode: Balanced',
  );
  const infotext = (...units: string[]) =>
    `a house\n${settingsLine}, ${units.map((u, i) => `ControlNet ${i}: ${u}`).join(', ')}, Version: v1.10.1`;

  it("fills Unit 0 from A1111's ControlNet 0 (enabled, the model by name), and no longer lists the key as ignored", () => {
    const { settings, ignored, problems } = settingsFromInfotext(infotext(A1111_UNIT), undefined, [
      'control_v11p_sd15_canny',
    ]);
    expect(settings.controlNet).toEqual({
      isEnabled: true,
      model: 'control_v11p_sd15_canny',
      preprocessor: 'canny',
      lowThreshold: 50,
      highThreshold: 120,
      weight: 0.8,
      start: 0.1,
      end: 0.6,
    });
    expect(ignored).toEqual(['Model (sd15: pick the model yourself)']);
    expect(problems).toEqual([]);
  });

  it('says when the model is not stored in this browser, and restores the unit with its name', () => {
    const { settings, problems } = settingsFromInfotext(infotext(A1111_UNIT), undefined, ['other']);
    expect(settings.controlNet?.model).toBe('control_v11p_sd15_canny');
    expect(problems).toEqual([
      'The ControlNet control_v11p_sd15_canny is not stored in this browser: add it in the ControlNet panel (the file control_v11p_sd15_canny.safetensors, or a folder named control_v11p_sd15_canny).',
    ]);
  });

  it("reads this project's own infotext (invert, no thresholds) and leaves images without ControlNet alone", () => {
    const ours = formatInfotext({
      prompt: 'a house',
      negativePrompt: '',
      steps: 12,
      sampler: 'Euler',
      cfgScale: 7,
      seed: 42n,
      width: 64,
      height: 64,
      extra: controlNetInfotextEntries([controlNetInfotextUnit('tiny-controlnet', 'invert', 1, 0, 1)]),
    });
    const { settings, ignored } = settingsFromInfotext(ours, 'diffusers', ['tiny-controlnet']);
    expect(settings.controlNet).toMatchObject({ isEnabled: true, model: 'tiny-controlnet', preprocessor: 'invert' });
    expect(ignored).toEqual([]);
    expect(settingsFromInfotext(`a house\n${settingsLine}`).settings.controlNet).toBeUndefined();
  });

  it('reports units it cannot restore: a preprocessor the page lacks, units past Unit 0, a weight above 10', () => {
    const depth = A1111_UNIT.replace('Module: canny', 'Module: depth_midas');
    const one = settingsFromInfotext(infotext(depth, A1111_UNIT));
    expect(one.settings.controlNet).toBeUndefined();
    expect(one.ignored).toEqual([
      'Model (sd15: pick the model yourself)',
      'ControlNet 0 (preprocessor depth_midas is not available here: none, canny and invert are)',
      'ControlNet 1 (the page has 1 ControlNet unit)',
    ]);
    const heavy = settingsFromInfotext(infotext(A1111_UNIT.replace('Weight: 0.8', 'Weight: 12')));
    expect(heavy.settings.controlNet).toBeUndefined();
    expect(heavy.ignored).toContain('ControlNet 0 (Weight 12: the page takes 0 to 10)');
  });

  it('uses 0 and 1 for a guidance that starts where it ends; "None" is no model', () => {
    const text = infotext(
      A1111_UNIT.replace('Guidance Start: 0.1', 'Guidance Start: 0.6').replace(/Model: [^,]+/, 'Model: None'),
    );
    const { settings, problems } = settingsFromInfotext(text, undefined, []);
    expect(settings.controlNet).toMatchObject({ model: null, start: 0, end: 1 });
    expect(problems).toEqual(['ControlNet 0: Guidance Start 0.6 is not before Guidance End 0.6, so 0 and 1 are used.']);
  });
});
