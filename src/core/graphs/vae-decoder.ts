import { GraphBuilder } from '../onnx/graph-builder.ts';
import type { AutoencoderKlConfig } from './autoencoder-kl-config.ts';
import { conv2d, groupNorm, resnetBlock, silu, spatialSelfAttention, upsampleNearest2x } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';

/** diffusers builds the VAE's resnets, attention and output norm with this epsilon. */
const VAE_NORM_EPS = 1e-6;

/**
 * Builds the ONNX graph of diffusers' `AutoencoderKL.decode` (post_quant_conv + `Decoder`), float32,
 * weights bound by diffusers-folder keys (`decoder.up_blocks.0.resnets.0.conv1.weight`, …).
 *
 * Input `latent_sample`: float32 [batch, latentChannels, h, w], already divided by the scaling
 * factor (as diffusers' ONNX `vae_decoder`). Output `sample`: float32 [batch, outChannels, h·f, w·f]
 * in [-1, 1] (roughly), f = 2^(levels − 1) = 8 for Stable Diffusion.
 */
export function buildVaeDecoder(config: AutoencoderKlConfig, weights: SafetensorsWeights): Uint8Array {
  const { blockOutChannels: channels, normNumGroups: groups, latentChannels } = config;
  const g = new GraphBuilder('vae_decoder');
  let x = g.input('latent_sample', 'float32', ['batch', latentChannels, 'latent_height', 'latent_width']);
  if (config.usePostQuantConv)
    x = conv2d(g, weights, 'post_quant_conv', x, latentChannels, latentChannels, { kernel: 1 });

  const top = channels.at(-1)!;
  x = conv2d(g, weights, 'decoder.conv_in', x, latentChannels, top);
  x = resnetBlock(g, weights, 'decoder.mid_block.resnets.0', x, top, top, groups, VAE_NORM_EPS);
  if (config.midBlockAddAttention)
    x = spatialSelfAttention(g, weights, 'decoder.mid_block.attentions.0', x, top, groups, VAE_NORM_EPS);
  x = resnetBlock(g, weights, 'decoder.mid_block.resnets.1', x, top, top, groups, VAE_NORM_EPS);

  const reversed = [...channels].reverse();
  let inChannels = top;
  reversed.forEach((outChannels, level) => {
    const block = `decoder.up_blocks.${level}`;
    for (let r = 0; r <= config.layersPerBlock; r++) {
      x = resnetBlock(
        g,
        weights,
        `${block}.resnets.${r}`,
        x,
        r === 0 ? inChannels : outChannels,
        outChannels,
        groups,
        VAE_NORM_EPS,
      );
    }
    if (level < reversed.length - 1)
      x = conv2d(g, weights, `${block}.upsamplers.0.conv`, upsampleNearest2x(g, x), outChannels, outChannels);
    inChannels = outChannels;
  });

  const bottom = channels[0]!;
  x = silu(g, groupNorm(g, weights, 'decoder.conv_norm_out', x, bottom, groups, VAE_NORM_EPS));
  x = conv2d(g, weights, 'decoder.conv_out', x, bottom, config.outChannels);
  g.output(x, 'sample', 'float32', ['batch', config.outChannels, 'height', 'width']);
  return g.toModel();
}
