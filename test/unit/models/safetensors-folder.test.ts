import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { folderModelFiles } from '../../../src/cli/fs-model-files.ts';
import { nodeWeightsFile } from '../../../src/cli/node-weights-file.ts';
import { isSafetensorsFolder, openSafetensorsFolder } from '../../../src/core/models/safetensors-folder.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { buildSafetensors, type TestTensor } from '../safetensors/safetensors-fixture.ts';

const SD15 = resolve(FIXTURES, 'single-file/tiny-sd15-diffusers');

/** The tensors of a safetensors file, to write them again split or converted. */
async function tensorsOf(path: string): Promise<Record<string, TestTensor>> {
  const file = await SafetensorsFile.open(bytesByteSource(new Uint8Array(readFileSync(path))), path);
  const out: Record<string, TestTensor> = {};
  for (const t of file.tensors.values())
    out[t.name] = { dtype: t.dtype, shape: [...t.shape], bytes: await file.readBytes(t.name) };
  return out;
}

async function open(dir: string) {
  const files = folderModelFiles(dir);
  expect(await isSafetensorsFolder(files)).toBe(true);
  return openSafetensorsFolder(files, (p) => nodeWeightsFile(resolve(dir, p)));
}

async function unetOutput(dir: string): Promise<Float32Array> {
  const graph = (await (await open(dir)).files.componentGraph!('unet'))!;
  const session = await ort.InferenceSession.create(graph.model, {
    externalData: graph.externalData.map((d) => ({ path: d.path, data: d.data as Uint8Array })),
  });
  const sample = new ort.Tensor(
    'float32',
    Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i)),
    [1, 4, 8, 8],
  );
  const { cross_attention_dim: width } = JSON.parse(readFileSync(join(dir, 'unet/config.json'), 'utf8')) as {
    cross_attention_dim: number;
  };
  const context = new ort.Tensor(
    'float32',
    Float32Array.from({ length: 77 * width }, (_, i) => Math.cos(i)),
    [1, 77, width],
  );
  const timestep = new ort.Tensor('float32', new Float32Array([500]), [1]);
  const out = await session.run({ sample, timestep, encoder_hidden_states: context });
  await session.release();
  return out['out_sample']!.data as Float32Array;
}

describe('diffusers safetensors folders', () => {
  it('mount a float32 UNet in place, and give the same UNet from shards joined through their index', async () => {
    const whole = await open(SD15);
    const graph = (await whole.files.componentGraph!('unet'))!;
    // float32 weights: one window of the file, nothing converted
    expect(graph.externalData.map((d) => d.path)).toEqual(['unet.weights.0']);

    const dir = mkdtempSync(join(tmpdir(), 'sd-sharded-'));
    cpSync(SD15, dir, { recursive: true });
    const unetPath = join(dir, 'unet/diffusion_pytorch_model.safetensors');
    const tensors = Object.entries(await tensorsOf(unetPath));
    rmSync(unetPath);
    const half = Math.floor(tensors.length / 2);
    const shards = {
      'diffusion_pytorch_model-00001-of-00002.safetensors': tensors.slice(0, half),
      'diffusion_pytorch_model-00002-of-00002.safetensors': tensors.slice(half),
    };
    const weightMap: Record<string, string> = {};
    for (const [name, part] of Object.entries(shards)) {
      writeFileSync(join(dir, 'unet', name), buildSafetensors(Object.fromEntries(part)));
      for (const [key] of part) weightMap[key] = name;
    }
    writeFileSync(
      join(dir, 'unet/diffusion_pytorch_model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    const sharded = (await (await open(dir)).files.componentGraph!('unet'))!;
    // each shard's float32 bytes are mounted in place, never one window across two shards
    expect(sharded.externalData.map((d) => d.path)).toEqual(['unet.weights.0', 'unet.weights.1']);
    expect(await unetOutput(dir)).toEqual(await unetOutput(SD15));
  });

  it('prefer the .fp16 variant, widened once into a converted file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-fp16-'));
    cpSync(SD15, dir, { recursive: true });
    const tensors = await tensorsOf(join(dir, 'text_encoder/model.safetensors'));
    const half: Record<string, TestTensor> = {};
    for (const [name, t] of Object.entries(tensors)) {
      if (t.dtype !== 'F32') half[name] = t;
      else {
        const values = new Float32Array(t.bytes.slice().buffer);
        const bits = new Uint16Array(values.length);
        // the values do not matter here, only that the float16 file is the one read
        for (let i = 0; i < values.length; i++) bits[i] = values[i] === 0 ? 0 : 0x3c00;
        half[name] = { dtype: 'F16', shape: t.shape, bytes: new Uint8Array(bits.buffer) };
      }
    }
    writeFileSync(join(dir, 'text_encoder/model.fp16.safetensors'), buildSafetensors(half));
    const graph = (await (await open(dir)).files.componentGraph!('text_encoder'))!;
    expect(graph.externalData.map((d) => d.path)).toEqual(['text_encoder.float32.bin']);
  });
});
