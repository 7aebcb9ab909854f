import { SdError } from '../errors.ts';
import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { conv2d, silu } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import { downBlock, type UnetBlockContext } from './unet-blocks.ts';
import type { Unet2dConditionConfig } from './unet-config.ts';
import { unetTimeEmbedding, type TimeEmbeddingInputs } from './unet-time-embedding.ts';

/**
 * The encoder half that diffusers' `UNet2DConditionModel` and `ControlNetModel` share: the graph
 * inputs, the time embedding, `conv_in` and the down blocks. Both builders call it, so a ControlNet
 * is built from the same block code as the UNet it steers.
 */

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

/** The graph inputs both models read, by value name. */
export interface UnetGraphInputs {
  /** `sample` float32 [batch, inChannels, height, width]. */
  sample: string;
  time: TimeEmbeddingInputs;
  /** `encoder_hidden_states` float32 [batch, sequence, crossAttentionDim]. */
  context: string;
}

/**
 * Declares `sample`, `timestep`, `encoder_hidden_states`, and where the config has them
 * `text_embeds` / `time_ids` (SDXL) and `timestep_cond` (LCM); see `buildUnet2dCondition`.
 */
export function declareUnetInputs(
  g: GraphBuilder,
  config: Unet2dConditionConfig,
  textEmbedsDim?: number,
): UnetGraphInputs {
  const sample = g.input('sample', 'float32', ['batch', config.inChannels, 'height', 'width']);
  const time: TimeEmbeddingInputs = { sample, timestep: g.input('timestep', 'float32', ['batch']) };
  const context = g.input('encoder_hidden_states', 'float32', [
    'batch',
    'sequence',
    config.levels[0]!.crossAttentionDim,
  ]);
  if (config.addTextTime !== null) {
    const ids = textTimeInputs(config.addTextTime, textEmbedsDim);
    time.textEmbeds = g.input('text_embeds', 'float32', ['batch', ids.textEmbedsDim]);
    time.timeIds = g.input('time_ids', 'float32', ['batch', ids.timeIdCount]);
  }
  if (config.timeCondProjDim !== null)
    time.timestepCond = g.input('timestep_cond', 'float32', ['batch', config.timeCondProjDim]);
  return { sample, time, context };
}

/** The encoder half's result: the block context (for the mid and up blocks) and the down path. */
export interface UnetEncoderOutput {
  ctx: UnetBlockContext;
  /** The last down block's output [B, C_last, h/2^(levels-1), w/2^(levels-1)]. */
  x: string;
  /** conv_in's output, then every down-block layer and downsampler output, in diffusers' order. */
  skips: string[];
  /** The channel count of each skip. */
  skipChannels: number[];
}

/**
 * Time embedding, conv_in, down blocks. `afterConvIn` changes conv_in's output before it becomes
 * the first skip (the ControlNet adds its conditioning embedding there).
 */
export function unetEncoder(
  g: GraphBuilder,
  weights: SafetensorsWeights,
  config: Unet2dConditionConfig,
  inputs: UnetGraphInputs,
  afterConvIn: (x: string) => string = (x) => x,
): UnetEncoderOutput {
  const emb = unetTimeEmbedding(g, weights, config, inputs.time);
  const ctx: UnetBlockContext = {
    g,
    w: weights,
    config,
    context: inputs.context,
    time: { activated: silu(g, emb), channels: config.timeEmbedDim },
  };
  let sample = inputs.sample;
  if (config.centerInputSample)
    sample = g.op('Sub', [g.op('Mul', [sample, g.constant('float32', [], [2])]), g.constant('float32', [], [1])]);
  const first = config.levels[0]!.outChannels;
  let x = afterConvIn(conv2d(g, weights, 'conv_in', sample, config.inChannels, first, { kernel: config.convInKernel }));
  const skips = [x];
  const skipChannels = [first];
  let channels = first;
  config.levels.forEach((level, index) => {
    const before = skips.length;
    x = downBlock(ctx, index, x, channels, skips);
    channels = level.outChannels;
    for (let i = before; i < skips.length; i++) skipChannels.push(channels);
  });
  return { ctx, x, skips, skipChannels };
}

/** How many times each skip of the encoder half was downsampled (0 for conv_in's output), in skip order. */
export function skipLevels(config: Unet2dConditionConfig): number[] {
  const levels = [0];
  config.levels.forEach((level, index) => {
    for (let layer = 0; layer < level.layers; layer++) levels.push(index);
    if (index < config.levels.length - 1) levels.push(index + 1);
  });
  return levels;
}
