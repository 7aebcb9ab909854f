import { GraphBuilder } from '../onnx/graph-builder.ts';
import type { ControlNetConfig } from './controlnet-config.ts';
import { conv2d, silu } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import { midBlock } from './unet-blocks.ts';
import { declareUnetInputs, skipLevels, unetEncoder } from './unet-encoder.ts';

/** Options of {@link buildControlNet}. */
export interface ControlNetBuildOptions {
  /** SDXL: width of `text_embeds` (as for the UNet). */
  textEmbedsDim?: number;
}

/**
 * diffusers `ControlNetConditioningEmbedding`: conv_in, then per resolution a 3×3 conv and a
 * stride-2 3×3 conv (`blocks.2i`, `blocks.2i+1`), SiLU after each, then `conv_out` to the UNet's
 * first width. [B, condChannels, H, W] → [B, C0, H/8, W/8] for four resolutions.
 */
function conditioningEmbedding(g: GraphBuilder, w: SafetensorsWeights, config: ControlNetConfig, cond: string): string {
  const module = 'controlnet_cond_embedding';
  const channels = config.conditioningEmbeddingOutChannels;
  return g.scope(module, () => {
    let x = silu(g, conv2d(g, w, `${module}.conv_in`, cond, config.conditioningChannels, channels[0]!));
    for (let i = 0; i < channels.length - 1; i++) {
      const c = channels[i]!;
      x = silu(g, conv2d(g, w, `${module}.blocks.${2 * i}`, x, c, c));
      x = silu(g, conv2d(g, w, `${module}.blocks.${2 * i + 1}`, x, c, channels[i + 1]!, { stride: 2 }));
    }
    return conv2d(g, w, `${module}.conv_out`, x, channels.at(-1)!, config.unet.levels[0]!.outChannels);
  });
}

/**
 * Builds the ONNX graph of diffusers' `ControlNetModel.forward` (not guess mode), float32, with the
 * weights bound by diffusers keys (`controlnet_down_blocks.N`, `controlnet_mid_block`,
 * `controlnet_cond_embedding.*` and the UNet's `conv_in`, `time_embedding`, `down_blocks`,
 * `mid_block`). The encoder half is the UNet builder's own (`unetEncoder`, `midBlock`).
 *
 * Inputs: those of the UNet (`sample`, `timestep`, `encoder_hidden_states`, SDXL's `text_embeds` /
 * `time_ids`), plus `controlnet_cond` float32 [batch, conditioningChannels, 8·height, 8·width] (the
 * control image in [0, 1]) and `conditioning_scale` float32 [1].
 *
 * Outputs, already multiplied by `conditioning_scale`: `down_block_res_sample_N` float32
 * [batch, C_N, height/D, width/D] (D = 2^level, one per UNet skip, fed to the UNet's
 * `down_block_additional_residual_N`) and `mid_block_res_sample` (for `mid_block_additional_residual`).
 */
export function buildControlNet(
  config: ControlNetConfig,
  weights: SafetensorsWeights,
  options: ControlNetBuildOptions = {},
): Uint8Array {
  const g = new GraphBuilder('controlnet');
  const unet = config.unet;
  const inputs = declareUnetInputs(g, unet, options.textEmbedsDim);
  const cond = g.input('controlnet_cond', 'float32', [
    'batch',
    config.conditioningChannels,
    'image_height',
    'image_width',
  ]);
  const scale = g.input('conditioning_scale', 'float32', [1]);
  const encoder = unetEncoder(g, weights, unet, inputs, (x) =>
    g.op('Add', [x, conditioningEmbedding(g, weights, config, cond)]),
  );
  const divisors = skipLevels(unet).map((level) => 2 ** level);
  encoder.skips.forEach((skip, i) => {
    const c = encoder.skipChannels[i]!;
    const residual = conv2d(g, weights, `controlnet_down_blocks.${i}`, skip, c, c, { kernel: 1 });
    const d = divisors[i]!;
    g.output(g.op('Mul', [residual, scale]), `down_block_res_sample_${i}`, 'float32', [
      'batch',
      c,
      `height_div_${d}`,
      `width_div_${d}`,
    ]);
  });
  const last = unet.levels.at(-1)!.outChannels;
  const mid = unet.hasMidBlock ? midBlock(encoder.ctx, encoder.x) : encoder.x;
  const d = 2 ** (unet.levels.length - 1);
  g.output(
    g.op('Mul', [conv2d(g, weights, 'controlnet_mid_block', mid, last, last, { kernel: 1 }), scale]),
    'mid_block_res_sample',
    'float32',
    ['batch', last, `height_div_${d}`, `width_div_${d}`],
  );
  return g.toModel();
}
