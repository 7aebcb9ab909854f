import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../../src/core/png/png.ts';
import { runCli } from '../../oracle/cases.ts';
import { FIXTURES } from '../../fixtures.ts';
import { kohyaModule, loraFileBytes } from '../lora/lora-fixture.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const MODEL = [
  '--model',
  resolve(SINGLE_FILE, 'tiny-sd15.safetensors'),
  '--config',
  resolve(SINGLE_FILE, 'tiny-sd15-diffusers'),
];
const SETTINGS = ['--steps', '1', '--width', '64', '--height', '64', '--seed', '1'];

async function failing(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await runCli(['generate', ...MODEL, ...SETTINGS, ...args]);
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
  throw new Error(`expected the CLI to fail for ${args.join(' ')}`);
}

describe('cli generate with LoRAs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-cli-lora-'));
  const loraDir = join(dir, 'loras');
  mkdirSync(loraDir);
  // an SDXL LoRA (kohya SGM block names, two text encoders): nothing of it fits SD 1.5
  writeFileSync(
    join(loraDir, 'sdxl-style.safetensors'),
    loraFileBytes({
      ...kohyaModule('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q', [4, 640], [640, 4], 2),
      ...kohyaModule('lora_te2_text_model_encoder_layers_0_self_attn_q_proj', [4, 1280], [1280, 4], 2),
    }),
  );

  it.each([
    [
      'an unknown tag',
      ['--lora-dir', loraDir, '--prompt', 'a cat <lora:missing-style:0.7>'],
      /Unknown LoRA "missing-style" in the prompt: .*missing-style\.safetensors does not exist \(looked in --lora-dir .*loras\)/,
    ],
    [
      'a tag without --lora-dir',
      ['--prompt', 'a cat <lora:sdxl-style:1>'],
      /names LoRA "sdxl-style" .* no --lora-dir was given/,
    ],
    [
      'a LoRA for another architecture',
      ['--lora-dir', loraDir, '--prompt', 'a cat <lora:sdxl-style:1>'],
      /LoRA sdxl-style does not fit this model: none of its 2 modules names a weight of it \(e\.g\. lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q\.lora_down\.weight/,
    ],
    [
      'a --lora file that is not there',
      ['--prompt', 'a cat', '--lora', join(loraDir, 'nope.safetensors:0.5')],
      /--lora .*nope\.safetensors does not exist/,
    ],
  ])('%s: a clear error, a non-zero exit and no output', async (name, args, message) => {
    const out = join(dir, `${name.replace(/\W+/g, '-')}.png`);
    const { code, stderr } = await failing([...args, '--out', out]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('--lora FILE:MULT applies a LoRA outside the prompt and records it as a tag with its A1111 hash', async () => {
    const out = join(dir, 'ok.png');
    await runCli([
      'generate',
      ...MODEL,
      ...SETTINGS,
      ...['--prompt', 'a cat', '--lora', `${resolve(SINGLE_FILE, 'tiny-sd15-lora.safetensors')}:0.6`, '--out', out],
    ]);
    const text = decodePng(new Uint8Array(readFileSync(out))).text['parameters']!;
    expect(text.split('\n')[0]).toBe('a cat <lora:tiny-sd15-lora:0.6>');
    expect(text).toContain('Lora hashes: "tiny-sd15-lora: 0f29ff38ec09"');
  });
});
