import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { conv2d, resnetBlock, type ResnetTimeEmbedding } from './conv-layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import type { Unet2dConditionConfig, UnetLevel } from './unet-config.ts';
import { transformer2d } from './unet-transformer.ts';

/**
 * The down, mid and up blocks of diffusers' `UNet2DConditionModel` (`CrossAttnDownBlock2D` /
 * `DownBlock2D`, `UNetMidBlock2DCrossAttn`, `CrossAttnUpBlock2D` / `UpBlock2D`), NCHW float32.
 */

/** What every block reads besides its input. */
export interface UnetBlockContext {
  g: GraphBuilder;
  w: SafetensorsWeights;
  config: Unet2dConditionConfig;
  time: ResnetTimeEmbedding;
  /** `encoder_hidden_states` float32 [B, S, crossAttentionDim]. */
  context: string;
}

function levelTransformer(
  ctx: UnetBlockContext,
  module: string,
  x: string,
  level: UnetLevel,
  channels: number,
  onlyCrossAttention: boolean,
): string {
  return transformer2d(ctx.g, ctx.w, module, x, ctx.context, {
    channels,
    heads: level.heads,
    layers: level.transformerLayers,
    crossAttentionDim: level.crossAttentionDim,
    groups: ctx.config.normNumGroups,
    useLinearProjection: ctx.config.useLinearProjection,
    onlyCrossAttention,
  });
}

/**
 * Down block `index`: `layers` × (resnet [+ transformer]), then a stride-2 3×3 conv unless it is
 * the last level. x [B, inChannels, H, W] → [B, out, H/2, W/2] (H, W at the last level); `skips`
 * receives every layer's output and the downsampled one, for the up blocks.
 */
export function downBlock(
  ctx: UnetBlockContext,
  index: number,
  x: string,
  inChannels: number,
  skips: string[],
): string {
  const { g, w, config } = ctx;
  const level = config.levels[index]!;
  const module = `down_blocks.${index}`;
  return g.scope(module, () => {
    let h = x;
    for (let layer = 0; layer < level.layers; layer++) {
      const channelsIn = layer === 0 ? inChannels : level.outChannels;
      h = resnetBlock(
        g,
        w,
        `${module}.resnets.${layer}`,
        h,
        channelsIn,
        level.outChannels,
        { groups: config.normNumGroups, epsilon: config.normEps },
        {
          time: ctx.time,
          outputScaleFactor: config.resnetOutScaleFactor,
        },
      );
      if (config.downBlockTypes[index] === 'CrossAttnDownBlock2D') {
        h = levelTransformer(
          ctx,
          `${module}.attentions.${layer}`,
          h,
          level,
          level.outChannels,
          level.onlyCrossAttention,
        );
      }
      skips.push(h);
    }
    if (index < config.levels.length - 1) {
      const padding = config.downsamplePadding;
      h = conv2d(g, w, `${module}.downsamplers.0.conv`, h, level.outChannels, level.outChannels, {
        stride: 2,
        padding,
      });
      skips.push(h);
    }
    return h;
  });
}

/** `UNetMidBlock2DCrossAttn` (one layer): resnet, then transformer + resnet. [B, C, h, w] → same. */
export function midBlock(ctx: UnetBlockContext, x: string): string {
  const { g, w, config } = ctx;
  const level = config.levels.at(-1)!;
  const c = level.outChannels;
  const resnet = (i: number, v: string): string =>
    resnetBlock(
      g,
      w,
      `mid_block.resnets.${i}`,
      v,
      c,
      c,
      { groups: config.normNumGroups, epsilon: config.normEps },
      {
        time: ctx.time,
        outputScaleFactor: config.midBlockScaleFactor,
      },
    );
  return g.scope('mid_block', () =>
    resnet(
      1,
      levelTransformer(ctx, 'mid_block.attentions.0', resnet(0, x), level, c, config.midBlockOnlyCrossAttention),
    ),
  );
}

/**
 * Up block `index` (index 0 is the deepest level): `layers + 1` × (concat the last skip on the
 * channel axis, resnet [+ transformer]), then nearest ×2 upsampling to the next skip's size and a
 * 3×3 conv, unless it is the last block. Consumes skips from the end of `skips`.
 * x [B, prevChannels, h, w] → [B, out, 2h, 2w] (h, w for the last block).
 */
export function upBlock(
  ctx: UnetBlockContext,
  index: number,
  x: string,
  skips: string[],
  skipChannels: number[],
): string {
  const { g, w, config } = ctx;
  const count = config.levels.length;
  const level = config.levels[count - 1 - index]!;
  const module = `up_blocks.${index}`;
  return g.scope(module, () => {
    let h = x;
    let channels = index === 0 ? level.outChannels : config.levels[count - index]!.outChannels;
    for (let layer = 0; layer <= level.layers; layer++) {
      const skip = skips.pop()!;
      const skipC = skipChannels.pop()!;
      h = g.op('Concat', [h, skip], { axis: 1 });
      h = resnetBlock(
        g,
        w,
        `${module}.resnets.${layer}`,
        h,
        channels + skipC,
        level.outChannels,
        { groups: config.normNumGroups, epsilon: config.normEps },
        {
          time: ctx.time,
          outputScaleFactor: config.resnetOutScaleFactor,
        },
      );
      channels = level.outChannels;
      if (config.upBlockTypes[index] === 'CrossAttnUpBlock2D') {
        h = levelTransformer(ctx, `${module}.attentions.${layer}`, h, level, channels, level.onlyCrossAttention);
      }
    }
    if (index < count - 1) {
      // to the size of the skip it meets next: 2× when the latent divides evenly, as diffusers' upsample_size otherwise
      const target = g.op(
        'Concat',
        [
          g.op('Slice', [g.op('Shape', [h]), g.constant('int64', [1], [0]), g.constant('int64', [1], [2])]),
          g.op('Slice', [g.op('Shape', [skips.at(-1)!]), g.constant('int64', [1], [2]), g.constant('int64', [1], [4])]),
        ],
        { axis: 0 },
      );
      const upsampled = g.op('Resize', [h, '', '', target], {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      });
      h = conv2d(g, w, `${module}.upsamplers.0.conv`, upsampled, channels, channels);
    }
    return h;
  });
}
