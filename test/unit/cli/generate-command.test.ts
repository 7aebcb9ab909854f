import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../../src/core/png/png.ts';
import { parseInfotext } from '../../../src/core/png/infotext.ts';
import { runCli, runCliFailing } from '../../oracle/cases.ts';
import { MODELS } from '../../fixtures.ts';

const SD15 = resolve(MODELS, 'tiny-sd15');
const base = [
  'generate',
  '--model',
  SD15,
  '--prompt',
  'a red apple',
  '--steps',
  '3',
  '--width',
  '64',
  '--height',
  '64',
];

const failing = runCliFailing;

describe('cli generate: bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-cli-bad-'));
  const out = join(dir, 'x.png');
  it.each([
    [['--sampler', 'Eulr'], /Unknown sampler "Eulr"\. Expected one of: Euler, Euler a, Heun/],
    [['--width', '65'], /width 65 is not allowed: use a multiple of 8/],
    [['--steps', '0'], /steps 0 is not allowed/],
    [
      ['--init-image', resolve(MODELS, '../reference/cases/sd15-img2img-euler-075.init.png'), '--strength', '1.5'],
      /strength 1.5 is not allowed: img2img needs a strength in \(0, 1\]/,
    ],
    [['--seed', '18446744073709551616'], /seed/i],
  ])('%j fails clearly and writes nothing', async (extra, message) => {
    const { code, stderr } = await failing([...base, ...extra, '--out', out]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names the missing model file', async () => {
    const { code, stderr } = await failing([
      'generate',
      '--model',
      resolve(MODELS, 'tiny-sd15/unet'),
      '--prompt',
      'x',
      '--out',
      out,
    ]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(
      /unet has no model_index\.json and lacks unet\/model\.onnx, vae_decoder\/model\.onnx, text_encoder\/model\.onnx \(it holds none of the usual model folders\)/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('cli generate: batches and PNG round trip', () => {
  it('numbers batch files, gives image i seed + i, and regenerates identically from its own PNG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-cli-batch-'));
    const out = join(dir, 'img.png');
    await runCli([...base, '--sampler', 'Euler a', '--seed', '41', '--batch-size', '2', '--out', out]);
    expect(readdirSync(dir).sort()).toEqual(['img-1.png', 'img-2.png']);
    const second = decodePng(new Uint8Array(readFileSync(join(dir, 'img-2.png'))));
    const params = parseInfotext(second.text['parameters']!).params;
    expect(params.seed).toBe(42n);
    expect(params.sampler).toBe('Euler a');

    // image 2 alone with seed 42 is the same image
    const alone = join(dir, 'alone.png');
    await runCli([...base, '--sampler', 'Euler a', '--seed', '42', '--out', alone]);
    expect(decodePng(new Uint8Array(readFileSync(alone))).rgb).toEqual(second.rgb);

    // and --from-png restores every parameter from the infotext
    const again = join(dir, 'again.png');
    await runCli(['generate', '--model', SD15, '--from-png', join(dir, 'img-2.png'), '--out', again]);
    expect(decodePng(new Uint8Array(readFileSync(again))).rgb).toEqual(second.rgb);
  });
});
