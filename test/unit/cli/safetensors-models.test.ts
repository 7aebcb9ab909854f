import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliFailing } from '../../oracle/cases.ts';
import { FIXTURES } from '../../fixtures.ts';
import { buildSafetensors, f32Bytes } from '../safetensors/safetensors-fixture.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const SD15 = resolve(SINGLE_FILE, 'tiny-sd15.safetensors');
const SD15_CONFIG = resolve(SINGLE_FILE, 'tiny-sd15-diffusers');

/** Runs `generate` expecting failure; returns its exit code and stderr. */
function failing(model: string[], out: string): Promise<{ code: number; stderr: string }> {
  return runCliFailing([
    'generate',
    ...model,
    '--prompt',
    'x',
    '--steps',
    '1',
    '--width',
    '64',
    '--height',
    '64',
    '--out',
    out,
  ]);
}

describe('cli generate: bad safetensors models fail clearly and write nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-cli-bad-sf-'));
  const outDir = join(dir, 'out');
  mkdirSync(outDir);
  const out = join(outDir, 'x.png');
  const file = (name: string, bytes: Uint8Array | string): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const checkpoint = new Uint8Array(readFileSync(SD15));
  const headerEnd = 8 + Number(new DataView(checkpoint.buffer).getBigUint64(0, true));

  // a config whose text encoder is wider in its MLP than the checkpoint's
  const wrongConfig = join(dir, 'wrong-config');
  cpSync(SD15_CONFIG, wrongConfig, { recursive: true });
  const encoderConfig = join(wrongConfig, 'text_encoder/config.json');
  const encoder = JSON.parse(readFileSync(encoderConfig, 'utf8')) as { intermediate_size: number };
  writeFileSync(encoderConfig, JSON.stringify({ ...encoder, intermediate_size: encoder.intermediate_size * 2 }));

  // a safetensors folder whose UNet weights exist only as a pickle
  const pickledFolder = join(dir, 'pickled-folder');
  cpSync(resolve(SINGLE_FILE, 'tiny-sd15-diffusers'), pickledFolder, { recursive: true });
  const unetWeights = join(pickledFolder, 'unet/diffusion_pytorch_model.safetensors');
  writeFileSync(join(pickledFolder, 'unet/diffusion_pytorch_model.bin'), 'PK\x03\x04');
  rmSync(unetWeights);

  it.each([
    [
      'a file cut inside its header',
      () => [file('cut-header.safetensors', checkpoint.subarray(0, 2000))],
      /"cut-header\.safetensors" is truncated: it needs at least \d+ bytes but has 2000\. The download was probably interrupted/,
    ],
    [
      'a file cut inside its tensors',
      () => [file('cut-data.safetensors', checkpoint.subarray(0, headerEnd + 1000))],
      /"cut-data\.safetensors" is truncated: tensor "[\w.]+" ends at byte \d+ but the file has \d+ bytes/,
    ],
    [
      'an HTML page saved as .safetensors',
      () => [file('page.safetensors', '<!DOCTYPE html><html><body>Sign in</body></html>')],
      /"page\.safetensors" is not a safetensors file: it looks like an HTML page/,
    ],
    [
      'a pickled .ckpt',
      () => [file('model.ckpt', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]))],
      /"model\.ckpt" is a pickled PyTorch checkpoint .* never opened here/,
    ],
    [
      'an architecture the loader does not know',
      () => [
        file(
          'other.safetensors',
          buildSafetensors({ 'encoder.layer.0.weight': { dtype: 'F32', shape: [2], bytes: f32Bytes([1, 2]) } }),
        ),
      ],
      /"other\.safetensors" is not a Stable Diffusion checkpoint this app recognises: it has none of the keys "model\.diffusion_model\.input_blocks\.0\.0\.weight", .*"conditioner\.embedders\.1\.model\.transformer\.resblocks\.9\.mlp\.c_proj\.bias".* --config/,
    ],
    [
      'a checkpoint that does not match the config given',
      () => [SD15, '--config', wrongConfig],
      new RegExp(
        `Tensor "cond_stage_model\\.transformer\\.text_model\\.encoder\\.layers\\.0\\.mlp\\.fc1\\.weight" in "tiny-sd15\\.safetensors" ` +
          `has shape \\[${encoder.intermediate_size}, (\\d+)\\] but the config implies \\[${encoder.intermediate_size * 2}, \\1\\]`,
      ),
    ],
    [
      'a safetensors folder whose weights are a pickled .bin',
      () => [pickledFolder],
      /has no weights for unet: looked for .*diffusion_pytorch_model\.fp16\.safetensors.* pickled .*diffusion_pytorch_model\.bin weights, which are never opened/,
    ],
  ])('%s', async (_name, args, message) => {
    const [model, ...rest] = args();
    const { code, stderr } = await failing(['--model', model!, ...rest], out);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('refuses --config for a folder and an unknown --prediction-type', async () => {
    expect((await failing(['--model', SD15_CONFIG, '--config', SD15_CONFIG], out)).stderr).toMatch(
      /--config applies to a single \.safetensors file/,
    );
    expect((await failing(['--model', SD15, '--prediction-type', 'sample'], out)).stderr).toMatch(
      /--prediction-type "sample" is not allowed\. Expected one of: epsilon, v_prediction/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
