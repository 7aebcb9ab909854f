import { ConfigReader } from './config-reader.ts';
import { parseUnet2dConditionConfig, type Unet2dConditionConfig } from './unet-config.ts';

/**
 * A diffusers `ControlNetModel` config: the encoder half of a UNet (parsed as a
 * {@link Unet2dConditionConfig}, whose up-block settings are unused) plus the conditioning image
 * encoder (`controlnet_cond_embedding`).
 */
export interface ControlNetConfig {
  unet: Unet2dConditionConfig;
  /** Channels of the control image (3: RGB). */
  conditioningChannels: number;
  /** Output channels of the conditioning embedding's convolutions, one per resolution (diffusers default [16, 32, 96, 256]). */
  conditioningEmbeddingOutChannels: readonly number[];
  /** `bgr` models want the image's channels reversed. */
  channelOrder: 'rgb' | 'bgr';
}

/** The ControlNet's conditioning-embedding settings, which a UNet config does not have. */
export type ControlNetCondSettings = Omit<ControlNetConfig, 'unet'>;

const UP_TYPE = { CrossAttnDownBlock2D: 'CrossAttnUpBlock2D', DownBlock2D: 'UpBlock2D' } as const;

/**
 * Parses a ControlNet's `config.json` (diffusers `ControlNetModel`); options the builder does not
 * implement (`global_pool_conditions`, class embeddings, …) are refused naming the key.
 */
export function parseControlNetConfig(json: unknown, fileName = 'config.json'): ControlNetConfig {
  const c = new ConfigReader(json, fileName, 'a diffusers ControlNetModel config');
  c.only('global_pool_conditions', [false], false);
  c.only('controlnet_conditioning_channel_order', ['rgb', 'bgr'], 'rgb');
  const down = c.raw('down_block_types');
  // a ControlNet has no up blocks: give the UNet parser the mirror of the down blocks so it accepts any depth
  const upBlockTypes = Array.isArray(down)
    ? [...down].reverse().map((t) => UP_TYPE[t as keyof typeof UP_TYPE] ?? t)
    : undefined;
  const unet = parseUnet2dConditionConfig(
    { ...(json as Record<string, unknown>), up_block_types: upBlockTypes, out_channels: c.raw('in_channels') },
    fileName,
  );
  return {
    unet,
    conditioningChannels: c.int('conditioning_channels', 3),
    conditioningEmbeddingOutChannels: c.positiveIntList('conditioning_embedding_out_channels', [16, 32, 96, 256]),
    channelOrder: c.valueOr('controlnet_conditioning_channel_order', 'rgb') === 'bgr' ? 'bgr' : 'rgb',
  };
}
