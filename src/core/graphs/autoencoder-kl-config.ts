import { SdError } from '../errors.ts';

/**
 * A diffusers `AutoencoderKL` config (`vae/config.json`), parsed once into camelCase. Only the
 * plain architecture of SD 1.x/2.x/SDXL VAEs is supported (DownEncoderBlock2D/UpDecoderBlock2D,
 * SiLU, no spatial norm).
 */
export interface AutoencoderKlConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  /** Channels of each resolution level, from the image side; the latent is 2^(levels − 1) times smaller. */
  blockOutChannels: readonly number[];
  layersPerBlock: number;
  normNumGroups: number;
  midBlockAddAttention: boolean;
  usePostQuantConv: boolean;
  useQuantConv: boolean;
  scalingFactor: number;
  shiftFactor: number | null;
}

/** Parses `vae/config.json`; defaults are diffusers' AutoencoderKL defaults. */
export function parseAutoencoderKlConfig(json: unknown, fileName = 'vae/config.json'): AutoencoderKlConfig {
  if (typeof json !== 'object' || json === null) {
    throw new SdError(
      'unsupported-model',
      `"${fileName}" is not a JSON object; expected a diffusers AutoencoderKL config.`,
    );
  }
  const c = json as Record<string, unknown>;
  const int = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new SdError(
        'unsupported-model',
        `"${key}" in "${fileName}" is ${JSON.stringify(v)}; expected a positive integer.`,
      );
    }
    return v;
  };
  const channels = c['block_out_channels'] ?? [64];
  if (!Array.isArray(channels) || channels.length === 0 || !channels.every((v) => Number.isSafeInteger(v) && v > 0)) {
    throw new SdError(
      'unsupported-model',
      `"block_out_channels" in "${fileName}" is ${JSON.stringify(channels)}; expected a list of positive integers.`,
    );
  }
  const act = c['act_fn'] ?? 'silu';
  if (act !== 'silu')
    throw new SdError('unsupported-model', `"act_fn" in "${fileName}" is ${JSON.stringify(act)}. Expected: silu.`);
  for (const [key, allowed] of [
    ['down_block_types', 'DownEncoderBlock2D'],
    ['up_block_types', 'UpDecoderBlock2D'],
  ] as const) {
    const types = c[key];
    if (
      types !== undefined &&
      (!Array.isArray(types) || types.length !== channels.length || types.some((t) => t !== allowed))
    ) {
      throw new SdError(
        'unsupported-model',
        `"${key}" in "${fileName}" is ${JSON.stringify(types)}; expected ${channels.length} × "${allowed}".`,
      );
    }
  }
  const config: AutoencoderKlConfig = {
    inChannels: int('in_channels', 3),
    outChannels: int('out_channels', 3),
    latentChannels: int('latent_channels', 4),
    blockOutChannels: channels as number[],
    layersPerBlock: int('layers_per_block', 1),
    normNumGroups: int('norm_num_groups', 32),
    midBlockAddAttention: c['mid_block_add_attention'] !== false,
    usePostQuantConv: c['use_post_quant_conv'] !== false,
    useQuantConv: c['use_quant_conv'] !== false,
    scalingFactor: typeof c['scaling_factor'] === 'number' ? c['scaling_factor'] : 0.18215,
    shiftFactor: typeof c['shift_factor'] === 'number' ? c['shift_factor'] : null,
  };
  const badGroups = config.blockOutChannels.find((ch) => ch % config.normNumGroups !== 0);
  if (badGroups !== undefined) {
    throw new SdError(
      'unsupported-model',
      `"norm_num_groups" ${config.normNumGroups} in "${fileName}" does not divide block channel count ${badGroups}; the config is inconsistent.`,
    );
  }
  return config;
}
