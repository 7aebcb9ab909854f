import { SdError } from '../errors.ts';
import { GraphBuilder } from '../onnx/graph-builder.ts';
import { conv2d, groupNorm, silu } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import { downBlock, midBlock, upBlock, type UnetBlockContext } from './unet-blocks.ts';
import type { Unet2dConditionConfig } from './unet-config.ts';
import { unetTimeEmbedding, type TimeEmbeddingInputs } from './unet-time-embedding.ts';

/** Options of {@link buildUnet2dCondition}. */
export interface UnetBuildOptions {
  /** SDXL: width of `text_embeds`, the second text encoder's `projection_dim` (see {@link textTimeInputs}). */
  textEmbedsDim?: number;
}

/** SDXL's pooled text embedding is 1280 wide for the base model and the refiner. */
const SDXL_TEXT_EMBEDS_DIM = 1280;

/**
 * Splits the `text_time` projection input into `text_embeds` and `time_ids` widths. Given the
 * text-embedding width (the second encoder's projection_dim), the id count follows; without it,
 * 1280 is assumed when it leaves 5 or 6 ids (SDXL base/refiner), otherwise 6 ids.
 */
export function textTimeInputs(
  textTime: { timeEmbedDim: number; projectionInputDim: number },
  textEmbedsDim?: number,
): { textEmbedsDim: number; timeIdCount: number } {
  const idsFor = (dim: number): number => (textTime.projectionInputDim - dim) / textTime.timeEmbedDim;
  const dim =
    textEmbedsDim ??
    ([5, 6].includes(idsFor(SDXL_TEXT_EMBEDS_DIM))
      ? SDXL_TEXT_EMBEDS_DIM
      : textTime.projectionInputDim - 6 * textTime.timeEmbedDim);
  const count = idsFor(dim);
  if (!Number.isInteger(count) || count <= 0 || dim <= 0) {
    throw new SdError(
      'unsupported-model',
      `A text_embeds width of ${dim} does not fit "projection_class_embeddings_input_dim" ${textTime.projectionInputDim} with "addition_time_embed_dim" ${textTime.timeEmbedDim}: ` +
        "the rest must be a whole number of time ids. Pass the second text encoder's projection_dim.",
    );
  }
  return { textEmbedsDim: dim, timeIdCount: count };
}

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
  let sample = g.input('sample', 'float32', ['batch', config.inChannels, 'height', 'width']);
  const inputs: TimeEmbeddingInputs = { sample, timestep: g.input('timestep', 'float32', ['batch']) };
  const context = g.input('encoder_hidden_states', 'float32', ['batch', 'sequence', levels[0]!.crossAttentionDim]);
  if (config.addTextTime !== null) {
    const { textEmbedsDim, timeIdCount } = textTimeInputs(config.addTextTime, options.textEmbedsDim);
    inputs.textEmbeds = g.input('text_embeds', 'float32', ['batch', textEmbedsDim]);
    inputs.timeIds = g.input('time_ids', 'float32', ['batch', timeIdCount]);
  }
  if (config.timeCondProjDim !== null)
    inputs.timestepCond = g.input('timestep_cond', 'float32', ['batch', config.timeCondProjDim]);

  const emb = unetTimeEmbedding(g, weights, config, inputs);
  const ctx: UnetBlockContext = {
    g,
    w: weights,
    config,
    context,
    time: { activated: silu(g, emb), channels: config.timeEmbedDim },
  };

  if (config.centerInputSample)
    sample = g.op('Sub', [g.op('Mul', [sample, g.constant('float32', [], [2])]), g.constant('float32', [], [1])]);
  const first = levels[0]!.outChannels;
  let x = conv2d(g, weights, 'conv_in', sample, config.inChannels, first, { kernel: config.convInKernel });

  const skips = [x];
  const skipChannels = [first];
  let channels = first;
  levels.forEach((level, index) => {
    const before = skips.length;
    x = downBlock(ctx, index, x, channels, skips);
    channels = level.outChannels;
    for (let i = before; i < skips.length; i++) skipChannels.push(channels);
  });
  if (config.hasMidBlock) x = midBlock(ctx, x);
  for (let index = 0; index < levels.length; index++) x = upBlock(ctx, index, x, skips, skipChannels);

  x = silu(
    g,
    groupNorm(g, weights, 'conv_norm_out', x, first, { groups: config.normNumGroups, epsilon: config.normEps }),
  );
  x = conv2d(g, weights, 'conv_out', x, first, config.outChannels, { kernel: config.convOutKernel });
  g.output(x, 'out_sample', 'float32', ['batch', config.outChannels, 'height', 'width']);
  return g.toModel();
}
