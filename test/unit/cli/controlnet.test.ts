import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlNetUnitsOfInfotext } from '../../../src/core/png/infotext-controlnet.ts';
import { splitInfotext } from '../../../src/core/png/infotext-split.ts';
import { decodePng, encodePng, readPngText } from '../../../src/core/png/png.ts';
import { runCli, runCliFailing } from '../../oracle/cases.ts';
import { FIXTURES } from '../../fixtures.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const CONTROLNET = resolve(SINGLE_FILE, 'tiny-controlnet.safetensors');
const IMAGE = resolve(SINGLE_FILE, 'controlnet-cases', 'cn-sd15-circles-euler-12.control.png');
const CANNY = resolve(SINGLE_FILE, 'canny');
const model = (name: string): string[] => [
  '--model',
  resolve(SINGLE_FILE, `${name}.safetensors`),
  '--config',
  resolve(SINGLE_FILE, `${name}-diffusers`),
];
const SETTINGS = ['--prompt', 'a cat', '--steps', '1', '--width', '64', '--height', '64', '--seed', '1'];
const dir = mkdtempSync(join(tmpdir(), 'sd-cli-cn-'));

const failing = runCliFailing;

describe('cli generate with a ControlNet: bad inputs', () => {
  it.each([
    [
      'control options without --controlnet',
      ['--control-image', IMAGE],
      /--control-image applies only with --controlnet/,
    ],
    ['--controlnet without a control image', ['--controlnet', CONTROLNET], /Missing --control-image/],
    [
      'a second unit without its control image',
      ['--controlnet', CONTROLNET, '--control-image', IMAGE, '--controlnet', CONTROLNET],
      /Missing --control-image/,
    ],
    [
      'a unit option before the first of several --controlnet',
      ['--control-weight', '0.5', '--controlnet', CONTROLNET, '--control-image', IMAGE, '--controlnet', CONTROLNET],
      /--control-weight comes before the first --controlnet: with several ControlNets/,
    ],
    [
      'a ControlNet that is not there',
      ['--controlnet', join(dir, 'nope.safetensors'), '--control-image', IMAGE],
      /--controlnet .*nope\.safetensors does not exist/,
    ],
    [
      'a control image that is not there',
      ['--controlnet', CONTROLNET, '--control-image', join(dir, 'nope.png')],
      /--control-image .*nope\.png does not exist/,
    ],
    [
      'an end before the start',
      ['--controlnet', CONTROLNET, '--control-image', IMAGE, '--control-start', '0.6', '--control-end', '0.4'],
      /--control-start 0\.6 and --control-end 0\.4 are not allowed/,
    ],
    [
      'an unknown preprocessor',
      ['--controlnet', CONTROLNET, '--control-image', IMAGE, '--control-preprocess', 'depth'],
      /Unknown preprocessor "depth"/,
    ],
    [
      'a model file given as the ControlNet',
      ['--controlnet', resolve(SINGLE_FILE, 'tiny-sd15.safetensors'), '--control-image', IMAGE],
      /holds no ControlNet/,
    ],
  ])('%s: exit 1, a message, no output', async (_name, args, message) => {
    const out = join(dir, 'out.png');
    const { code, stderr } = await failing(['generate', ...model('tiny-sd15'), ...SETTINGS, '--out', out, ...args]);
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses an SD 1.x ControlNet for an SDXL model, naming the tensor, with no output', async () => {
    const out = join(dir, 'sdxl.png');
    const { code, stderr } = await failing([
      'generate',
      ...model('tiny-sdxl'),
      ...SETTINGS,
      ...['--controlnet', CONTROLNET, '--control-image', IMAGE, '--out', out],
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/does not fit the loaded model: this model's UNet needs a tensor "control_model\.label_emb/);
    expect(existsSync(out)).toBe(false);
  });
  it('refuses an SDXL ControlNet (diffusers folder) for an SD 1.x model, naming the tensor, with no output', async () => {
    const out = join(dir, 'sdxl-cn.png');
    const sdxlControlNet = resolve(import.meta.dirname, '../../oracle/references/tiny-sdxl-controlnet');
    const { code, stderr } = await failing([
      'generate',
      ...model('tiny-sd15'),
      ...SETTINGS,
      ...['--controlnet', sdxlControlNet, '--control-image', IMAGE, '--out', out],
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/The ControlNet tiny-sdxl-controlnet does not fit the loaded model: .*tensor/);
    expect(existsSync(out)).toBe(false);
  });
});

/** The `parameters` text of a written PNG. */
function parametersOf(path: string): string {
  return readPngText(new Uint8Array(readFileSync(path))).parameters ?? '';
}

describe('cli generate with a ControlNet: the infotext', () => {
  const written = join(dir, 'cn-infotext.png');
  const control = ['--controlnet', CONTROLNET, '--control-image', IMAGE];

  it("writes the unit as A1111's ControlNet extension does, after the other keys", async () => {
    await runCli([
      'generate',
      ...model('tiny-sd15'),
      ...SETTINGS,
      // with one --controlnet its options may stand anywhere
      ...['--control-weight', '0.8'],
      ...control,
      ...['--control-preprocess', 'canny:50:150'],
      ...['--control-start', '0.1', '--control-end', '0.9', '--out', written],
    ]);
    const text = parametersOf(written);
    expect(splitInfotext(text).pairs.get('ControlNet 0')).toBe(
      'Module: canny, Model: tiny-controlnet, Weight: 0.8, Resize Mode: Just Resize, Processor Res: 512, ' +
        'Threshold A: 50.0, Threshold B: 150.0, Guidance Start: 0.1, Guidance End: 0.9, Pixel Perfect: True, ' +
        'Control Mode: Balanced',
    );
    // JSON-quoted, as A1111 writes extension values with commas
    expect(text).toMatch(/, Model: tiny-sd15, RNG: CPU, ControlNet 0: "Module: canny, [^"]+"$/);
  });

  it('--from-png restores weight, start, end and preprocessor; the command line wins', async () => {
    const out = join(dir, 'cn-restored.png');
    const { stderr } = await runCli([
      'generate',
      ...model('tiny-sd15'),
      ...['--from-png', written, ...control, '--control-end', '0.7', '--out', out],
    ]);
    expect(controlNetUnitsOfInfotext(parametersOf(out)).units).toEqual([
      {
        index: 0,
        module: 'canny',
        model: 'tiny-controlnet',
        weight: 0.8,
        start: 0.1,
        end: 0.7,
        thresholdA: 50,
        thresholdB: 150,
      },
    ]);
    expect(stderr).toContain(
      `Restored from ${written}: ControlNet 0 (preprocessor canny:50:150, weight 0.8, start 0.1, end 0.9;`,
    );
    expect(stderr).not.toMatch(/Ignored .*ControlNet 0/);
  });

  it('--from-png with a module this project lacks: says so and uses the image as it is', async () => {
    const a1111 = join(dir, 'cn-depth.png');
    const infotext =
      'a cat\nSteps: 1, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64, Model: v1-5, ' +
      'ControlNet 0: "Module: depth_midas, Model: control_v11f1p_sd15_depth [cfd03158], Weight: 0.6, ' +
      'Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 0.5, Threshold B: 0.5, Guidance Start: 0.0, ' +
      'Guidance End: 0.5, Pixel Perfect: False, Control Mode: Balanced", Version: v1.10.1';
    writeFileSync(a1111, encodePng(new Uint8Array(64 * 64 * 3), 64, 64, { parameters: infotext }));
    const out = join(dir, 'cn-depth-out.png');
    const { stderr } = await runCli(['generate', ...model('tiny-sd15'), '--from-png', a1111, ...control, '--out', out]);
    expect(stderr).toContain(`The restored ControlNet's preprocessor "depth_midas" is not available here`);
    expect(controlNetUnitsOfInfotext(parametersOf(out)).units).toEqual([
      { index: 0, module: 'none', model: 'tiny-controlnet', weight: 0.6, start: 0, end: 0.5 },
    ]);
  });

  it('cli info lists the units readably', async () => {
    const { stdout } = await runCli(['info', written]);
    const report = JSON.parse(stdout) as { controlNets: unknown[]; other: Record<string, string> };
    expect(report.controlNets).toEqual([
      {
        index: 0,
        module: 'canny',
        model: 'tiny-controlnet',
        weight: 0.8,
        start: 0.1,
        end: 0.9,
        thresholdA: 50,
        thresholdB: 150,
        preprocessor: 'canny:50:150',
      },
    ]);
    expect(report.other['ControlNet 0']).toMatch(/^Module: canny, /);
  });
});

describe('cli preprocess', () => {
  it('writes the Canny edge map of cv2.Canny', async () => {
    const out = join(dir, 'edges.png');
    await runCli([
      'preprocess',
      'canny',
      ...['--low', '100', '--high', '200', '--in', resolve(CANNY, 'canny-100-200.input.png'), '--out', out],
    ]);
    const ours = decodePng(new Uint8Array(readFileSync(out)));
    const ref = decodePng(new Uint8Array(readFileSync(resolve(CANNY, 'canny-100-200.png'))));
    expect(ours.rgb).toEqual(ref.rgb);
  });
  it.each([
    [
      'an unknown module',
      ['preprocess', 'hed', '--in', IMAGE, '--out', join(dir, 'p.png')],
      /Unknown preprocessor "hed"/,
    ],
    [
      'a missing input',
      ['preprocess', 'canny', '--in', join(dir, 'none.png'), '--out', join(dir, 'p.png')],
      /--in .* does not exist/,
    ],
    [
      'a bad threshold',
      ['preprocess', 'canny', '--low', 'x', '--in', IMAGE, '--out', join(dir, 'p.png')],
      /--low "x" is not a number/,
    ],
    ['no --out', ['preprocess', 'canny', '--in', IMAGE], /Missing --out/],
  ])('%s: exit 1, a message, no output', async (_name, args, message) => {
    const { code, stderr } = await failing(args);
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
    expect(existsSync(join(dir, 'p.png'))).toBe(false);
  });
});
