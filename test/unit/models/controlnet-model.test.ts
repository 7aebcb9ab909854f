import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-common';
import { parseUnet2dConditionConfig } from '../../../src/core/graphs/unet-config.ts';
import { openControlNet } from '../../../src/core/models/controlnet-model.ts';
import { loadControlNet } from '../../../src/core/models/load-controlnet.ts';
import type { BaseUnet } from '../../../src/core/models/single-file-model.ts';
import { controlKeep } from '../../../src/core/pipeline/control-residuals.ts';
import { nodeWeightsFile } from '../../../src/cli/node-weights-file.ts';
import { createNodeRuntime } from '../../../src/platform/ort/node-runtime.ts';
import { FIXTURES } from '../../fixtures.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const FILE = resolve(SINGLE_FILE, 'tiny-controlnet.safetensors');
const FOLDER = resolve(SINGLE_FILE, 'tiny-controlnet-diffusers');

function baseUnet(model: string): BaseUnet {
  const json: unknown = JSON.parse(readFileSync(resolve(SINGLE_FILE, model, 'unet/config.json'), 'utf8'));
  return { config: parseUnet2dConditionConfig(json) };
}

const folderConfig = {
  json: JSON.parse(readFileSync(resolve(FOLDER, 'config.json'), 'utf8')) as unknown,
  label: 'tiny-controlnet-diffusers/config.json',
};

/** The 1.0 file with its `control_model.` prefix removed: the layout of ControlNet 1.1 files. */
function unprefixedCopy(): string {
  const bytes = readFileSync(FILE);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, unknown>;
  const renamed = Object.fromEntries(Object.entries(header).map(([k, v]) => [k.replace(/^control_model\./, ''), v]));
  const text = Buffer.from(JSON.stringify(renamed), 'utf8');
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(text.length));
  const path = join(mkdtempSync(join(tmpdir(), 'sd-cn11-')), 'control_v11_tiny.safetensors');
  writeFileSync(path, Buffer.concat([size, text, bytes.subarray(8 + length)]));
  return path;
}

/** Deterministic pseudo-random values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  });
}

/** Runs a ControlNet opened from `path` on fixed inputs (batch 2, 64x96 image) and returns its outputs by name. */
async function residuals(path: string, config?: typeof folderConfig): Promise<Record<string, Float32Array>> {
  const runtime = await createNodeRuntime('cpu');
  const weights = await nodeWeightsFile(path);
  try {
    const opened = await openControlNet(weights, baseUnet('tiny-sd15-diffusers'), { config });
    const net = await loadControlNet(opened, runtime, 'tiny');
    const t = (data: Float32Array, dims: number[]): Tensor => runtime.tensor('float32', data, dims);
    const image = values(2 * 3 * 96 * 64, 3).map((v) => (v + 1) / 2);
    const out = await net.session.run({
      sample: t(values(2 * 4 * 12 * 8, 1), [2, 4, 12, 8]),
      timestep: t(Float32Array.of(501, 501), [2]),
      encoder_hidden_states: t(values(2 * 77 * 16, 2), [2, 77, 16]),
      controlnet_cond: t(image, [2, 3, 96, 64]),
      conditioning_scale: t(Float32Array.of(0.6), [1]),
    });
    const result: Record<string, Float32Array> = {};
    for (const [name, tensor] of Object.entries(out)) result[name] = (tensor.data as Float32Array).slice();
    await net.release();
    return result;
  } finally {
    await weights.close();
  }
}

describe('ControlNet graph', () => {
  it('gives the same residuals from the 1.0 file (with the config folder or from the UNet), a 1.1 (unprefixed) file and the diffusers folder', async () => {
    const folder = await residuals(resolve(FOLDER, 'diffusion_pytorch_model.safetensors'), folderConfig);
    const withConfig = await residuals(FILE, folderConfig);
    const fromUnet = await residuals(FILE);
    const unprefixed = await residuals(unprefixedCopy());
    expect(Object.keys(folder).sort()).toEqual(
      [...Array.from({ length: 12 }, (_, i) => `down_block_res_sample_${i}`), 'mid_block_res_sample'].sort(),
    );
    expect(folder['down_block_res_sample_11']!.length).toBe(2 * 32 * 2 * 1);
    expect(folder['down_block_res_sample_0']!.some((v) => v !== 0)).toBe(true);
    for (const name of Object.keys(folder)) {
      expect(withConfig[name], name).toEqual(folder[name]);
      expect(fromUnet[name], name).toEqual(folder[name]);
      expect(unprefixed[name], name).toEqual(folder[name]);
    }
  }, 60_000);

  it('refuses a ControlNet that does not fit the model, naming the first tensor that differs', async () => {
    const weights = await nodeWeightsFile(FILE);
    try {
      // an SDXL UNet: its added (text_time) embedding is the first thing an SD 1.x ControlNet lacks
      await expect(openControlNet(weights, baseUnet('tiny-sdxl-diffusers'))).rejects.toThrow(
        /The ControlNet tiny-controlnet\.safetensors does not fit the loaded model: this model's UNet needs a tensor "control_model\.label_emb\.0\.0\.weight", which the file lacks/,
      );
      // a wider text conditioning: the first cross-attention key projection differs
      const wider = { config: { ...baseUnet('tiny-sd15-diffusers').config } };
      wider.config.levels = wider.config.levels.map((l) => ({ ...l, crossAttentionDim: 32 }));
      await expect(openControlNet(weights, wider)).rejects.toThrow(
        /does not fit the loaded model: tensor "control_model\.input_blocks\.1\.1\.transformer_blocks\.0\.attn2\.to_k\.weight" has shape \[16, 16\] where this model's UNet needs \[16, 32\] \(the first tensor that differs\)\. Use a ControlNet made for this model's architecture/,
      );
    } finally {
      await weights.close();
    }
  });

  it("keeps the ControlNet on model call i of n as diffusers' controlnet_keep", () => {
    // 10 calls, end 0.5: calls 0..4 are steered ((i + 1) / 10 <= 0.5)
    expect(Array.from({ length: 10 }, (_, i) => controlKeep(i, 10, 0, 0.5))).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    // start 0.25 of 12: i / 12 < 0.25 drops calls 0..2
    expect(Array.from({ length: 12 }, (_, i) => controlKeep(i, 12, 0.25, 1))).toEqual([
      0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ]);
  });
});
