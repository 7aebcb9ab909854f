import { GraphBuilder } from '../onnx/graph-builder.ts';
import { conv2d, groupNorm, silu } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import { midBlock, upBlock } from './unet-blocks.ts';
import type { Unet2dConditionConfig } from './unet-config.ts';
import { declareUnetInputs, skipLevels, unetEncoder } from './unet-encoder.ts';

/** Options of {@link buildUnet2dCondition}. */
export interface UnetBuildOptions {
  /** SDXL: width of `text_embeds`, the second text encoder's `projection_dim` (see {@link textTimeInputs}). */
  textEmbedsDim?: number;
  /**
   * Adds the ControlNet inputs `down_block_additional_residual_N` (one per skip, float32
   * [batch, C_N, height_div_D, width_div_D], D = 2^level) and `mid_block_additional_residual`,
   * added to the skips and to the mid block's output as diffusers' `UNet2DConditionModel.forward` does.
   */
  controlResiduals?: boolean;
}

export { textTimeInputs } from './unet-encoder.ts';

/**
 * Builds the ONNX graph of diffusers' `UNet2DConditionModel.forward`, float32, with the weights
 * bound by diffusers-folder keys (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight`, …).
 *
 * Inputs (float32):
 * - `sample` [batch, inChannels, h, w] — latents (9 channels for inpainting: latents, mask, masked image latents);
 * - `timestep` [batch] — fractional values allowed (A1111's samplers use them); [1] is broadcast to the batch;
 * - `encoder_hidden_states` [batch, S, crossAttentionDim] — any S (77·k for long prompts);
 * - `text_embeds` [batch, P] and `time_ids` [batch, n] — only with `addition_embed_type: "text_time"` (SDXL):
 *   P + n · additionTimeEmbedDim = projectionClassEmbeddingsInputDim, n = 6 ids for the base model
 *   (sizes and crop) and 5 for the refiner (with the aesthetic score), see {@link textTimeInputs};
 * - `timestep_cond` [batch, timeCondProjDim] — only for LCM-distilled UNets.
 *
 * Output `out_sample`: float32 [batch, outChannels, h, w], the noise (or v / x0) prediction. h and
 * w need not be multiples of 2^(levels − 1): upsampling follows the skip sizes, as diffusers does.
 */
export function buildUnet2dCondition(
  config: Unet2dConditionConfig,
  weights: SafetensorsWeights,
  options: UnetBuildOptions = {},
): Uint8Array {
  const g = new GraphBuilder('unet');
  const levels = config.levels;
  const inputs = declareUnetInputs(g, config, options.textEmbedsDim);
  const encoder = unetEncoder(g, weights, config, inputs);
  const { ctx, skips, skipChannels } = encoder;
  let x = encoder.x;
  if (options.controlResiduals === true) {
    // diffusers adds the down residuals to every skip after the down blocks, the mid one after the mid block
    const divisors = skipLevels(config).map((level) => 2 ** level);
    skips.forEach((skip, i) => {
      const d = divisors[i]!;
      const residual = g.input(`down_block_additional_residual_${i}`, 'float32', [
        'batch',
        skipChannels[i]!,
        `height_div_${d}`,
        `width_div_${d}`,
      ]);
      skips[i] = g.op('Add', [skip, residual]);
    });
  }
  if (config.hasMidBlock) x = midBlock(ctx, x);
  if (options.controlResiduals === true) {
    const d = 2 ** (levels.length - 1);
    const c = levels.at(-1)!.outChannels;
    const residual = g.input('mid_block_additional_residual', 'float32', [
      'batch',
      c,
      `height_div_${d}`,
      `width_div_${d}`,
    ]);
    x = g.op('Add', [x, residual]);
  }
  for (let index = 0; index < levels.length; index++) x = upBlock(ctx, index, x, skips, skipChannels);

  const first = levels[0]!.outChannels;
  x = silu(
    g,
    groupNorm(g, weights, 'conv_norm_out', x, first, { groups: config.normNumGroups, epsilon: config.normEps }),
  );
  x = conv2d(g, weights, 'conv_out', x, first, config.outChannels, { kernel: config.convOutKernel });
  g.output(x, 'out_sample', 'float32', ['batch', config.outChannels, 'height', 'width']);
  return g.toModel();
}
