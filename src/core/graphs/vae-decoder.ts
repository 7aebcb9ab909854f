import { GraphBuilder } from '../onnx/graph-builder.ts';
import type { AutoencoderKlConfig } from './autoencoder-kl-config.ts';
import { conv2d, groupNorm, silu, upsampleNearest2x } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import { vaeLevelResnets, vaeMidBlock, vaeNorm } from './vae-blocks.ts';

/**
 * Builds the ONNX graph of diffusers' `AutoencoderKL.decode` (post_quant_conv + `Decoder`), float32,
 * weights bound by diffusers-folder keys (`decoder.up_blocks.0.resnets.0.conv1.weight`, …).
 *
 * Input `latent_sample`: float32 [batch, latentChannels, h, w], already divided by the scaling
 * factor (as diffusers' ONNX `vae_decoder`). Output `sample`: float32 [batch, outChannels, h·f, w·f]
 * in [-1, 1] (roughly), f = 2^(levels − 1) = 8 for Stable Diffusion.
 */
export function buildVaeDecoder(config: AutoencoderKlConfig, weights: SafetensorsWeights): Uint8Array {
  const { blockOutChannels: channels, latentChannels } = config;
  const norm = vaeNorm(config);
  const g = new GraphBuilder('vae_decoder');
  let x = g.input('latent_sample', 'float32', ['batch', latentChannels, 'latent_height', 'latent_width']);
  if (config.usePostQuantConv)
    x = conv2d(g, weights, 'post_quant_conv', x, latentChannels, latentChannels, { kernel: 1 });

  const top = channels.at(-1)!;
  x = conv2d(g, weights, 'decoder.conv_in', x, latentChannels, top);
  x = vaeMidBlock(g, weights, 'decoder', x, top, config);

  const reversed = [...channels].reverse();
  let inChannels = top;
  reversed.forEach((outChannels, level) => {
    const block = `decoder.up_blocks.${level}`;
    x = vaeLevelResnets(
      g,
      weights,
      block,
      x,
      { in: inChannels, out: outChannels, count: config.layersPerBlock + 1 },
      norm,
    );
    if (level < reversed.length - 1)
      x = conv2d(g, weights, `${block}.upsamplers.0.conv`, upsampleNearest2x(g, x), outChannels, outChannels);
    inChannels = outChannels;
  });

  const bottom = channels[0]!;
  x = silu(g, groupNorm(g, weights, 'decoder.conv_norm_out', x, bottom, norm));
  x = conv2d(g, weights, 'decoder.conv_out', x, bottom, config.outChannels);
  g.output(x, 'sample', 'float32', ['batch', config.outChannels, 'height', 'width']);
  return g.toModel();
}
