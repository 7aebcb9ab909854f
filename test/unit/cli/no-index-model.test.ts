import { mkdirSync, mkdtempSync, readdirSync, readFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../../src/core/png/png.ts';
import { parseInfotext } from '../../../src/core/png/infotext.ts';
import { runCli } from '../../oracle/cases.ts';
import { MODELS } from '../../fixtures.ts';
import { makeOrtWebFolder } from '../models/ort-web-layout.ts';

const TURBO = resolve(MODELS, 'tiny-sd-turbo');
const common = ['--prompt', 'a lighthouse at dusk, oil painting', '--seed', '1234', '--width', '64', '--height', '64'];

function readPng(path: string): ReturnType<typeof decodePng> {
  return decodePng(new Uint8Array(readFileSync(path)));
}

describe('cli generate: a folder without model_index.json (onnxruntime web sample layout)', () => {
  it('infers layout, tokenizer and turbo scheduler, says so, and matches the full export run with Euler a, 1 step, CFG 0', async () => {
    const model = makeOrtWebFolder();
    expect(readdirSync(model).sort()).toEqual(['text_encoder', 'unet', 'vae_decoder']);
    const out = mkdtempSync(join(tmpdir(), 'sd-cli-no-index-'));

    // no --sampler, --steps or --cfg: the model's assumed scheduler and suggested settings apply
    const inferred = await runCli(['generate', '--model', model, ...common, '--out', join(out, 'inferred.png')]);
    const lines = inferred.stderr.split('\n').filter((l) => l.startsWith('assumed: '));
    expect(lines).toEqual([
      'assumed: no model_index.json: layout inferred from unet/, text_encoder/, vae_decoder/',
      `assumed: no tokenizer: bundled CLIP tokenizer, padding with '!' (SD-Turbo: "turbo" in the name; text encoder hidden size 32 is neither 768 nor 1024)`,
      'assumed: no scheduler config: Euler a, trailing spacing (SD-Turbo); suggested 1 step, CFG 0',
    ]);
    const image = readPng(join(out, 'inferred.png'));
    const params = parseInfotext(image.text['parameters']!).params;
    expect(params).toMatchObject({ steps: 1, cfgScale: 0, seed: 1234n });

    // the complete fixture (its own tokenizer padding with "!", Euler with trailing spacing) with the same settings made explicit
    await runCli([
      'generate',
      '--model',
      TURBO,
      ...common,
      '--sampler',
      'Euler a',
      '--steps',
      '1',
      '--cfg',
      '0',
      '--out',
      join(out, 'explicit.png'),
    ]);
    expect(image.rgb).toEqual(readPng(join(out, 'explicit.png')).rgb);

    // the comparison can fail: a second step changes the image
    await runCli([
      'generate',
      '--model',
      TURBO,
      ...common,
      '--sampler',
      'Euler a',
      '--steps',
      '2',
      '--cfg',
      '0',
      '--out',
      join(out, 'two-steps.png'),
    ]);
    expect(image.rgb).not.toEqual(readPng(join(out, 'two-steps.png')).rgb);
  });

  it('tokens: the bundled tokenizer pads with "!" for a turbo folder, and says so', async () => {
    const { stdout, stderr } = await runCli(['tokens', '--model', makeOrtWebFolder(), '--prompt', 'a cat', '--raw']);
    const ids = (JSON.parse(stdout) as { ids: number[] }).ids;
    expect(ids.slice(0, 4)).toEqual([49406, 320, 2368, 49407]);
    expect(ids.slice(4).every((id) => id === 0)).toBe(true);
    expect(stderr).toContain(
      `assumed: no tokenizer: bundled CLIP tokenizer, padding with '!' (SD-Turbo: "turbo" in the name`,
    );
  });

  it('refuses a folder with neither model_index.json nor unet/model.onnx, naming what is missing', async () => {
    const model = join(mkdtempSync(join(tmpdir(), 'sd-cli-no-unet-')), 'encoder-only');
    mkdirSync(join(model, 'text_encoder'), { recursive: true });
    copyFileSync(join(TURBO, 'text_encoder/model.onnx'), join(model, 'text_encoder/model.onnx'));
    const out = join(model, 'x.png');
    const failure = await runCli(['generate', '--model', model, '--prompt', 'x', '--out', out]).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(
      /encoder-only has no model_index\.json and lacks unet\/model\.onnx, vae_decoder\/model\.onnx \(it holds text_encoder\/\)\. Expected a diffusers ONNX export/,
    );
    expect(readdirSync(model)).toEqual(['text_encoder']);
  });
});
