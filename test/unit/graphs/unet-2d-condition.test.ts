import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { SafetensorsWeights } from '../../../src/core/graphs/safetensors-weights.ts';
import { buildUnet2dCondition, textTimeInputs } from '../../../src/core/graphs/unet-2d-condition.ts';
import { parseUnet2dConditionConfig, type Unet2dConditionConfig } from '../../../src/core/graphs/unet-config.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { buildSafetensors, type TestTensor } from '../safetensors/safetensors-fixture.ts';
import { roundFloat32ToFloat16 } from './fixture-weights.ts';
import { maxRelativeError, readNpy } from './npy.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
type Model = 'tiny-sd15' | 'tiny-sdxl';

function folderConfig(model: Model): Unet2dConditionConfig {
  return parseUnet2dConditionConfig(
    JSON.parse(readFileSync(resolve(SINGLE_FILE, `${model}-diffusers/unet/config.json`), 'utf8')),
  );
}

/** The folder's float32 weights rounded to float16 precision, as the components were computed. */
function folderWeights(model: Model): Uint8Array {
  return roundFloat32ToFloat16(
    readFileSync(resolve(SINGLE_FILE, `${model}-diffusers/unet/diffusion_pytorch_model.safetensors`)),
  );
}

async function buildSession(
  model: Model,
  config: Unet2dConditionConfig,
  fileBytes = folderWeights(model),
): Promise<{ onnx: Uint8Array; fileBytes: Uint8Array }> {
  const file = await SafetensorsFile.open(bytesByteSource(fileBytes), 'diffusion_pytorch_model.safetensors');
  const weights = new SafetensorsWeights(file, { location: 'unet.safetensors', convertedLocation: 'unet.float32.bin' });
  const onnx = buildUnet2dCondition(config, weights);
  expect(weights.hasConverted).toBe(false);
  return { onnx, fileBytes };
}

/** The components' UNet inputs as tensors (those the model's manifest lists). */
function componentFeeds(model: Model, names: readonly string[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of names) {
    const a = readNpy(resolve(SINGLE_FILE, `${model}.components`, `unet.${name}.npy`));
    feeds[name] = new ort.Tensor('float32', a.data as Float32Array, a.shape);
  }
  return feeds;
}

async function unetError(model: Model): Promise<number> {
  const { onnx, fileBytes } = await buildSession(model, folderConfig(model));
  const session = await ort.InferenceSession.create(onnx, {
    externalData: [{ path: 'unet.safetensors', data: fileBytes }],
  });
  const manifest = JSON.parse(readFileSync(resolve(SINGLE_FILE, `${model}.components/manifest.json`), 'utf8')) as {
    models: { unet: { inputs: string[] } };
  };
  expect([...session.inputNames].sort()).toEqual([...manifest.models.unet.inputs].sort());
  const out = await session.run(componentFeeds(model, manifest.models.unet.inputs));
  await session.release();
  const expected = readNpy(resolve(SINGLE_FILE, `${model}.components`, 'unet.out_sample.npy'));
  expect(out['out_sample']!.dims).toEqual(expected.shape);
  return maxRelativeError(out['out_sample']!.data as Float32Array, expected.data as Float32Array);
}

describe('buildUnet2dCondition', () => {
  it('matches the SD 1.x (conv projections) and SDXL (linear projections, text_time, head lists) unet components', async () => {
    const errors = { sd15: await unetError('tiny-sd15'), sdxl: await unetError('tiny-sdxl') };
    console.log('unet out_sample max relative error', errors);
    expect(errors.sd15).toBeLessThan(1e-4);
    expect(errors.sdxl).toBeLessThan(1e-4);
  });

  it('runs on onnxruntime-web (wasm) with the same result', async () => {
    const ortWeb = (await import('onnxruntime-web/wasm')) as unknown as typeof ort & {
      env: { wasm: { numThreads: number } };
    };
    ortWeb.env.wasm.numThreads = 1;
    const { onnx, fileBytes } = await buildSession('tiny-sdxl', folderConfig('tiny-sdxl'));
    const session = await ortWeb.InferenceSession.create(onnx, {
      externalData: [{ path: 'unet.safetensors', data: fileBytes }],
    });
    const feeds = componentFeeds('tiny-sdxl', [
      'sample',
      'timestep',
      'encoder_hidden_states',
      'text_embeds',
      'time_ids',
    ]);
    const webFeeds = Object.fromEntries(
      Object.entries(feeds).map(([k, t]) => [k, new ortWeb.Tensor('float32', t.data as Float32Array, t.dims)]),
    );
    const out = await session.run(webFeeds);
    await session.release();
    const expected = readNpy(resolve(SINGLE_FILE, 'tiny-sdxl.components', 'unet.out_sample.npy'));
    const error = maxRelativeError(out['out_sample']!.data as Float32Array, expected.data as Float32Array);
    console.log('unet (onnxruntime-web wasm) sdxl max relative error', error);
    expect(error).toBeLessThan(1e-4);
  });

  it('takes any prompt length, a broadcast timestep and latents not divisible by 8', async () => {
    const { onnx, fileBytes } = await buildSession('tiny-sd15', folderConfig('tiny-sd15'));
    const session = await ort.InferenceSession.create(onnx, {
      externalData: [{ path: 'unet.safetensors', data: fileBytes }],
    });
    const feeds = componentFeeds('tiny-sd15', ['sample', 'timestep', 'encoder_hidden_states']);
    const base = (await session.run(feeds))['out_sample']!.data as Float32Array;

    // 154 tokens that repeat each prompt's 77: attention over duplicated keys gives the same result
    const context = feeds['encoder_hidden_states']!;
    const [batch, seq, dim] = context.dims as [number, number, number];
    const doubled = new Float32Array(batch * 2 * seq * dim);
    const src = context.data as Float32Array;
    for (let b = 0; b < batch; b++)
      for (const half of [0, 1])
        doubled.set(src.subarray(b * seq * dim, (b + 1) * seq * dim), (2 * b + half) * seq * dim);
    const long = (
      await session.run({ ...feeds, encoder_hidden_states: new ort.Tensor('float32', doubled, [batch, 2 * seq, dim]) })
    )['out_sample']!.data as Float32Array;
    expect(maxRelativeError(long, base)).toBeLessThan(1e-5);

    // one timestep for the whole batch equals that timestep repeated
    const t = (feeds['timestep']!.data as Float32Array)[0]!;
    const one = (await session.run({ ...feeds, timestep: new ort.Tensor('float32', Float32Array.of(t), [1]) }))[
      'out_sample'
    ]!.data as Float32Array;
    const repeated = (await session.run({ ...feeds, timestep: new ort.Tensor('float32', Float32Array.of(t, t), [2]) }))[
      'out_sample'
    ]!.data as Float32Array;
    expect([...one]).toEqual([...repeated]);

    const odd = await session.run({
      ...feeds,
      sample: new ort.Tensor('float32', new Float32Array(2 * 4 * 9 * 7).fill(0.5), [2, 4, 9, 7]),
    });
    expect(odd['out_sample']!.dims).toEqual([2, 4, 9, 7]);
    expect((odd['out_sample']!.data as Float32Array).every(Number.isFinite)).toBe(true);
    await session.release();
  });

  it('adds the LCM guidance embedding through time_embedding.cond_proj (timestep_cond input)', async () => {
    const source = await SafetensorsFile.open(bytesByteSource(folderWeights('tiny-sd15')), 'unet.safetensors');
    const tensors: Record<string, TestTensor> = {};
    for (const info of source.tensors.values())
      tensors[info.name] = { dtype: info.dtype, shape: [...info.shape], bytes: await source.readBytes(info.name) };
    const condDim = 8;
    const withCondProj = (values: number[]): Uint8Array =>
      buildSafetensors({
        ...tensors,
        'time_embedding.cond_proj.weight': {
          dtype: 'F32',
          shape: [16, condDim],
          bytes: new Uint8Array(Float32Array.from(values).buffer),
        },
      });
    const config = { ...folderConfig('tiny-sd15'), timeCondProjDim: condDim };
    const feeds = componentFeeds('tiny-sd15', ['sample', 'timestep', 'encoder_hidden_states']);
    const cond = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 2 * condDim }, (_, i) => Math.sin(i)),
      [2, condDim],
    );
    const run = async (weights: Uint8Array): Promise<Float32Array> => {
      const { onnx } = await buildSession('tiny-sd15', config, weights);
      const session = await ort.InferenceSession.create(onnx, {
        externalData: [{ path: 'unet.safetensors', data: weights }],
      });
      expect(session.inputNames).toContain('timestep_cond');
      const out = (await session.run({ ...feeds, timestep_cond: cond }))['out_sample']!.data as Float32Array;
      await session.release();
      return out;
    };
    const expected = readNpy(resolve(SINGLE_FILE, 'tiny-sd15.components', 'unet.out_sample.npy'));
    // a zero projection leaves the plain UNet; a non-zero one moves the output
    expect(
      maxRelativeError(await run(withCondProj(Array(16 * condDim).fill(0))), expected.data as Float32Array),
    ).toBeLessThan(1e-4);
    const moved = await run(withCondProj(Array.from({ length: 16 * condDim }, (_, i) => Math.cos(i))));
    expect(maxRelativeError(moved, expected.data as Float32Array)).toBeGreaterThan(1e-2);
  });
});

describe('parseUnet2dConditionConfig', () => {
  it("reads attention_head_dim as the head count when num_attention_heads is null (diffusers' naming quirk)", () => {
    const sd15 = folderConfig('tiny-sd15');
    expect(sd15.levels.map((l) => l.heads)).toEqual([4, 4, 4, 4]);
    expect(sd15.levels.map((l) => l.crossAttentionDim)).toEqual([16, 16, 16, 16]);
    const sdxl = folderConfig('tiny-sdxl');
    expect(sdxl.levels.map((l) => [l.heads, l.transformerLayers])).toEqual([
      [2, 1],
      [4, 1],
      [8, 2],
    ]);
    expect(sdxl.addTextTime).toEqual({ timeEmbedDim: 8, projectionInputDim: 68 });
    expect(
      parseUnet2dConditionConfig({
        block_out_channels: [32, 64],
        down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
        up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
        num_attention_heads: [2, 4],
        attention_head_dim: 16,
      }).levels.map((l) => l.heads),
    ).toEqual([2, 4]);
  });

  it("spreads single values per level and follows diffusers' defaults", () => {
    const c = parseUnet2dConditionConfig({
      block_out_channels: [32, 64],
      down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      norm_num_groups: 8,
      only_cross_attention: true,
      cross_attention_dim: [8, 12],
      upcast_attention: true,
    });
    expect(c.levels).toEqual([
      { outChannels: 32, layers: 2, heads: 8, crossAttentionDim: 8, transformerLayers: 1, onlyCrossAttention: true },
      { outChannels: 64, layers: 2, heads: 8, crossAttentionDim: 12, transformerLayers: 1, onlyCrossAttention: true },
    ]);
    expect(c.midBlockOnlyCrossAttention).toBe(true);
    expect([c.timestepInputDim, c.timeEmbedDim, c.flipSinToCos, c.freqShift, c.addTextTime, c.timeCondProjDim]).toEqual(
      [32, 128, true, 0, null, null],
    );
  });

  it('refuses what it cannot build, naming the key and what is allowed', () => {
    const base = {
      block_out_channels: [32, 64],
      down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      norm_num_groups: 8,
    };
    const error = (patch: Record<string, unknown>): string => {
      try {
        parseUnet2dConditionConfig({ ...base, ...patch });
      } catch (e) {
        expect(isSdError(e, 'unsupported-model')).toBe(true);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(error({ class_embed_type: 'timestep' })).toMatch(
      /"class_embed_type" in "unet\/config.json" is "timestep"; expected null/,
    );
    expect(error({ resnet_time_scale_shift: 'scale_shift' })).toMatch(
      /"resnet_time_scale_shift" .* expected "default"/,
    );
    expect(error({ attention_head_dim: [4, 4, 4] })).toMatch(
      /"attention_head_dim" .* is \[4,4,4\]; expected a positive integer, or a list of 2 of them/,
    );
    expect(error({ down_block_types: ['SimpleCrossAttnDownBlock2D', 'DownBlock2D'] })).toMatch(
      /expected 2 entries .* of CrossAttnDownBlock2D, DownBlock2D/,
    );
    expect(
      error({
        transformer_layers_per_block: [
          [1, 2],
          [1, 1],
        ],
      }),
    ).toMatch(/per-layer lists/);
    expect(error({ attention_head_dim: 5 })).toMatch(/32 channels, not divisible by its 5 attention heads/);
    expect(error({ addition_embed_type: 'text_time' })).toMatch(
      /"addition_time_embed_dim" .* expected a positive integer with addition_embed_type "text_time"/,
    );
  });
});

describe('textTimeInputs', () => {
  it('splits the text_time projection into text_embeds and 6 (base) or 5 (refiner) time ids', () => {
    expect(textTimeInputs({ timeEmbedDim: 256, projectionInputDim: 2816 })).toEqual({
      textEmbedsDim: 1280,
      timeIdCount: 6,
    });
    expect(textTimeInputs({ timeEmbedDim: 256, projectionInputDim: 2560 })).toEqual({
      textEmbedsDim: 1280,
      timeIdCount: 5,
    });
    expect(textTimeInputs({ timeEmbedDim: 8, projectionInputDim: 68 })).toEqual({ textEmbedsDim: 20, timeIdCount: 6 });
    expect(() => textTimeInputs({ timeEmbedDim: 8, projectionInputDim: 68 }, 30)).toThrow(
      /text_embeds width of 30 does not fit "projection_class_embeddings_input_dim" 68 with "addition_time_embed_dim" 8/,
    );
  });
});
