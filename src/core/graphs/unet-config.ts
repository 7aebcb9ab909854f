import { SdError } from '../errors.ts';
import { ConfigReader, isPositiveInt } from './config-reader.ts';

/** Down-block classes the UNet builder emits. */
export type UnetDownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
/** Up-block classes the UNet builder emits. */
export type UnetUpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

/** What each down block (and, reversed, each up block) is built with; index 0 is the full-resolution level. */
export interface UnetLevel {
  outChannels: number;
  layers: number;
  /** Attention heads of the level's transformers (diffusers: `num_attention_heads`, or `attention_head_dim` when that is null). */
  heads: number;
  crossAttentionDim: number;
  transformerLayers: number;
  onlyCrossAttention: boolean;
}

/**
 * A diffusers `UNet2DConditionModel` config (`unet/config.json`) parsed once into camelCase, with
 * the per-block settings that may be given as one value or a list spread into {@link levels}.
 * Covers SD 1.x/2.x, inpainting (9 input channels), SDXL base/refiner (`text_time` added
 * embedding) and LCM-distilled UNets (`time_cond_proj_dim`).
 */
export interface Unet2dConditionConfig {
  inChannels: number;
  outChannels: number;
  centerInputSample: boolean;
  flipSinToCos: boolean;
  freqShift: number;
  downBlockTypes: readonly UnetDownBlockType[];
  upBlockTypes: readonly UnetUpBlockType[];
  /** `UNetMidBlock2DCrossAttn`, or none. */
  hasMidBlock: boolean;
  midBlockOnlyCrossAttention: boolean;
  levels: readonly UnetLevel[];
  downsamplePadding: number;
  midBlockScaleFactor: number;
  resnetOutScaleFactor: number;
  normNumGroups: number;
  normEps: number;
  useLinearProjection: boolean;
  /** Width of the sinusoidal timestep features (block_out_channels[0]) and of the time embedding. */
  timestepInputDim: number;
  timeEmbedDim: number;
  /** `silu` applied after the time MLP (`timestep_post_act`) and to the summed embedding (`time_embedding_act_fn`). */
  timestepPostAct: boolean;
  timeEmbeddingAct: boolean;
  /** LCM guidance-embedding width (`timestep_cond` input), or null. */
  timeCondProjDim: number | null;
  /** SDXL `text_time` added embedding, or null. */
  addTextTime: { timeEmbedDim: number; projectionInputDim: number } | null;
  convInKernel: number;
  convOutKernel: number;
}

/**
 * Parses `unet/config.json`; defaults are diffusers' UNet2DConditionModel defaults. Options the
 * builder does not implement (class embeddings, Fourier time embedding, scale-shift resnets,
 * GLIGEN, dual cross-attention, …) are refused with an `unsupported-model` error naming the key.
 */
export function parseUnet2dConditionConfig(json: unknown, fileName = 'unet/config.json'): Unet2dConditionConfig {
  const c = new ConfigReader(json, fileName, 'a diffusers UNet2DConditionModel config');
  const fail = (key: string, expected: string): never => c.fail(key, expected);
  const int = (key: string, fallback: number, allowZero = false): number => c.int(key, fallback, allowZero);
  const num = (key: string, fallback: number): number => c.num(key, fallback);
  const bool = (key: string, fallback: boolean): boolean => c.bool(key, fallback);
  const optionalInt = (key: string): number | null => c.optionalInt(key);
  const only = (key: string, allowed: readonly unknown[], fallback: unknown): void => c.only(key, allowed, fallback);
  const channels = c.positiveIntList('block_out_channels', [320, 640, 1280, 1280]);
  const blockChannels = channels as number[];
  const n = blockChannels.length;
  const blockTypes = <T extends string>(key: string, allowed: readonly T[], fallback: readonly T[]): T[] => {
    const v = c.raw(key) ?? fallback;
    if (!Array.isArray(v) || v.length !== n || !v.every((t) => (allowed as readonly unknown[]).includes(t))) {
      fail(key, `${n} entries (one per block_out_channels) of ${allowed.join(', ')}`);
    }
    return v as T[];
  };
  /** A per-level setting given as one value or a list of `n`. */
  const perLevel = <T>(key: string, fallback: unknown, check: (v: unknown) => v is T, expected: string): T[] => {
    const v = c.raw(key) ?? fallback;
    if (check(v)) return Array<T>(n).fill(v);
    if (Array.isArray(v) && v.length === n && v.every(check)) return v as T[];
    return fail(key, `${expected}, or a list of ${n} of them`);
  };
  const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

  const downBlockTypes = blockTypes<UnetDownBlockType>(
    'down_block_types',
    ['CrossAttnDownBlock2D', 'DownBlock2D'],
    ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  );
  const upBlockTypes = blockTypes<UnetUpBlockType>(
    'up_block_types',
    ['CrossAttnUpBlock2D', 'UpBlock2D'],
    ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  );
  only('mid_block_type', ['UNetMidBlock2DCrossAttn', null], 'UNetMidBlock2DCrossAttn');
  only('act_fn', ['silu'], 'silu');
  only('time_embedding_type', ['positional'], 'positional');
  only('resnet_time_scale_shift', ['default'], 'default');
  only('resnet_skip_time_act', [false], false);
  only('class_embed_type', [null], null);
  only('num_class_embeds', [null], null);
  only('encoder_hid_dim_type', [null], null);
  only('attention_type', ['default'], 'default');
  only('dual_cross_attention', [false], false);
  only('cross_attention_norm', [null], null);
  only('addition_embed_type', [null, 'text_time'], null);
  only('timestep_post_act', [null, 'silu'], null);
  only('time_embedding_act_fn', [null, 'silu'], null);
  if (
    Array.isArray(c.raw('transformer_layers_per_block')) &&
    (c.raw('transformer_layers_per_block') as unknown[]).some(Array.isArray)
  ) {
    fail(
      'transformer_layers_per_block',
      'one integer per block (per-layer lists with reverse_transformer_layers_per_block are not supported)',
    );
  }
  only('reverse_transformer_layers_per_block', [null], null);

  // diffusers' naming quirk: with num_attention_heads null, attention_head_dim is the head count
  const headsKey =
    c.raw('num_attention_heads') === undefined || c.raw('num_attention_heads') === null
      ? 'attention_head_dim'
      : 'num_attention_heads';
  const heads = perLevel(headsKey, 8, isPositiveInt, 'a positive integer');
  const onlyCross = perLevel('only_cross_attention', false, isBool, 'true or false');
  const layers = perLevel('layers_per_block', 2, isPositiveInt, 'a positive integer');
  const crossDims = perLevel('cross_attention_dim', 1280, isPositiveInt, 'a positive integer');
  const transformerLayers = perLevel('transformer_layers_per_block', 1, isPositiveInt, 'a positive integer');
  const levels = blockChannels.map((outChannels, i): UnetLevel => {
    if (outChannels % heads[i]! !== 0) {
      throw new SdError(
        'unsupported-model',
        `Block ${i} of "${fileName}" has ${outChannels} channels, not divisible by its ${heads[i]} attention heads ("${headsKey}"); the config is inconsistent.`,
      );
    }
    return {
      outChannels,
      layers: layers[i]!,
      heads: heads[i]!,
      crossAttentionDim: crossDims[i]!,
      transformerLayers: transformerLayers[i]!,
      onlyCrossAttention: onlyCross[i]!,
    };
  });

  const normNumGroups = int('norm_num_groups', 32);
  const badGroups = blockChannels.find((ch) => ch % normNumGroups !== 0);
  if (badGroups !== undefined) {
    throw new SdError(
      'unsupported-model',
      `"norm_num_groups" ${normNumGroups} in "${fileName}" does not divide block channel count ${badGroups}; the config is inconsistent.`,
    );
  }
  const timestepInputDim = blockChannels[0]!;
  const timeEmbedDim = optionalInt('time_embedding_dim') ?? timestepInputDim * 4;
  let addTextTime: Unet2dConditionConfig['addTextTime'] = null;
  if (c.raw('addition_embed_type') === 'text_time') {
    const timeDim =
      optionalInt('addition_time_embed_dim') ??
      fail('addition_time_embed_dim', 'a positive integer with addition_embed_type "text_time"');
    const projDim =
      optionalInt('projection_class_embeddings_input_dim') ??
      fail('projection_class_embeddings_input_dim', 'a positive integer with addition_embed_type "text_time"');
    addTextTime = { timeEmbedDim: timeDim, projectionInputDim: projDim };
  }
  const midOnlyCross = c.raw('mid_block_only_cross_attention');
  const kernel = (key: string): number => {
    const k = int(key, 3);
    return k % 2 === 1 ? k : fail(key, 'an odd kernel size');
  };
  return {
    inChannels: int('in_channels', 4),
    outChannels: int('out_channels', 4),
    centerInputSample: bool('center_input_sample', false),
    flipSinToCos: bool('flip_sin_to_cos', true),
    freqShift: num('freq_shift', 0),
    downBlockTypes,
    upBlockTypes,
    hasMidBlock: c.raw('mid_block_type') !== null,
    // diffusers: unset follows a single boolean only_cross_attention, else false
    midBlockOnlyCrossAttention:
      typeof midOnlyCross === 'boolean'
        ? midOnlyCross
        : typeof c.raw('only_cross_attention') === 'boolean'
          ? (c.raw('only_cross_attention') as boolean)
          : false,
    levels,
    downsamplePadding: int('downsample_padding', 1, true),
    midBlockScaleFactor: num('mid_block_scale_factor', 1),
    resnetOutScaleFactor: num('resnet_out_scale_factor', 1),
    normNumGroups,
    normEps: num('norm_eps', 1e-5),
    useLinearProjection: bool('use_linear_projection', false),
    timestepInputDim,
    timeEmbedDim,
    timestepPostAct: c.raw('timestep_post_act') === 'silu',
    timeEmbeddingAct: c.raw('time_embedding_act_fn') === 'silu',
    timeCondProjDim: optionalInt('time_cond_proj_dim'),
    addTextTime,
    convInKernel: kernel('conv_in_kernel'),
    convOutKernel: kernel('conv_out_kernel'),
  };
}
