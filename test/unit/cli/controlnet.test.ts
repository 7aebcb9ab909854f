import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../../src/core/png/png.ts';
import { runCli } from '../../oracle/cases.ts';
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

async function failing(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await runCli(args);
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
  throw new Error(`expected the CLI to fail for ${args.join(' ')}`);
}

describe('cli generate with a ControlNet: bad inputs', () => {
  it.each([
    [
      'control options without --controlnet',
      ['--control-image', IMAGE],
      /--control-image applies only with --controlnet/,
    ],
    ['--controlnet without a control image', ['--controlnet', CONTROLNET], /Missing --control-image/],
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
