import { describe, expect, it } from 'vitest';
import type { CheckpointArchitecture } from '../../../src/core/checkpoint/architecture.ts';
import {
  resolveSingleFileCheckpoint,
  type CheckpointComponent,
} from '../../../src/core/checkpoint/single-file-checkpoint.ts';
import { buildClipTextModel } from '../../../src/core/graphs/clip-text-model.ts';
import type { SafetensorsWeights, WeightSource } from '../../../src/core/graphs/safetensors-weights.ts';
import { buildUnet2dCondition } from '../../../src/core/graphs/unet-2d-condition.ts';
import { buildVaeDecoder } from '../../../src/core/graphs/vae-decoder.ts';
import { buildVaeEncoder } from '../../../src/core/graphs/vae-encoder.ts';
import type { GraphBuilder } from '../../../src/core/onnx/graph-builder.ts';
import { DETECTION_KEYS, headerOnly } from './header-only.ts';

/** Stands in for SafetensorsWeights: records what a graph binds and where the checkpoint key map sends it. */
function recordingWeights(component: CheckpointComponent<unknown>): {
  weights: SafetensorsWeights;
  parameters: () => number;
  keys: Map<string, WeightSource>;
} {
  const sizes = new Map<string, number>();
  const keys = new Map<string, WeightSource>();
  const weights = {
    bind(g: GraphBuilder, key: string, shape: readonly number[]): string {
      sizes.set(
        key,
        shape.reduce((a, b) => a * b, 1),
      );
      keys.set(key, component.fileKey(key, shape));
      return g.initializer(key, 'float32', shape, { kind: 'external', location: 'weights', offset: 0, length: 4 });
    },
  };
  return {
    weights: weights as unknown as SafetensorsWeights,
    parameters: () => [...sizes.values()].reduce((a, b) => a + b, 0),
    keys,
  };
}

const HF_TEXT = 'text_model.embeddings.token_embedding.weight';
const FILES: Record<CheckpointArchitecture, Record<string, number[]>> = {
  sd1: { [DETECTION_KEYS.convIn]: [1, 4, 1, 1], [`cond_stage_model.transformer.${HF_TEXT}`]: [1] },
  sd2: {
    [DETECTION_KEYS.convIn]: [1, 4, 1, 1],
    [DETECTION_KEYS.toK]: [1, 1024],
    'cond_stage_model.model.token_embedding.weight': [1],
  },
  'sdxl-base': {
    [DETECTION_KEYS.sdxl]: [1],
    [`conditioner.embedders.0.transformer.${HF_TEXT}`]: [1],
    'conditioner.embedders.1.model.token_embedding.weight': [1],
  },
  'sdxl-refiner': { [DETECTION_KEYS.refiner]: [1], 'conditioner.embedders.0.model.token_embedding.weight': [1] },
};

/** Parameter counts of the official models (UNet, AutoencoderKL, CLIP ViT-L, OpenCLIP ViT-H with 23 layers, ViT-bigG with projection). */
const PARAMETERS = {
  sd1Unet: 859_520_964,
  sd2Unet: 865_910_724,
  sdxlUnet: 2_567_463_684,
  vae: 83_653_863,
  clipL: 123_060_480,
  openClipH: 340_387_840,
  openClipBigG: 694_659_840,
};

async function buildAll(architecture: CheckpointArchitecture) {
  const checkpoint = resolveSingleFileCheckpoint(await headerOnly(FILES[architecture]));
  const unet = recordingWeights(checkpoint.unet);
  const onnx = buildUnet2dCondition(checkpoint.unet.config, unet.weights);
  const vae = recordingWeights(checkpoint.vae);
  buildVaeEncoder(checkpoint.vae.config, vae.weights);
  buildVaeDecoder(checkpoint.vae.config, vae.weights);
  const encoders = [checkpoint.textEncoder, checkpoint.textEncoder2].map((component) => {
    if (component === undefined) return undefined;
    const recorded = recordingWeights(component);
    buildClipTextModel(component.config, recorded.weights);
    return recorded;
  });
  return { checkpoint, onnxBytes: onnx.byteLength, unet, vae, encoders };
}

/** The file tensors (and element ranges) a component reads: all distinct, none under a diffusers-only name. */
function fileTensors(keys: Map<string, WeightSource>): string[] {
  const sources = [...keys.values()].map((s) => `${s.tensor}${s.range ? `@${s.range.start}` : ''}`);
  expect(new Set(sources).size).toBe(sources.length);
  return [...keys.values()].map((s) => s.tensor);
}

describe('built-in configs build the official models from LDM keys', () => {
  it('SD 1.5 and SD 2.x: parameter counts, every UNet/VAE/text weight under an LDM name', async () => {
    for (const [architecture, unetParameters, textParameters] of [
      ['sd1', PARAMETERS.sd1Unet, PARAMETERS.clipL],
      ['sd2', PARAMETERS.sd2Unet, PARAMETERS.openClipH],
    ] as const) {
      const built = await buildAll(architecture);
      expect([built.unet.keys.size, built.unet.parameters()]).toEqual([686, unetParameters]);
      expect([built.vae.keys.size, built.vae.parameters()]).toEqual([248, PARAMETERS.vae]);
      expect(built.encoders[0]!.parameters()).toBe(textParameters);
      expect(built.onnxBytes).toBeLessThan(2_000_000);
      for (const t of fileTensors(built.unet.keys))
        expect(t).toMatch(/^model\.diffusion_model\.(input_blocks|middle_block|output_blocks|time_embed|out)\.[\w.]+$/);
      for (const t of fileTensors(built.vae.keys)) {
        expect(t).toMatch(/^first_stage_model\.(encoder|decoder|quant_conv|post_quant_conv)\./);
        expect(t).not.toMatch(/mid_block|down_blocks|up_blocks|resnets|to_q|group_norm|conv_norm_out|conv_shortcut/);
      }
      const text = fileTensors(built.encoders[0]!.keys);
      if (architecture === 'sd2') {
        // OpenCLIP: 23 of the 24 blocks, q/k/v from in_proj_weight
        expect(text.every((t) => t.startsWith('cond_stage_model.model.') && !t.includes('text_model'))).toBe(true);
        expect(text.some((t) => t.includes('resblocks.22.'))).toBe(true);
        expect(text.some((t) => t.includes('resblocks.23.'))).toBe(false);
      } else {
        expect(text.every((t) => t.startsWith('cond_stage_model.transformer.text_model.'))).toBe(true);
      }
    }
  });

  it('SDXL base and refiner: parameter counts, label_emb, both text encoder layouts', async () => {
    const base = await buildAll('sdxl-base');
    expect([base.unet.keys.size, base.unet.parameters()]).toEqual([1680, PARAMETERS.sdxlUnet]);
    expect(base.vae.parameters()).toBe(PARAMETERS.vae);
    expect(base.encoders.map((e) => e!.parameters())).toEqual([PARAMETERS.clipL, PARAMETERS.openClipBigG]);
    expect(base.unet.keys.get('add_embedding.linear_1.weight')).toEqual({
      tensor: 'model.diffusion_model.label_emb.0.0.weight',
    });
    expect(base.encoders[1]!.keys.get('text_projection.weight')).toEqual({
      tensor: 'conditioner.embedders.1.model.text_projection',
      transpose: true,
    });
    for (const t of fileTensors(base.unet.keys))
      expect(t).toMatch(
        /^model\.diffusion_model\.(input_blocks|middle_block|output_blocks|time_embed|label_emb|out)\.[\w.]+$/,
      );
    fileTensors(base.encoders[1]!.keys);

    const refiner = await buildAll('sdxl-refiner');
    expect(refiner.encoders[0]).toBeUndefined();
    expect(refiner.encoders[1]!.parameters()).toBe(PARAMETERS.openClipBigG);
    expect(fileTensors(refiner.encoders[1]!.keys).every((t) => t.startsWith('conditioner.embedders.0.model.'))).toBe(
      true,
    );
    expect([
      refiner.checkpoint.scheduler['prediction_type'],
      refiner.unet.keys.has('add_embedding.linear_1.weight'),
    ]).toEqual(['epsilon', true]);
  });
});
