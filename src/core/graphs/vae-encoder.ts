import { GraphBuilder } from '../onnx/graph-builder.ts';
import type { AutoencoderKlConfig } from './autoencoder-kl-config.ts';
import { conv2d, groupNorm, resnetBlock, silu, spatialSelfAttention } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';

/** diffusers builds the VAE's resnets, attention and output norm with this epsilon. */
const VAE_NORM_EPS = 1e-6;

/**
 * Builds the ONNX graph of diffusers' `AutoencoderKL.encode` up to the posterior's parameters
 * (`Encoder` + quant_conv), float32, weights bound by diffusers-folder keys (`encoder.down_blocks.0…`).
 *
 * Input `sample`: float32 [batch, inChannels, H, W] in [-1, 1], H and W multiples of 2^(levels − 1).
 * Output `latent_parameters`: float32 [batch, 2·latentChannels, H/f, W/f], the posterior mean in
 * the first `latentChannels` channels and its log-variance in the rest (as optimum's exports name
 * it); the pipeline samples and applies the scaling factor.
 */
export function buildVaeEncoder(config: AutoencoderKlConfig, weights: SafetensorsWeights): Uint8Array {
  const { blockOutChannels: channels, normNumGroups: groups, latentChannels } = config;
  const g = new GraphBuilder('vae_encoder');
  let x = g.input('sample', 'float32', ['batch', config.inChannels, 'height', 'width']);
  x = conv2d(g, weights, 'encoder.conv_in', x, config.inChannels, channels[0]!);

  let inChannels = channels[0]!;
  channels.forEach((outChannels, level) => {
    const block = `encoder.down_blocks.${level}`;
    for (let r = 0; r < config.layersPerBlock; r++) {
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
    if (level < channels.length - 1) {
      // diffusers pads right and bottom by one, then convolves with stride 2 and no padding
      const padded = g.op('Pad', [x, g.constant('int64', [8], [0, 0, 0, 0, 0, 0, 1, 1])], { mode: 'constant' });
      x = conv2d(g, weights, `${block}.downsamplers.0.conv`, padded, outChannels, outChannels, {
        stride: 2,
        padding: 0,
      });
    }
    inChannels = outChannels;
  });

  const top = channels.at(-1)!;
  x = resnetBlock(g, weights, 'encoder.mid_block.resnets.0', x, top, top, groups, VAE_NORM_EPS);
  if (config.midBlockAddAttention)
    x = spatialSelfAttention(g, weights, 'encoder.mid_block.attentions.0', x, top, groups, VAE_NORM_EPS);
  x = resnetBlock(g, weights, 'encoder.mid_block.resnets.1', x, top, top, groups, VAE_NORM_EPS);
  x = silu(g, groupNorm(g, weights, 'encoder.conv_norm_out', x, top, groups, VAE_NORM_EPS));
  x = conv2d(g, weights, 'encoder.conv_out', x, top, 2 * latentChannels);
  if (config.useQuantConv)
    x = conv2d(g, weights, 'quant_conv', x, 2 * latentChannels, 2 * latentChannels, { kernel: 1 });
  g.output(x, 'latent_parameters', 'float32', ['batch', 2 * latentChannels, 'latent_height', 'latent_width']);
  return g.toModel();
}
