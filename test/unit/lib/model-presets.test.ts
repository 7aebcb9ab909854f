import { describe, expect, it } from 'vitest';
import { MODEL_PRESETS, openingSettings, pickedPresetSettings, presetOf } from '../../../src/lib/model-presets.ts';
import { DEFAULT_SETTINGS, parseShareQuery } from '../../../src/lib/share-link.ts';

const opened = (search: string) => openingSettings(parseShareQuery(search));

describe('model presets', () => {
  it('has the default model as a preset with its own steps and CFG (SD-Turbo: 1 step, CFG 0)', () => {
    expect(presetOf(DEFAULT_SETTINGS.model)?.settings).toEqual({ steps: 1, cfgScale: 0 });
    expect(new Set(MODEL_PRESETS.map((p) => p.id)).size).toBe(MODEL_PRESETS.length);
  });

  it("opens a bare page with the default preset's settings, not the generic defaults", () => {
    expect(opened('')).toEqual({ ...DEFAULT_SETTINGS, steps: 1, cfgScale: 0 });
  });

  it("opens a link to a preset model with the preset's settings where the link gives none", () => {
    expect(opened('?model=schmuell/sd-turbo-ort-web&prompt=a%20fox&seed=7')).toEqual({
      ...DEFAULT_SETTINGS,
      prompt: 'a fox',
      seed: '7',
      steps: 1,
      cfgScale: 0,
    });
    expect(opened('?model=stable-diffusion-v1-5/stable-diffusion-v1-5')).toMatchObject({ steps: 20, cfgScale: 7 });
  });

  it('lets values given in the link win over the preset', () => {
    expect(opened('?model=schmuell/sd-turbo-ort-web&steps=4&cfg=1.5')).toMatchObject({ steps: 4, cfgScale: 1.5 });
    expect(opened('?steps=2')).toMatchObject({ steps: 2, cfgScale: 0 });
  });

  it('fills a value the link gave but could not use from the preset', () => {
    const parsed = parseShareQuery('?steps=99999');
    expect(parsed.problems).toHaveLength(1);
    expect(openingSettings(parsed)).toMatchObject({ steps: 1, cfgScale: 0 });
  });

  it('leaves a model that is not a preset at the generic defaults', () => {
    expect(opened('?model=/models/tiny-sd15')).toEqual({ ...DEFAULT_SETTINGS, model: '/models/tiny-sd15' });
  });

  it('applies a picked preset: its model, its settings, and the size left to the model', () => {
    const preset = presetOf('stable-diffusion-v1-5/stable-diffusion-v1-5');
    expect(preset).toBeDefined();
    if (!preset) return;
    expect(pickedPresetSettings(preset)).toEqual({
      model: preset.id,
      steps: 20,
      cfgScale: 7,
      width: null,
      height: null,
    });
  });
});
