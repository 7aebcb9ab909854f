import { describe, expect, it } from 'vitest';
import {
  controlNetInfotextEntries,
  controlNetInfotextUnit,
  controlNetUnitsOfInfotext,
  preprocessorSpecOf,
  type ControlNetInfotextUnit,
} from '../../../src/core/png/infotext-controlnet.ts';
import { formatInfotext, parseInfotext, type InfotextParams } from '../../../src/core/png/infotext.ts';
import { splitInfotext } from '../../../src/core/png/infotext-split.ts';

const BASE: InfotextParams = {
  prompt: 'a cat',
  negativePrompt: '',
  steps: 20,
  sampler: 'Euler a',
  cfgScale: 7,
  seed: 1n,
  width: 512,
  height: 512,
  model: 'v1-5-pruned-emaonly',
};

/** A prompt line and a settings line around the given pairs, as A1111 writes them. */
const infotext = (settings: string): string => `a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, ${settings}`;

/** The fields the extension's `ControlNetUnit.infotext_fields()` (v1.1.455) knows, as `field_to_displaytext` writes them. */
const A1111_FIELDS = [
  'Module',
  'Model',
  'Weight',
  'Resize Mode',
  'Processor Res',
  'Threshold A',
  'Threshold B',
  'Guidance Start',
  'Guidance End',
  'Pixel Perfect',
  'Control Mode',
];

/**
 * The extension's own reading of a unit (`ControlNetUnit.parse`): split on ",", each item stripped and split
 * on ": " into exactly a key and a value (it raises otherwise), the value read by `parse_value`.
 */
function a1111Parse(text: string): Map<string, string | number | boolean> {
  const fields = new Map<string, string | number | boolean>();
  for (const item of text.split(',')) {
    const parts = item.trim().split(': ');
    if (parts.length !== 2) throw new Error(`A1111 cannot unpack "${item}"`);
    const [key, value] = parts as [string, string];
    const n = Number(value);
    fields.set(key, value === 'True' || value === 'False' ? value === 'True' : value !== '' && !isNaN(n) ? n : value);
  }
  return fields;
}

describe('controlNetInfotextUnit', () => {
  it('takes the module and thresholds from the preprocessor spec', () => {
    expect(controlNetInfotextUnit('control_v11p_sd15_canny', 'canny:50:150', 0.8, 0.1, 0.9)).toEqual({
      module: 'canny',
      model: 'control_v11p_sd15_canny',
      weight: 0.8,
      start: 0.1,
      end: 0.9,
      thresholdA: 50,
      thresholdB: 150,
    });
    expect(controlNetInfotextUnit('c', 'canny', 1, 0, 1)).toMatchObject({ thresholdA: 100, thresholdB: 200 });
    expect(controlNetInfotextUnit('c', 'invert', 1, 0, 1)).toEqual({
      module: 'invert',
      model: 'c',
      weight: 1,
      start: 0,
      end: 1,
    });
    expect(controlNetInfotextUnit('c', 'none', 1, 0, 1)).not.toHaveProperty('thresholdA');
  });

  it('refuses a spec there is no preprocessor for', () => {
    expect(() => controlNetInfotextUnit('c', 'depth', 1, 0, 1)).toThrow(/Unknown preprocessor "depth"/);
  });
});

describe('controlNetInfotextEntries', () => {
  it('writes each unit as the extension v1.1.45x serialises it, in its field order', () => {
    const entries = controlNetInfotextEntries([
      controlNetInfotextUnit('control_v11p_sd15_canny', 'canny:100:200', 1, 0, 1),
      controlNetInfotextUnit('control_v1p_sd15_qrcode_monster', 'invert', 1.35, 0.23, 0.5),
      controlNetInfotextUnit('control_v11p_sd15_lineart', 'none', 0.5, 0, 0.8),
    ]);
    expect(entries).toEqual({
      'ControlNet 0':
        'Module: canny, Model: control_v11p_sd15_canny, Weight: 1.0, Resize Mode: Just Resize, Processor Res: 512, ' +
        'Threshold A: 100.0, Threshold B: 200.0, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: True, ' +
        'Control Mode: Balanced',
      // the UI's dropdown lists labels, so its own infotexts (and pastes) carry the label
      'ControlNet 1':
        'Module: invert (from white bg & black line), Model: control_v1p_sd15_qrcode_monster, Weight: 1.35, ' +
        'Resize Mode: Just Resize, Processor Res: 512, Guidance Start: 0.23, Guidance End: 0.5, Pixel Perfect: True, ' +
        'Control Mode: Balanced',
      'ControlNet 2':
        'Module: none, Model: control_v11p_sd15_lineart, Weight: 0.5, Resize Mode: Just Resize, Processor Res: 512, ' +
        'Guidance Start: 0.0, Guidance End: 0.8, Pixel Perfect: True, Control Mode: Balanced',
    });
  });

  it('writes nothing for no units', () => {
    expect(controlNetInfotextEntries([])).toEqual({});
  });

  it('gives values the extension reads back: known fields, one ": " per item, numbers and booleans', () => {
    const units = [controlNetInfotextUnit('control_v11p_sd15_canny', 'canny:64:128', 0.75, 0.05, 0.95)];
    const fields = a1111Parse(controlNetInfotextEntries(units)['ControlNet 0']!);
    expect([...fields.keys()].every((k) => A1111_FIELDS.includes(k))).toBe(true);
    expect(Object.fromEntries(fields)).toMatchObject({
      Module: 'canny',
      Model: 'control_v11p_sd15_canny',
      Weight: 0.75,
      'Resize Mode': 'Just Resize',
      'Threshold A': 64,
      'Threshold B': 128,
      'Guidance Start': 0.05,
      'Guidance End': 0.95,
      'Pixel Perfect': true,
      'Control Mode': 'Balanced',
    });
  });

  it('keeps a model name with "," or ":" readable by A1111, which splits on them', () => {
    const text = controlNetInfotextEntries([{ module: 'none', model: 'cn, v2: fp16', weight: 1, start: 0, end: 1 }]);
    expect(text['ControlNet 0']).toContain('Model: cn_ v2_ fp16,');
    expect(() => a1111Parse(text['ControlNet 0']!)).not.toThrow();
  });

  it('is JSON-quoted by the infotext writer, as A1111 quotes extension values with commas', () => {
    const entries = controlNetInfotextEntries([controlNetInfotextUnit('cn', 'canny', 1, 0, 1)]);
    const text = formatInfotext({ ...BASE, extra: entries });
    expect(text.split('\n').at(-1)).toContain(`ControlNet 0: "${entries['ControlNet 0']}"`);
    expect(splitInfotext(text).pairs.get('ControlNet 0')).toBe(entries['ControlNet 0']);
  });
});

describe('round trips', () => {
  it.each(['canny:100:200', 'canny:1:255', 'canny:0:1020', 'invert', 'none'])(
    '%s: the written units read back, with the same preprocessor spec',
    (spec) => {
      const units = [
        controlNetInfotextUnit('my_controlnet', spec, 0.65, 0.1, 0.85),
        controlNetInfotextUnit('b', 'none', 2, 0, 1),
      ];
      const text = formatInfotext({ ...BASE, extra: controlNetInfotextEntries(units) });
      const read = controlNetUnitsOfInfotext(text);
      expect(read.problems).toEqual([]);
      expect(read.units).toEqual(units.map((u, index) => ({ ...u, index })));
      expect(preprocessorSpecOf(read.units[0]!)).toBe(spec);
    },
  );
});

describe('controlNetUnitsOfInfotext: what A1111 wrote', () => {
  it('v1.1.45x: ControlNet 0 and 1, Python floats, a module this project lacks', () => {
    // A1111 v1.10.1 with ControlNet v1.1.45x, from the README of github.com/ctpemho7/DetectionPalletDefects
    // ("Генерация данных"), settings line cut after the ControlNet keys.
    const text = infotext(
      'Seed: 1944526060, Size: 512x512, Model hash: 6d82a674e1, Model: helloobjects_V15evae, ' +
        'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1.0, Resize Mode: Crop and Resize, ' +
        'Processor Res: 512, Threshold A: 192.0, Threshold B: 255.0, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, ' +
        'Control Mode: ControlNet is more important", ControlNet 1: "Module: softedge_pidinet, ' +
        'Model: control_v11p_sd15_softedge [a8575a2a], Weight: 1.0, Resize Mode: Crop and Resize, Processor Res: 512, ' +
        'Threshold A: 0.5, Threshold B: 0.5, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, ' +
        'Control Mode: Balanced", Version: v1.10.1',
    );
    const { units, problems } = controlNetUnitsOfInfotext(text);
    expect(problems).toEqual([]);
    expect(units).toEqual([
      {
        index: 0,
        module: 'canny',
        model: 'control_v11p_sd15_canny',
        weight: 1,
        start: 0,
        end: 1,
        thresholdA: 192,
        thresholdB: 255,
      },
      {
        index: 1,
        module: 'softedge_pidinet',
        model: 'control_v11p_sd15_softedge',
        weight: 1,
        start: 0,
        end: 1,
        thresholdA: 0.5,
        thresholdB: 0.5,
      },
    ]);
    expect(units.map(preprocessorSpecOf)).toEqual(['canny:192:255', undefined]);
  });

  it('v1.1.4xx: whole numbers, Low Vram, Just Resize with Pixel Perfect, before Lora hashes', () => {
    // A1111 v1.6.0 with ControlNet v1.1.4xx: the cover image's parameters in the public markdown note
    // "Generating images with your LoRA like a Pro" (2023-11-13), settings line cut to the keys around ControlNet.
    const written =
      'Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1, Resize Mode: Just Resize, Low Vram: False, ' +
      'Processor Res: 512, Threshold A: 100, Threshold B: 200, Guidance Start: 0, Guidance End: 1, Pixel Perfect: True, ' +
      'Control Mode: Balanced';
    const text = infotext(
      `Seed: 938383883, Size: 1536x1024, Model hash: f6e523de7e, Model: fennPhoto_v10, ADetailer version: 23.9.3, ` +
        `ControlNet 0: "${written}", Lora hashes: "AdvancedEnhancer: bd3301b4928d, epiC35mm: 7a3667450b02", ` +
        `TI hashes: "CyberRealistic_Negative-neg: 65f3ea567c04", Version: v1.6.0`,
    );
    const { units, problems } = controlNetUnitsOfInfotext(text);
    expect(problems).toEqual([]);
    const unit = {
      module: 'canny',
      model: 'control_v11p_sd15_canny',
      weight: 1,
      start: 0,
      end: 1,
      thresholdA: 100,
      thresholdB: 200,
    };
    expect(units).toEqual([{ index: 0, ...unit }]);
    // ours differs only where v1.1.45x differs from this version: no Low Vram, floats with ".0", no hash
    const ours = controlNetInfotextEntries([unit])['ControlNet 0'];
    expect(ours).toBe(
      written
        .replace(' [d14c016b]', '')
        .replace(' Low Vram: False,', '')
        .replace(/(Weight|Threshold A|Threshold B|Guidance Start|Guidance End): (\d+),/g, '$1: $2.0,'),
    );
  });

  it("the UI's invert label, with (v1.1.45x) and without (v1.1.4xx) thresholds", () => {
    // A1111 v1.9.3, ControlNet v1.1.45x: a QR-code-monster image in the public Italian markdown guide
    // "Stable Diffusion guide to model and generation".
    const v45 = infotext(
      'ControlNet 0: "Module: invert (from white bg & black line), Model: control_v1p_sd15_qrcode_monster [a6e58995], ' +
        'Weight: 1.0, Resize Mode: Crop and Resize, Processor Res: 0, Threshold A: 0.5, Threshold B: 0.5, ' +
        'Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: True, Control Mode: Balanced", Version: v1.9.3',
    );
    // A1111 v1.6.0, ControlNet v1.1.4xx: example 3 of a public markdown "automatic1111 QR code monster tutorial".
    const v44 = infotext(
      'Model: dreamshaper_8, ControlNet 0: "Module: invert (from white bg & black line), Model: qrCodeMonster_v20 [5e5778cb], ' +
        'Weight: 1.35, Resize Mode: Just Resize, Low Vram: False, Processor Res: 512, Guidance Start: 0.23, ' +
        'Guidance End: 0.5, Pixel Perfect: True, Control Mode: Balanced", Version: v1.6.0',
    );
    const [a] = controlNetUnitsOfInfotext(v45).units;
    const [b] = controlNetUnitsOfInfotext(v44).units;
    expect(a).toEqual({
      index: 0,
      module: 'invert',
      model: 'control_v1p_sd15_qrcode_monster',
      weight: 1,
      start: 0,
      end: 1,
      thresholdA: 0.5,
      thresholdB: 0.5,
    });
    expect(b).toEqual({ index: 0, module: 'invert', model: 'qrCodeMonster_v20', weight: 1.35, start: 0.23, end: 0.5 });
    expect([preprocessorSpecOf(a!), preprocessorSpecOf(b!)]).toEqual(['invert', 'invert']);
  });

  it('v1.1.1xx–309: the old single `ControlNet` key, lower-case fields and Python tuples', () => {
    // A1111 v1.6.0 with a ControlNet from before v1.1.310: "結果1" of a public Japanese markdown note
    // ("初音ミクAIコスプレイヤ"), settings line cut to the keys around ControlNet.
    const tile = infotext(
      'Denoising strength: 0.7, Clip skip: 2, ControlNet: "preprocessor: tile_resample, model: control_v11f1e_sd15_tile [a371b31b], ' +
        'weight: 1, starting/ending: (0, 1), resize mode: Crop and Resize, pixel perfect: False, control mode: Balanced, ' +
        'preprocessor params: (512, 1, 64)", Hires upscale: 2, Lora hashes: "hatsunemiku1: 8ccb2b9adc0a", Version: v1.6.0',
    );
    // A1111 v1.3.2: a QR code image in a public markdown post ("But the second one is not."), -1 for unset sliders.
    const unset = infotext(
      'Denoising strength: 0.75, ControlNet: "preprocessor: tile_resample, model: control_v11f1e_sd15_tile [a371b31b], ' +
        'weight: 1, starting/ending: (0.23, 0.7), resize mode: Crop and Resize, pixel perfect: False, control mode: Balanced, ' +
        'preprocessor params: (-1, 1, -1)", Version: v1.3.2',
    );
    expect(controlNetUnitsOfInfotext(tile)).toEqual({
      units: [
        {
          index: 0,
          module: 'tile_resample',
          model: 'control_v11f1e_sd15_tile',
          weight: 1,
          start: 0,
          end: 1,
          thresholdA: 1,
          thresholdB: 64,
        },
      ],
      problems: [],
    });
    expect(controlNetUnitsOfInfotext(unset).units).toEqual([
      {
        index: 0,
        module: 'tile_resample',
        model: 'control_v11f1e_sd15_tile',
        weight: 1,
        start: 0.23,
        end: 0.7,
        thresholdA: 1,
      },
    ]);
    expect(preprocessorSpecOf(controlNetUnitsOfInfotext(tile).units[0]!)).toBeUndefined();
  });

  it('v1.0: one key per field, `ControlNet …` for one unit and `ControlNet-N …` for several', () => {
    // A1111 of March 2023: a public markdown prompt note (model stablydiffuseds_26).
    const single = infotext(
      'Seed: 1882365488, Size: 512x512, Denoising strength: 0.7, ControlNet Enabled: True, ControlNet Module: openpose, ' +
        'ControlNet Model: control_sd15_openpose [fef5e48e], ControlNet Weight: 1, ControlNet Guidance Start: 0, ' +
        'ControlNet Guidance End: 1, Hires upscale: 2',
    );
    // Two units: a public markdown prompt note (model mel-paprika-v1), cut before unit 1's weight, so that is
    // A1111's default.
    const several = infotext(
      'Denoising strength: 0.7, Mask blur: 4, ControlNet-0 Enabled: True, ControlNet-0 Module: canny, ' +
        'ControlNet-0 Model: control_canny-fp16 [e3fe7712], ControlNet-0 Weight: 0.55, ControlNet-0 Guidance Start: 0, ' +
        'ControlNet-0 Guidance End: 1, ControlNet-1 Enabled: True, ControlNet-1 Module: depth, ' +
        'ControlNet-1 Model: control_depth-fp16 [400750f6]',
    );
    // February 2023's Guidance Strength, the later Guidance End (a public markdown prompt list, dreamlike-diffusion-1.0)
    const strength = infotext(
      'Seed: 715233396, ControlNet Enabled: True, ControlNet Module: hed, ControlNet Model: control_sd15_hed [fef5e48e], ' +
        'ControlNet Weight: 1, ControlNet Guidance Strength: 0.6',
    );
    expect(controlNetUnitsOfInfotext(single)).toEqual({
      units: [{ index: 0, module: 'openpose', model: 'control_sd15_openpose', weight: 1, start: 0, end: 1 }],
      problems: [],
    });
    expect(controlNetUnitsOfInfotext(several).units).toEqual([
      { index: 0, module: 'canny', model: 'control_canny-fp16', weight: 0.55, start: 0, end: 1 },
      { index: 1, module: 'depth', model: 'control_depth-fp16', weight: 1, start: 0, end: 1 },
    ]);
    expect(controlNetUnitsOfInfotext(strength).units).toEqual([
      { index: 0, module: 'hed', model: 'control_sd15_hed', weight: 1, start: 0, end: 0.6 },
    ]);
  });

  it('leaves out a unit written as disabled', () => {
    const text = infotext('ControlNet-0 Enabled: False, ControlNet-0 Module: canny, ControlNet-1 Module: none');
    expect(controlNetUnitsOfInfotext(text).units.map((u) => u.index)).toEqual([1]);
  });
});

describe('controlNetUnitsOfInfotext: modules', () => {
  it.each([
    ['canny', 'canny'],
    ['Canny', 'canny'],
    ['invert', 'invert'],
    ['INVERT (from white bg & black line)', 'invert'],
    ['None', 'none'],
    ['depth_midas', 'depth_midas'],
    ['ip-adapter_clip_sd15', 'ip-adapter_clip_sd15'],
  ])('%s is read as %s', (written, module) => {
    const { units } = controlNetUnitsOfInfotext(infotext(`ControlNet 0: "Module: ${written}, Model: cn [0123abcd]"`));
    expect(units[0]).toMatchObject({ module, model: 'cn' });
  });

  it('gives no preprocessor spec for modules this project lacks, the spec for its own by any spelling', () => {
    const unit = (module: string, extra: Partial<ControlNetInfotextUnit> = {}): ControlNetInfotextUnit => ({
      module,
      model: 'cn',
      weight: 1,
      start: 0,
      end: 1,
      ...extra,
    });
    expect(preprocessorSpecOf(unit('depth_midas'))).toBeUndefined();
    expect(preprocessorSpecOf(unit('openpose_full'))).toBeUndefined();
    expect(preprocessorSpecOf(unit('Canny'))).toBe('canny:100:200');
    expect(preprocessorSpecOf(unit('invert (from white bg & black line)'))).toBe('invert');
    // A1111 hands cv2.Canny int(threshold); a missing or unusable one takes its default
    expect(preprocessorSpecOf(unit('canny', { thresholdA: 99.9, thresholdB: 180.2 }))).toBe('canny:99:180');
    expect(preprocessorSpecOf(unit('canny', { thresholdA: 5000, thresholdB: Number.NaN }))).toBe('canny:100:200');
  });
});

describe('controlNetUnitsOfInfotext: what it cannot read', () => {
  it('explains a bad field and uses the default; the other fields are read', () => {
    // a hand-edited range in published QR-code guides (A1111 v1.3, ControlNet before v1.1.310)
    const text = infotext(
      'ControlNet: "preprocessor: none, model: control_v1p_sd15_qrcode_monster [a6e58995], weight: 1.35-1.5, ' +
        'starting/ending: (0.05, 1), resize mode: Resize and Fill, pixel perfect: True, control mode: Balanced, ' +
        'preprocessor params: (512, 64, 64)", Version: v1.3.',
    );
    const { units, problems } = controlNetUnitsOfInfotext(text);
    expect(units).toEqual([
      {
        index: 0,
        module: 'none',
        model: 'control_v1p_sd15_qrcode_monster',
        weight: 1,
        start: 0.05,
        end: 1,
        thresholdA: 64,
        thresholdB: 64,
      },
    ]);
    expect(problems).toEqual([
      `Infotext "ControlNet": weight "1.35-1.5" is not a number of 0 or more, so A1111's default is used.`,
    ]);
  });

  it.each([
    ['Guidance Start: 1.5', 'Guidance Start "1.5" is not a fraction of the steps from 0 to 1'],
    ['Guidance End: x', 'Guidance End "x" is not a fraction of the steps from 0 to 1'],
    ['Weight: -1', 'Weight "-1" is not a number of 0 or more'],
    ['Weight: 1e400', 'Weight "1e400" is not a number of 0 or more'],
    ['Threshold A: abc', 'Threshold A "abc" is not a number'],
    ['starting/ending: (0.5)', 'starting/ending "(0.5)" is not a pair of fractions like (0, 1)'],
    ['preprocessor params: (512, a, 3)', 'preprocessor params "(512, a, 3)" is not three numbers like (512, 100, 200)'],
  ])('%s', (field, problem) => {
    const { units, problems } = controlNetUnitsOfInfotext(
      infotext(`ControlNet 0: "Module: canny, ${field}, Model: cn"`),
    );
    expect(units).toEqual([{ index: 0, module: 'canny', model: 'cn', weight: 1, start: 0, end: 1 }]);
    expect(problems).toEqual([`Infotext "ControlNet 0": ${problem}, so A1111's default is used.`]);
  });

  it('skips an item that is not `Key: value`, and leaves out a unit with none', () => {
    const text = infotext('ControlNet 0: "Module: canny, junk, Model: cn", ControlNet 1: nonsense');
    const { units, problems } = controlNetUnitsOfInfotext(text);
    expect(units).toEqual([{ index: 0, module: 'canny', model: 'cn', weight: 1, start: 0, end: 1 }]);
    expect(problems).toEqual([
      'Infotext "ControlNet 0": "junk" is not a "Key: value" field, so it was skipped.',
      'Infotext "ControlNet 1: nonsense" is not a list of "Key: value" fields, so the unit was left out.',
    ]);
  });

  it('resets a guidance that starts after it ends, which A1111 refuses', () => {
    const { units, problems } = controlNetUnitsOfInfotext(
      infotext('ControlNet 0: "Guidance Start: 0.8, Guidance End: 0.2"'),
    );
    expect(units[0]).toMatchObject({ start: 0, end: 1 });
    expect(problems).toEqual([
      'Infotext "ControlNet 0": Guidance Start 0.8 is after Guidance End 0.2, so 0 and 1 are used.',
    ]);
  });

  it('keeps the first of two keys naming unit 0 (the old `ControlNet` and `ControlNet 0`)', () => {
    const { units, problems } = controlNetUnitsOfInfotext(
      infotext('ControlNet: "preprocessor: canny, weight: 0.5", ControlNet 0: "Module: none, Weight: 2"'),
    );
    expect(units).toEqual([{ index: 0, module: 'canny', model: 'None', weight: 0.5, start: 0, end: 1 }]);
    expect(problems).toEqual(['Infotext "ControlNet 0" names ControlNet unit 0 again, so it was left out.']);
  });

  it('finds nothing where there is no ControlNet, and never throws', () => {
    expect(controlNetUnitsOfInfotext(infotext('Seed: 1, ControlNet hint: x, ADetailer ControlNet model: y'))).toEqual({
      units: [],
      problems: [],
    });
    for (const text of [
      '',
      'ControlNet 0: x',
      infotext('ControlNet 0: "((("'),
      infotext('ControlNet 0: ")),"'),
      infotext('ControlNet: "starting/ending: (1, 2"'),
      infotext('ControlNet 99999999999999999999: "Weight: 1e400"'),
      infotext('ControlNet 0: "__proto__: x, constructor: y"'),
    ])
      expect(() => controlNetUnitsOfInfotext(text)).not.toThrow();
  });
});

describe('the whole parse of an infotext with two units and Lora hashes', () => {
  // The v1.1.45x sample above (github.com/ctpemho7/DetectionPalletDefects) with a LoRA added, so that its
  // `Lora hashes` follows the ControlNet keys as A1111 orders them.
  const text = [
    'object, (pine wood pallet with cargo cardboard boxes), <lora:woodgrain:0.7>',
    'Negative prompt: lowres, blurry',
    'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1944526060, Size: 512x512, ' +
      'Model hash: 6d82a674e1, Model: helloobjects_V15evae, ' +
      'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1.0, Resize Mode: Crop and Resize, ' +
      'Processor Res: 512, Threshold A: 192.0, Threshold B: 255.0, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, ' +
      'Control Mode: ControlNet is more important", ControlNet 1: "Module: softedge_pidinet, ' +
      'Model: control_v11p_sd15_softedge [a8575a2a], Weight: 1.0, Resize Mode: Crop and Resize, Processor Res: 512, ' +
      'Threshold A: 0.5, Threshold B: 0.5, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, ' +
      'Control Mode: Balanced", Lora hashes: "woodgrain: 0123456789ab", Version: v1.10.1',
  ].join('\n');

  it('parseInfotext keeps listing the ControlNet keys as ignored, values in extra (the page decides)', () => {
    const { params, ignored, problems } = parseInfotext(text);
    expect(params).toMatchObject({
      steps: 20,
      sampler: 'DPM++ 2M Karras',
      seed: 1944526060n,
      model: 'helloobjects_V15evae',
    });
    expect(ignored).toEqual(['ControlNet 0', 'ControlNet 1', 'Lora hashes']);
    expect(problems).toEqual([]);
    expect(params.extra?.['ControlNet 1']).toMatch(/^Module: softedge_pidinet, /);
  });

  it('controlNetUnitsOfInfotext reads both units and nothing else', () => {
    const { units, problems } = controlNetUnitsOfInfotext(text);
    expect(problems).toEqual([]);
    expect(units.map((u) => [u.index, u.module, u.model, preprocessorSpecOf(u) ?? null])).toEqual([
      [0, 'canny', 'control_v11p_sd15_canny', 'canny:192:255'],
      [1, 'softedge_pidinet', 'control_v11p_sd15_softedge', null],
    ]);
  });
});
