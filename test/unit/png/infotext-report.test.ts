import { describe, expect, it } from 'vitest';
import { describeInfotext, type InfotextReport } from '../../../src/core/png/infotext-report.ts';
import { SAMPLES } from './infotext-samples.ts';

/** Our report folded back into the dict A1111's parse_generation_parameters returns (before its defaults). */
function asA1111(r: InfotextReport): Record<string, string> {
  const out: Record<string, string> = { Prompt: r.prompt, 'Negative prompt': r.negativePrompt };
  const typed: [string, unknown][] = [
    ['Steps', r.steps],
    ['Sampler', r.sampler],
    ['Schedule type', r.scheduleType],
    ['CFG scale', r.cfgScale],
    ['Seed', r.seed],
    ['Size-1', r.width],
    ['Size-2', r.height],
    ['Denoising strength', r.denoisingStrength],
  ];
  for (const [key, value] of typed) if (value !== null) out[key] = String(value);
  if (r.clipSkip !== 1) out['Clip skip'] = String(r.clipSkip);
  if (r.rng !== 'GPU') out['RNG'] = String(r.rng);
  for (const [key, value] of Object.entries(r.other)) {
    // A1111 splits every WxH value into KEY-1 and KEY-2
    const size = /^(\d+)x(\d+)$/.exec(value);
    if (size) [out[`${key}-1`], out[`${key}-2`]] = [size[1]!, size[2]!];
    else out[key] = value;
  }
  return out;
}

describe('describeInfotext on real-shaped infotexts (checked against A1111 1.10)', () => {
  it('AUTOMATIC1111 1.10: split sampler, hires fix, quoted hashes, LoRA tags with one and two multipliers', () => {
    const r = describeInfotext(SAMPLES.a1111);
    expect(asA1111(r)).toEqual({
      Prompt:
        'masterpiece, best quality, 1girl, solo, <lora:add_detail:0.6>, (looking at viewer:1.2),\ncity street at night, <lora:neon_v2:0.8:0.5>',
      'Negative prompt': '(worst quality, low quality:1.4), easynegative, bad-hands-5',
      Steps: '28',
      Sampler: 'DPM++ 2M',
      'Schedule type': 'Karras',
      'CFG scale': '7',
      Seed: '2945104519',
      'Size-1': '512',
      'Size-2': '768',
      'Model hash': '7f96a1a9ca',
      Model: 'anything-v5',
      'Denoising strength': '0.45',
      'Clip skip': '2',
      'Hires upscale': '2',
      'Hires steps': '15',
      'Hires upscaler': 'R-ESRGAN 4x+ Anime6B',
      'Lora hashes': 'add_detail: 7c6bb1b4d2c9, neon_v2: 0a1b2c3d4e5f',
      'TI hashes': 'easynegative: c74b4e810b03, bad-hands-5: aa7651be154c',
      Emphasis: 'Original',
      Version: 'v1.10.1',
    });
    expect(r.loras).toEqual([
      { name: 'add_detail', te: 0.6, unet: 0.6 },
      { name: 'neon_v2', te: 0.8, unet: 0.5 },
    ]);
    expect([r.steps, r.cfgScale, r.seed, r.width, r.height, r.denoisingStrength, r.clipSkip, r.rng]).toEqual([
      28,
      7,
      2945104519,
      512,
      768,
      0.45,
      2,
      'GPU',
    ]);
    expect(r.restore).toEqual({
      sampler: 'DPM++ 2M Karras',
      ignored: ['Clip skip', 'Hires upscale', 'Hires steps', 'Hires upscaler', 'Lora hashes', 'TI hashes', 'Emphasis'],
      problems: [],
    });
  });

  it('Forge: SGM Uniform, ADetailer and a quoted ControlNet unit with commas and colons inside', () => {
    const r = describeInfotext(SAMPLES.forge);
    expect(r.other['ControlNet 0']).toBe(
      'Module: canny, Model: diffusers_xl_canny_mid [112a778d], Weight: 0.75, Resize Mode: Crop and Resize, Processor Res: 512, ' +
        'Guidance Start: 0.0, Guidance End: 0.8, Pixel Perfect: False, Control Mode: Balanced',
    );
    expect(Object.keys(r.other)).toEqual([
      'Model hash',
      'Model',
      'VAE hash',
      'VAE',
      'ADetailer model',
      'ADetailer confidence',
      'ADetailer dilate erode',
      'ADetailer inpaint only masked',
      'ADetailer version',
      'ControlNet 0',
      'Lora hashes',
      'Version',
      'Module 1',
    ]);
    expect(r.other['Version']).toBe('f2.0.1v1.10.1-previous-313-g8a042934');
    expect([r.sampler, r.scheduleType, r.cfgScale, r.width, r.height, r.clipSkip]).toEqual([
      'Euler',
      'SGM Uniform',
      1.5,
      832,
      1216,
      2,
    ]);
    expect(r.loras).toEqual([{ name: 'sdxl_lightning_8step_lora', te: 1, unet: 1 }]);
    expect(r.restore.sampler).toBe('Euler SGM Uniform');
  });

  it('SD.Next with sd-dynamic-prompts template lines after the settings line', () => {
    // plain A1111 reads all of it as prompt text (the last line has no settings); the extension's paste
    // hook re-parses the text before its "Template:" line, which is what this matches
    const r = describeInfotext(SAMPLES.sdnext);
    expect(asA1111(r)).toEqual({
      Prompt: 'a cozy cabin in the snowy woods, warm light from the windows',
      'Negative prompt': 'lowres, watermark',
      Steps: '20',
      Seed: '3142957520',
      Sampler: 'DPM++ 2M',
      'CFG scale': '6',
      'Size-1': '1024',
      'Size-2': '1024',
      'Batch-1': '1',
      'Batch-2': '1',
      Parser: 'Full parser',
      Model: 'sd_xl_base_1.0',
      'Model hash': '31e35c80fc',
      Backend: 'Diffusers',
      App: 'SD.Next',
      Version: '6c5d4bb',
      Operations: 'txt2img',
      Pipeline: 'StableDiffusionXLPipeline',
      Template:
        'a cozy {cabin|house} in the snowy woods, (warm light:1.1) from the windows, {day|night}: {winter|autumn}',
      'Negative Template': 'lowres, watermark',
    });
    expect(r.scheduleType).toBeNull();
    // no Schedule type: an old combined name, whose plain "DPM++ 2M" meant uniform sigmas
    expect(r.restore.sampler).toBe('DPM++ 2M');
    expect(r.restore.ignored).toEqual([
      'Batch',
      'Parser',
      'Backend',
      'App',
      'Operations',
      'Pipeline',
      'Template',
      'Negative Template',
    ]);
  });

  it('Civitai: combined sampler name, Created Date, and unquoted JSON kept whole', () => {
    const r = describeInfotext(SAMPLES.civitai);
    const a1111 = asA1111(r);
    // A1111 cuts an unquoted JSON value at its first comma ('[{"type":"checkpoint"'); we keep it whole
    expect(JSON.parse(a1111['Civitai resources']!)).toHaveLength(2);
    expect({ ...a1111, 'Civitai resources': '[{"type":"checkpoint"' }).toEqual({
      Prompt: 'cinematic photo of a red fox in a misty forest, <lora:FoxStyle_v2:0.8>, 35mm photograph, film, bokeh',
      'Negative prompt': 'drawing, painting, crayon, sketch, graphite',
      Steps: '30',
      Sampler: 'DPM++ 2M SDE Karras',
      'CFG scale': '5',
      Seed: '884209461',
      'Size-1': '832',
      'Size-2': '1216',
      'Clip skip': '2',
      'Created Date': '2024-06-12T2148:35.1234567Z',
      'Civitai resources': '[{"type":"checkpoint"',
      'Civitai metadata': '{}',
    });
    expect(r.restore.sampler).toBe('DPM++ 2M SDE Karras');
    expect(r.loras).toEqual([{ name: 'FoxStyle_v2', te: 0.8, unet: 0.8 }]);
  });

  it('old A1111 with quoted JSON hashes and non-ASCII keys', () => {
    const r = describeInfotext(SAMPLES.a1111old);
    expect(asA1111(r)).toEqual({
      Prompt: 'a photo of an astronaut riding a horse on mars',
      'Negative prompt': '',
      Steps: '20',
      Sampler: 'Euler a',
      'CFG scale': '7',
      Seed: '1',
      'Face restoration': 'CodeFormer',
      'Size-1': '512',
      'Size-2': '512',
      'Model hash': '6ce0161689',
      Model: 'v1-5-pruned-emaonly',
      ENSD: '31337',
      Hashes: '{"vae": "c6a580b13a", "model": "6ce0161689"}',
      風格: '水彩',
      Größe: 'groß',
      Version: 'v1.5.1',
    });
    expect(r.restore.sampler).toBe('Euler a');
  });
});

describe('describeInfotext edge cases', () => {
  it('keeps values that do not parse under other and gives null', () => {
    const r = describeInfotext('p\nSteps: twenty, Sampler: Euler, Seed: -5, Size: 512by512, CFG scale: 7');
    expect([r.steps, r.seed, r.width, r.height, r.cfgScale]).toEqual([null, null, null, null, 7]);
    expect(r.other).toEqual({ Steps: 'twenty', Seed: '-5', Size: '512by512' });
  });

  it('gives a seed past 2^53 as a decimal string', () => {
    expect(describeInfotext('p\nSteps: 1, Seed: 18446744073709551615, Sampler: Euler').seed).toBe(
      '18446744073709551615',
    );
  });

  it('has no defaults without a settings line', () => {
    const r = describeInfotext('just a prompt, with: a colon');
    expect([r.prompt, r.clipSkip, r.rng, r.other]).toEqual(['just a prompt, with: a colon', null, null, {}]);
  });
});
