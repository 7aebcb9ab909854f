import { describe, expect, it } from 'vitest';
import { formatInfotext, parseInfotext, type InfotextParams } from '../../../src/core/png/infotext.ts';

const A1111_SAMPLERS = [
  'Euler Karras',
  'Heun Karras',
  'Euler SGM Uniform',
  'DPM++ 2M SGM Uniform',
  'Euler',
  'Euler a',
  'Heun',
  'LMS',
  'LMS Karras',
  'DPM2',
  'DPM2 Karras',
  'DPM2 a',
  'DPM2 a Karras',
  'DPM++ 2M',
  'DPM++ 2M Karras',
  'DPM++ 2M SDE',
  'DPM++ 2M SDE Karras',
  'DPM++ SDE',
  'DPM++ SDE Karras',
  'DDIM',
  'PLMS',
  'UniPC',
  'DEIS',
  'DDPM',
  'LCM',
];

const base: InfotextParams = {
  prompt: 'a photo of an astronaut riding a horse on mars',
  negativePrompt: '',
  steps: 20,
  sampler: 'Euler a',
  cfgScale: 7,
  seed: 1234n,
  width: 512,
  height: 768,
  rng: 'CPU',
};

describe('formatInfotext', () => {
  it("writes A1111 1.9+'s layout, key order and number formatting", () => {
    const text = formatInfotext({
      ...base,
      prompt: 'a cat',
      negativePrompt: 'ugly',
      sampler: 'DPM++ 2M Karras',
      modelHash: '6ce0161689',
      model: 'v1-5-pruned-emaonly',
      denoisingStrength: 0.75,
      version: 'v1.10.1',
    });
    expect(text).toBe(
      'a cat\nNegative prompt: ugly\n' +
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, ' +
        'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.75, RNG: CPU, Version: v1.10.1',
    );
  });

  it('omits an empty negative prompt, the default GPU RNG and batch info for single images', () => {
    const text = formatInfotext({ ...base, cfgScale: 7.5, rng: 'GPU', batchSize: 1, batchPos: 0 });
    expect(text).toBe(
      'a photo of an astronaut riding a horse on mars\n' +
        'Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.5, Seed: 1234, Size: 512x768',
    );
  });

  it('quotes values containing commas, colons or newlines as JSON and writes extras before Version', () => {
    const text = formatInfotext({
      ...base,
      model: 'my, model: "v2"',
      batchSize: 4,
      batchPos: 2,
      rng: 'NV',
      extra: { 'Lora hashes': 'detail: 7c6bb1b4d2c9', 'Clip skip': '2', Tiling: 'Tiling' },
      version: 'sd-web 0.1.0',
    });
    expect(text.split('\n').at(-1)).toBe(
      'Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1234, Size: 512x768, ' +
        'Model: "my, model: \\"v2\\"", Batch size: 4, Batch pos: 2, RNG: NV, ' +
        'Lora hashes: "detail: 7c6bb1b4d2c9", Clip skip: 2, Tiling, Version: sd-web 0.1.0',
    );
  });

  it('writes plain names whose A1111 1.9+ default schedule is not uniform with "Schedule type: Uniform"', () => {
    expect(formatInfotext({ ...base, sampler: 'DPM++ 2M' })).toContain('Sampler: DPM++ 2M, Schedule type: Uniform,');
    expect(formatInfotext({ ...base, sampler: 'DPM2 a' })).toContain('Sampler: DPM2 a, Schedule type: Uniform,');
    expect(formatInfotext({ ...base, sampler: 'Euler' })).toContain('Sampler: Euler, Schedule type: Automatic,');
    expect(formatInfotext({ ...base, sampler: 'DDIM' })).toContain('Sampler: DDIM, Schedule type: Automatic,');
    expect(formatInfotext({ ...base, sampler: 'LMS Karras' })).toContain('Sampler: LMS, Schedule type: Karras,');
  });
});

describe('parseInfotext', () => {
  it('reads an old-style A1111 infotext with a combined sampler name', () => {
    const text = [
      'masterpiece, best quality, (a girl:1.2), looking at viewer',
      'Negative prompt: lowres, bad anatomy, (worst quality:1.4)',
      'Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 3735928559, Size: 512x768, Model hash: 6ce0161689, ' +
        'Model: v1-5-pruned-emaonly, Denoising strength: 0.7, Clip skip: 2, Hires upscale: 2, Hires upscaler: Latent, Version: v1.6.0',
    ].join('\n');
    const { params, ignored } = parseInfotext(text);
    expect(params).toEqual({
      prompt: 'masterpiece, best quality, (a girl:1.2), looking at viewer',
      negativePrompt: 'lowres, bad anatomy, (worst quality:1.4)',
      steps: 28,
      sampler: 'DPM++ 2M Karras',
      cfgScale: 7,
      seed: 3735928559n,
      width: 512,
      height: 768,
      modelHash: '6ce0161689',
      model: 'v1-5-pruned-emaonly',
      denoisingStrength: 0.7,
      version: 'v1.6.0',
      rng: 'GPU',
      extra: { 'Clip skip': '2', 'Hires upscale': '2', 'Hires upscaler': 'Latent' },
    });
    expect(ignored).toEqual(['Clip skip', 'Hires upscale', 'Hires upscaler']);
  });

  it('reads a 1.10 infotext: multi-line prompts, split sampler, quoted values, RNG', () => {
    const text = [
      'a cat sitting on a chair,',
      '  highly detailed  ',
      'oil painting',
      'Negative prompt: blurry,',
      'low quality',
      'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 18446744073709551615, ' +
        'Size: 1024x1024, Model hash: 31e35c80fc, Model: "sdxl, base: 1.0", RNG: CPU, ' +
        'Lora hashes: "add_detail: 7c6bb1b4d2c9, more_art: 123abc", TI hashes: "bad-hands-5: aa7651be154c", Version: v1.10.1',
    ].join('\r\n');
    const { params, ignored } = parseInfotext(text);
    expect(params.prompt).toBe('a cat sitting on a chair,\nhighly detailed\noil painting');
    expect(params.negativePrompt).toBe('blurry,\nlow quality');
    expect(params.sampler).toBe('DPM++ 2M Karras');
    expect(params.cfgScale).toBe(7.5);
    expect(params.seed).toBe(18446744073709551615n);
    expect([params.width, params.height]).toEqual([1024, 1024]);
    expect(params.model).toBe('sdxl, base: 1.0');
    expect(params.rng).toBe('CPU');
    expect(params.version).toBe('v1.10.1');
    expect(ignored).toEqual(['Lora hashes', 'TI hashes']);
    expect(params.extra).toEqual({
      'Lora hashes': 'add_detail: 7c6bb1b4d2c9, more_art: 123abc',
      'TI hashes': 'bad-hands-5: aa7651be154c',
    });
  });

  it.each([
    ['Euler a', 'Automatic', 'Euler a'],
    // "Automatic" is the sampler's A1111 1.9+ default: Karras for DPM++ 2M
    ['DPM++ 2M', 'Automatic', 'DPM++ 2M Karras'],
    ['DPM++ 2M', 'Uniform', 'DPM++ 2M'],
    ['DPM++ 2M SDE', 'Karras', 'DPM++ 2M SDE Karras'],
    ['LMS Karras', 'Karras', 'LMS Karras'],
    ['Euler', 'SGM Uniform', 'Euler SGM Uniform'],
    ['DDIM', 'Karras', 'DDIM'],
  ])('maps Sampler "%s" with Schedule type "%s" to "%s"', (sampler, schedule, ours) => {
    const text = `p\nSteps: 20, Sampler: ${sampler}, Schedule type: ${schedule}, CFG scale: 7, Seed: 1, Size: 64x64`;
    expect(parseInfotext(text).params.sampler).toBe(ours);
  });

  it('reports a sampler that cannot be reproduced instead of substituting one', () => {
    const text = 'p\nSteps: 20, Sampler: DPM++ 2M SDE, Schedule type: Automatic, CFG scale: 7, Seed: 1, Size: 64x64';
    const { params, ignored, problems } = parseInfotext(text);
    expect(params.sampler).toBeUndefined();
    expect(ignored).toEqual(['Sampler', 'Schedule type']);
    expect(params.extra).toEqual({ Sampler: 'DPM++ 2M SDE', 'Schedule type': 'Automatic' });
    expect(problems).toEqual([
      'Sampler "DPM++ 2M SDE" with schedule type "Automatic" (Exponential for this sampler in AUTOMATIC1111 1.9+) cannot be ' +
        'reproduced here: diffusers 0.27.2, which these schedulers port, has no exponential sigmas (use_exponential_sigmas ' +
        'came in diffusers 0.31 and is not ported). The closest sampler here is "DPM++ 2M SDE Karras" (it gives a different ' +
        'image): pick it or another sampler yourself.',
    ]);
  });

  it('treats a last line with fewer than three pairs as prompt, without defaults', () => {
    const { params, ignored } = parseInfotext('a castle\nstyle: gothic, mood: dark');
    expect(params).toEqual({ prompt: 'a castle\nstyle: gothic, mood: dark', negativePrompt: '' });
    expect(ignored).toEqual([]);
  });

  it('reads a negative prompt with an empty prompt', () => {
    const { params } = parseInfotext(
      'Negative prompt: text, watermark\nSteps: 4, Sampler: LCM, CFG scale: 1.5, Seed: 7, Size: 512x512',
    );
    expect(params.prompt).toBe('');
    expect(params.negativePrompt).toBe('text, watermark');
    expect(params.sampler).toBe('LCM');
  });

  it.each([
    ['Steps: twenty', 'Steps', 'twenty', 'a whole number'],
    ['Steps: 2.5', 'Steps', '2.5', 'a whole number'],
    ['CFG scale: high', 'CFG scale', 'high', 'a number'],
    ['Seed: -5', 'Seed', '-5', 'a seed (a whole number from 0 to 2^64-1)'],
    ['Size: 512by512', 'Size', '512by512', 'a size like 512x768'],
    ['Denoising strength: 0.7.5', 'Denoising strength', '0.7.5', 'a number'],
  ])('keeps "%s" as an ignored value, naming the key, value and what was expected', (pair, key, value, expected) => {
    const text = `p\nSampler: Euler, Model: m, ${pair}, Version: v1`;
    const { params, ignored, problems } = parseInfotext(text);
    expect(ignored).toEqual([key]);
    expect(params.extra).toEqual({ [key]: value });
    expect(problems).toEqual([`Infotext "${key}: ${value}" is not ${expected}, so it was not restored.`]);
    expect([params.sampler, params.model, params.version]).toEqual(['Euler', 'm', 'v1']);
  });
});

describe('format → parse round trip', () => {
  it.each(A1111_SAMPLERS)('keeps sampler %s', (sampler) => {
    const params = { ...base, sampler };
    expect(parseInfotext(formatInfotext(params))).toEqual({ params, ignored: [], problems: [] });
  });

  it('keeps every field, including quotes, colons, commas, newlines and non-Latin-1 text', () => {
    const params: InfotextParams = {
      prompt: 'line one, (emphasis:1.2)\nline "two": 日本語 🐱',
      negativePrompt: 'bad, ugly\nworse: "much"',
      steps: 35,
      sampler: 'DPM++ SDE Karras',
      cfgScale: 4.25,
      seed: 9007199254740999n,
      width: 1024,
      height: 576,
      model: 'model, with: "quotes"',
      modelHash: 'abcdef0123',
      rng: 'NV',
      denoisingStrength: 0.35,
      batchSize: 3,
      batchPos: 2,
      version: 'sd-web 0.1.0',
      extra: { 'Clip skip': '2', 'Lora hashes': 'a: 1, b: 2', Note: 'multi\nline' },
    };
    const { params: parsed, ignored } = parseInfotext(formatInfotext(params));
    expect(parsed).toEqual(params);
    expect(ignored).toEqual(['Clip skip', 'Lora hashes', 'Note']);
  });

  it('reads a missing RNG back as GPU, as A1111 does', () => {
    const { rng: _rng, ...withoutRng } = base;
    expect(parseInfotext(formatInfotext(withoutRng)).params.rng).toBe('GPU');
    expect(parseInfotext(formatInfotext({ ...base, rng: 'GPU' })).params).toEqual({ ...base, rng: 'GPU' });
  });
});

describe('parseInfotext with unusual keys', () => {
  it('keeps keys named like Object members as plain extra data', () => {
    const text = 'p\nSteps: 20, constructor: x, __proto__: y, toString: z, Seed: 5';
    const { params, ignored } = parseInfotext(text);
    expect(ignored).toEqual(['constructor', '__proto__', 'toString']);
    expect(Object.entries(params.extra ?? {})).toEqual([
      ['constructor', 'x'],
      ['__proto__', 'y'],
      ['toString', 'z'],
    ]);
    expect(params.seed).toBe(5n);
  });
});

describe('parseInfotext line joining', () => {
  it('joins lines only onto non-empty text, as A1111 does', () => {
    const text = 'a\n\nb\nNegative prompt:\nc\nSteps: 1, Sampler: Euler, CFG scale: 1, Seed: 1, Size: 8x8';
    const { params } = parseInfotext(text);
    expect(params.prompt).toBe('a\n\nb');
    expect(params.negativePrompt).toBe('c');
  });
});
