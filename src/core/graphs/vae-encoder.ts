import { GraphBuilder } from '../onnx/graph-builder.ts';
import type { AutoencoderKlConfig } from './autoencoder-kl-config.ts';
import { conv2d, groupNorm, silu } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import { vaeLevelResnets, vaeMidBlock, vaeNorm } from './vae-blocks.ts';

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
  const { blockOutChannels: channels, latentChannels } = config;
  const norm = vaeNorm(config);
  const g = new GraphBuilder('vae_encoder');
  let x = g.input('sample', 'float32', ['batch', config.inChannels, 'height', 'width']);
  x = conv2d(g, weights, 'encoder.conv_in', x, config.inChannels, channels[0]!);

  let inChannels = channels[0]!;
  channels.forEach((outChannels, level) => {
    const block = `encoder.down_blocks.${level}`;
    x = vaeLevelResnets(g, weights, block, x, { in: inChannels, out: outChannels, count: config.layersPerBlock }, norm);
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
  x = vaeMidBlock(g, weights, 'encoder', x, top, config);
  x = silu(g, groupNorm(g, weights, 'encoder.conv_norm_out', x, top, norm));
  x = conv2d(g, weights, 'encoder.conv_out', x, top, 2 * latentChannels);
  if (config.useQuantConv)
    x = conv2d(g, weights, 'quant_conv', x, 2 * latentChannels, 2 * latentChannels, { kernel: 1 });
  g.output(x, 'latent_parameters', 'float32', ['batch', 2 * latentChannels, 'latent_height', 'latent_width']);
  return g.toModel();
}
