import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MERGES } from '../../../src/cli/bundled.ts';
import { loadModel } from '../../../src/core/models/load-model.ts';
import { assumedPad, assumedScheduler, isTurboName } from '../../../src/core/models/model-assumptions.ts';
import { fixtureFiles, nodeRuntime } from '../pipeline/fixture-models.ts';

const merges = readFileSync(BUNDLED_MERGES, 'utf8');
/** Hides what the onnxruntime web sample's repository lacks: index, tokenizers, scheduler config. */
const bare = (path: string): boolean =>
  path === 'model_index.json' || path.startsWith('tokenizer') || path.startsWith('scheduler/');

describe('what is assumed for a model that leaves things out', () => {
  it('pads by hidden size (768: SD 1.x, 1024: SD 2.x), SDXL by encoder, and other sizes by the name', () => {
    const pad = (hiddenSize: number | undefined, isTurbo = false, isXl = false, isSecond = false): number =>
      assumedPad({ hiddenSize, isTurbo, isXl, isSecond }).padId;
    expect(pad(768)).toBe(49407);
    expect(pad(1024)).toBe(0);
    expect(pad(768, true)).toBe(49407);
    expect(pad(32, true)).toBe(0);
    expect(pad(32)).toBe(49407);
    expect(pad(768, false, true)).toBe(49407);
    expect(pad(1280, false, true, true)).toBe(0);
    expect(assumedPad({ hiddenSize: 32, isTurbo: false, isXl: false, isSecond: false }).why).toBe(
      'SD 1.x assumed: text encoder hidden size 32 is neither 768 nor 1024',
    );
    expect(isTurboName('schmuell/sd-turbo-ort-web')).toBe(true);
    expect(isTurboName('https://host/models/SDXL-Turbo/')).toBe(true);
    expect(isTurboName('stable-diffusion-v1-5/stable-diffusion-v1-5@onnx')).toBe(false);
  });

  it("picks each family's standard scheduler, and Euler a with trailing spacing, 1 step, CFG 0 for turbo", () => {
    expect(assumedScheduler('sd1', false)).toMatchObject({
      config: { _class_name: 'PNDMScheduler', skip_prk_steps: true },
      suggested: undefined,
    });
    expect(assumedScheduler('sd2', false).line).toBe(
      'no scheduler config: PNDM, epsilon prediction (SD 2.x standard; a 768 px v-prediction model needs its own scheduler_config.json)',
    );
    expect(assumedScheduler('sdxl', false).config).toMatchObject({
      _class_name: 'EulerDiscreteScheduler',
      timestep_spacing: 'leading',
    });
    expect(assumedScheduler('sdxl', true)).toMatchObject({
      config: { _class_name: 'EulerAncestralDiscreteScheduler', timestep_spacing: 'trailing' },
      line: 'no scheduler config: Euler a, trailing spacing (SDXL-Turbo); suggested 1 step, CFG 0',
      suggested: { steps: 1, cfgScale: 0 },
    });
  });

  it('a complete export assumes nothing', async () => {
    const model = await loadModel(fixtureFiles('tiny-sd15'), await nodeRuntime());
    try {
      expect(model.assumptions).toEqual([]);
      expect(model.suggested).toBeUndefined();
    } finally {
      await model.release();
    }
  });

  it('SD 1.x without index, tokenizer and scheduler: EOS padding and PNDM, each said', async () => {
    const model = await loadModel(fixtureFiles('tiny-sd15', bare), await nodeRuntime(), {
      fallbackMerges: async () => merges,
    });
    try {
      expect(model.family).toBe('sd1');
      expect(model.textEncoders[0]!.padId).toBe(49407);
      expect(model.schedulerConfig['_class_name']).toBe('PNDMScheduler');
      expect(model.assumptions).toEqual([
        'no model_index.json: layout inferred from unet/, text_encoder/, vae_decoder/, vae_encoder/',
        "no tokenizer: bundled CLIP tokenizer, padding with '<|endoftext|>' (SD 1.x assumed: text encoder hidden size 32 is neither 768 nor 1024)",
        'no scheduler config: PNDM, epsilon prediction (SD 1.x standard)',
      ]);
    } finally {
      await model.release();
    }
  });

  it('SDXL without index, tokenizers and scheduler: both encoders, EOS then "!" padding, Euler leading', async () => {
    const model = await loadModel(fixtureFiles('tiny-sdxl', bare), await nodeRuntime(), {
      fallbackMerges: async () => merges,
    });
    try {
      expect(model.family).toBe('sdxl');
      expect(model.textEncoders.map((e) => e.padId)).toEqual([49407, 0]);
      expect(model.schedulerConfig).toMatchObject({
        _class_name: 'EulerDiscreteScheduler',
        timestep_spacing: 'leading',
      });
      expect(model.assumptions.slice(1)).toEqual([
        "no tokenizer: bundled CLIP tokenizer, padding with '<|endoftext|>' (SDXL's first text encoder)",
        "no tokenizer_2: bundled CLIP tokenizer, padding with '!' (SDXL's second text encoder)",
        'no scheduler config: Euler, leading spacing (SDXL standard)',
      ]);
    } finally {
      await model.release();
    }
  });
});
