import type { GraphBuilder } from '../onnx/graph-builder.ts';
import type { AutoencoderKlConfig } from './autoencoder-kl-config.ts';
import { resnetBlock, spatialSelfAttention, type GroupNormSpec } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';

/** diffusers builds the VAE's resnets, attention and output norms with this epsilon. */
const VAE_NORM_EPS = 1e-6;

/** The group norm every part of the VAE uses. */
export function vaeNorm(config: AutoencoderKlConfig): GroupNormSpec {
  return { groups: config.normNumGroups, epsilon: VAE_NORM_EPS };
}

/**
 * The resnets of one encoder or decoder level (`{block}.resnets.0…count-1`): the first takes
 * `inChannels`, every one gives `outChannels`. x [B, inChannels, H, W] → [B, outChannels, H, W].
 */
export function vaeLevelResnets(
  g: GraphBuilder,
  w: SafetensorsWeights,
  block: string,
  x: string,
  channels: { in: number; out: number; count: number },
  norm: GroupNormSpec,
): string {
  let h = x;
  for (let r = 0; r < channels.count; r++) {
    h = resnetBlock(g, w, `${block}.resnets.${r}`, h, r === 0 ? channels.in : channels.out, channels.out, norm);
  }
  return h;
}

/** The mid block shared by encoder and decoder (`{part}.mid_block`): resnet, optional attention, resnet. */
export function vaeMidBlock(
  g: GraphBuilder,
  w: SafetensorsWeights,
  part: 'encoder' | 'decoder',
  x: string,
  channels: number,
  config: AutoencoderKlConfig,
): string {
  const norm = vaeNorm(config);
  let h = resnetBlock(g, w, `${part}.mid_block.resnets.0`, x, channels, channels, norm);
  if (config.midBlockAddAttention) h = spatialSelfAttention(g, w, `${part}.mid_block.attentions.0`, h, channels, norm);
  return resnetBlock(g, w, `${part}.mid_block.resnets.1`, h, channels, channels, norm);
}
