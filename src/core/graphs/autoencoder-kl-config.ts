import { SdError } from '../errors.ts';
import { ConfigReader } from './config-reader.ts';

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
  const c = new ConfigReader(json, fileName, 'a diffusers AutoencoderKL config');
  const int = (key: string, fallback: number): number => c.int(key, fallback);
  const channels = c.positiveIntList('block_out_channels', [64]);
  c.only('act_fn', ['silu'], 'silu');
  for (const [key, allowed] of [
    ['down_block_types', 'DownEncoderBlock2D'],
    ['up_block_types', 'UpDecoderBlock2D'],
  ] as const) {
    const types = c.raw(key);
    if (
      types !== undefined &&
      (!Array.isArray(types) || types.length !== channels.length || types.some((t) => t !== allowed))
    ) {
      c.fail(key, `${channels.length} × "${allowed}"`);
    }
  }
  const scaling = c.raw('scaling_factor');
  const shift = c.raw('shift_factor');
  const config: AutoencoderKlConfig = {
    inChannels: int('in_channels', 3),
    outChannels: int('out_channels', 3),
    latentChannels: int('latent_channels', 4),
    blockOutChannels: channels,
    layersPerBlock: int('layers_per_block', 1),
    normNumGroups: int('norm_num_groups', 32),
    midBlockAddAttention: c.raw('mid_block_add_attention') !== false,
    usePostQuantConv: c.raw('use_post_quant_conv') !== false,
    useQuantConv: c.raw('use_quant_conv') !== false,
    scalingFactor: typeof scaling === 'number' ? scaling : 0.18215,
    shiftFactor: typeof shift === 'number' ? shift : null,
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
