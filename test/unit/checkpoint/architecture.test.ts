import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectArchitecture } from '../../../src/core/checkpoint/architecture.ts';
import { resolveSingleFileCheckpoint } from '../../../src/core/checkpoint/single-file-checkpoint.ts';
import { isSdError } from '../../../src/core/errors.ts';
import { SafetensorsWeights } from '../../../src/core/graphs/safetensors-weights.ts';
import { buildUnet2dCondition } from '../../../src/core/graphs/unet-2d-condition.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { DETECTION_KEYS, headerOnly } from './header-only.ts';

const { convIn: CONV_IN, toK: TO_K, sdxl: SDXL, refiner: REFINER } = DETECTION_KEYS;

describe('detectArchitecture', () => {
  it('tells SD 1.x, SD 2.x, SDXL base and refiner and inpainting apart from keys and shapes, as diffusers does', async () => {
    expect(detectArchitecture(await headerOnly({ [CONV_IN]: [4, 4, 1, 1], [TO_K]: [8, 768] }))).toEqual({
      architecture: 'sd1',
      isInpainting: false,
    });
    expect(detectArchitecture(await headerOnly({ [CONV_IN]: [4, 9, 1, 1], [TO_K]: [8, 768] }))).toEqual({
      architecture: 'sd1',
      isInpainting: true,
    });
    expect(detectArchitecture(await headerOnly({ [CONV_IN]: [4, 4, 1, 1], [TO_K]: [8, 1024] }))).toEqual({
      architecture: 'sd2',
      isInpainting: false,
    });
    expect(detectArchitecture(await headerOnly({ [CONV_IN]: [4, 9, 1, 1], [TO_K]: [8, 1024] }))).toEqual({
      architecture: 'sd2',
      isInpainting: true,
    });
    expect(detectArchitecture(await headerOnly({ [CONV_IN]: [4, 4, 1, 1], [SDXL]: [4] }))).toEqual({
      architecture: 'sdxl-base',
      isInpainting: false,
    });
    expect(detectArchitecture(await headerOnly({ [CONV_IN]: [4, 4, 1, 1], [REFINER]: [4] }))).toEqual({
      architecture: 'sdxl-refiner',
      isInpainting: false,
    });
  });

  it('refuses an unknown file, naming the keys it looked for and --config', async () => {
    const file = await headerOnly({ 'double_blocks.0.img_attn.norm.key_norm.scale': [4] });
    const error = (() => {
      try {
        return resolveSingleFileCheckpoint(file);
      } catch (e) {
        return e;
      }
    })();
    expect(isSdError(error, 'unsupported-model')).toBe(true);
    expect((error as Error).message).toContain(`"${CONV_IN}"`);
    expect((error as Error).message).toContain(`"${SDXL}"`);
    expect((error as Error).message).toContain('"double_blocks.0.img_attn.norm.key_norm.scale"');
    expect((error as Error).message).toMatch(/--config/);
  });
});

describe('built-in configs', () => {
  it('SD 2.x is v-prediction at 768 px unless epsilon is asked for (then the 512 px base config)', async () => {
    const file = await headerOnly({
      [CONV_IN]: [4, 4, 1, 1],
      [TO_K]: [8, 1024],
      'cond_stage_model.model.token_embedding.weight': [2, 2],
    });
    const v = resolveSingleFileCheckpoint(file);
    expect([v.architecture, v.predictionType, v.scheduler['prediction_type'], v.configSource]).toEqual([
      'sd2',
      'v_prediction',
      'v_prediction',
      'stabilityai/stable-diffusion-2-1',
    ]);
    expect(v.unet.config.levels.map((l) => [l.heads, l.crossAttentionDim])).toEqual([
      [5, 1024],
      [10, 1024],
      [20, 1024],
      [20, 1024],
    ]);
    expect(v.textEncoder!.config).toMatchObject({ hiddenSize: 1024, numHiddenLayers: 23, hiddenAct: 'gelu' });
    const eps = resolveSingleFileCheckpoint(file, { predictionType: 'epsilon' });
    expect([eps.predictionType, eps.configSource]).toEqual(['epsilon', 'stabilityai/stable-diffusion-2-base']);
    // OpenCLIP: q/k/v are thirds of in_proj_weight, the 24th block is never asked for
    expect(v.textEncoder!.fileKey('text_model.encoder.layers.22.self_attn.v_proj.weight', [1024, 1024])).toEqual({
      tensor: 'cond_stage_model.model.transformer.resblocks.22.attn.in_proj_weight',
      shape: [3072, 1024],
      range: { start: 2 * 1024 * 1024, count: 1024 * 1024 },
    });
    expect(v.textEncoder!.fileKey('text_model.encoder.layers.3.mlp.fc2.bias', [1024])).toEqual({
      tensor: 'cond_stage_model.model.transformer.resblocks.3.mlp.c_proj.bias',
    });
  });

  it('SD 1.x inpainting gets 9 input channels; the refiner reads its encoder from the first embedder', async () => {
    const inpaint = resolveSingleFileCheckpoint(
      await headerOnly({
        [CONV_IN]: [4, 9, 1, 1],
        'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight': [2, 2],
      }),
    );
    expect([
      inpaint.architecture,
      inpaint.isInpainting,
      inpaint.unet.config.inChannels,
      inpaint.predictionType,
    ]).toEqual(['sd1', true, 9, 'epsilon']);
    const refiner = resolveSingleFileCheckpoint(
      await headerOnly({
        [CONV_IN]: [4, 4, 1, 1],
        [REFINER]: [4],
        'conditioner.embedders.0.model.token_embedding.weight': [2, 2],
      }),
    );
    expect(refiner.textEncoder).toBeUndefined();
    expect(refiner.textEncoder2!.fileKey('text_projection.weight', [1280, 1280])).toEqual({
      tensor: 'conditioner.embedders.0.model.text_projection',
      transpose: true,
    });
    expect(refiner.unet.config.addTextTime).toEqual({ timeEmbedDim: 256, projectionInputDim: 2560 });
  });

  it('map the UNet keys of real checkpoints (SD 1.5 and SDXL block numbering)', async () => {
    const key = (file: SafetensorsFile, diffusers: string): string => {
      const source = resolveSingleFileCheckpoint(file).unet.fileKey(diffusers, []);
      return source.tensor.replace('model.diffusion_model.', '');
    };
    const sd15 = await headerOnly({
      [CONV_IN]: [4, 4, 1, 1],
      'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight': [2, 2],
    });
    expect(key(sd15, 'down_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k.weight')).toBe(
      'input_blocks.5.1.transformer_blocks.0.attn2.to_k.weight',
    );
    expect(key(sd15, 'down_blocks.2.downsamplers.0.conv.weight')).toBe('input_blocks.9.0.op.weight');
    expect(key(sd15, 'down_blocks.3.resnets.1.time_emb_proj.bias')).toBe('input_blocks.11.0.emb_layers.1.bias');
    expect(key(sd15, 'mid_block.resnets.1.norm2.weight')).toBe('middle_block.2.out_layers.0.weight');
    expect(key(sd15, 'up_blocks.0.upsamplers.0.conv.weight')).toBe('output_blocks.2.1.conv.weight');
    expect(key(sd15, 'up_blocks.1.upsamplers.0.conv.weight')).toBe('output_blocks.5.2.conv.weight');
    expect(key(sd15, 'up_blocks.3.attentions.2.proj_out.weight')).toBe('output_blocks.11.1.proj_out.weight');
    expect(key(sd15, 'up_blocks.3.resnets.0.conv_shortcut.weight')).toBe('output_blocks.9.0.skip_connection.weight');
    const sdxl = await headerOnly({
      [CONV_IN]: [4, 4, 1, 1],
      [SDXL]: [4],
      'conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight': [2, 2],
      'conditioner.embedders.1.model.token_embedding.weight': [2, 2],
    });
    expect(key(sdxl, 'add_embedding.linear_2.weight')).toBe('label_emb.0.2.weight');
    expect(key(sdxl, 'down_blocks.2.attentions.1.transformer_blocks.9.ff.net.0.proj.weight')).toBe(
      'input_blocks.8.1.transformer_blocks.9.ff.net.0.proj.weight',
    );
    expect(key(sdxl, 'up_blocks.1.upsamplers.0.conv.bias')).toBe('output_blocks.5.2.conv.bias');
    expect(key(sdxl, 'up_blocks.2.resnets.2.conv2.weight')).toBe('output_blocks.8.0.out_layers.3.weight');
  });

  it('a checkpoint that does not fit the built-in config names the first tensor and both shapes', async () => {
    const fileBytes = readFileSync(resolve(FIXTURES, 'single-file', 'tiny-sd15.safetensors'));
    const file = await SafetensorsFile.open(bytesByteSource(fileBytes), 'tiny-sd15.safetensors');
    const checkpoint = resolveSingleFileCheckpoint(file);
    expect([checkpoint.architecture, checkpoint.configSource]).toEqual([
      'sd1',
      'stable-diffusion-v1-5/stable-diffusion-v1-5',
    ]);
    const weights = new SafetensorsWeights(file, {
      location: 'm',
      convertedLocation: 'c',
      fileKey: checkpoint.unet.fileKey,
    });
    expect(() => buildUnet2dCondition(checkpoint.unet.config, weights)).toThrow(
      /Tensor "model.diffusion_model.time_embed.0.weight" in "tiny-sd15.safetensors" has shape \[64, 16\] but the config implies \[1280, 320\]/,
    );
  });
});
