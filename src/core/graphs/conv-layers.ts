import { float, type GraphBuilder } from '../onnx/graph-builder.ts';
import { linear } from './layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';

/**
 * The convolutional building blocks of diffusers' VAE and UNet, NCHW float32, weights
 * bound by module path.
 */

/** `nn.Conv2d`: x [B, in, H, W] → [B, out, H', W'] with a square kernel. */
export function conv2d(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  inChannels: number,
  outChannels: number,
  { kernel = 3, stride = 1, padding = (kernel - 1) / 2 }: { kernel?: number; stride?: number; padding?: number } = {},
): string {
  const weight = w.bind(g, `${module}.weight`, [outChannels, inChannels, kernel, kernel]);
  const bias = w.bind(g, `${module}.bias`, [outChannels]);
  return g.op('Conv', [x, weight, bias], {
    kernel_shape: [kernel, kernel],
    strides: [stride, stride],
    pads: [padding, padding, padding, padding],
  });
}

/** A GroupNorm's group count and epsilon, the same for every norm of a model part. */
export interface GroupNormSpec {
  groups: number;
  epsilon: number;
}

/**
 * `nn.GroupNorm` with affine weights: x [B, C, H, W] → same shape. Written as InstanceNormalization
 * over [B, groups, C/groups·H·W] (opset 17 has no GroupNormalization), then the per-channel affine.
 */
export function groupNorm(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  channels: number,
  { groups, epsilon }: GroupNormSpec,
): string {
  const grouped = g.op('Reshape', [x, g.constant('int64', [3], [0, groups, -1])]);
  const normalized = g.op(
    'InstanceNormalization',
    [
      grouped,
      g.constant('float32', [groups], Array(groups).fill(1)),
      g.constant('float32', [groups], Array(groups).fill(0)),
    ],
    {
      epsilon: float(epsilon),
    },
  );
  const restored = g.op('Reshape', [normalized, g.op('Shape', [x])]);
  const perChannel = g.constant('int64', [3], [channels, 1, 1]);
  const scale = g.op('Reshape', [w.bind(g, `${module}.weight`, [channels]), perChannel]);
  const bias = g.op('Reshape', [w.bind(g, `${module}.bias`, [channels]), perChannel]);
  return g.op('Add', [g.op('Mul', [restored, scale]), bias]);
}

/** SiLU: x · σ(x). */
export function silu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])]);
}

/** The time conditioning of a UNet resnet: SiLU(emb) [B, channels], computed once and shared by every resnet. */
export interface ResnetTimeEmbedding {
  activated: string;
  channels: number;
}

/**
 * diffusers `ResnetBlock2D` (`time_embedding_norm: "default"`): norm1 → SiLU → conv1 (+ the
 * `time_emb_proj` of the time embedding, broadcast over H and W, when given) → norm2 → SiLU →
 * conv2, plus x (through the 1×1 `conv_shortcut` when the channel count changes), divided by
 * `outputScaleFactor`. [B, in, H, W] → [B, out, H, W].
 */
export function resnetBlock(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  inChannels: number,
  outChannels: number,
  norm: GroupNormSpec,
  { time, outputScaleFactor = 1 }: { time?: ResnetTimeEmbedding; outputScaleFactor?: number } = {},
): string {
  return g.scope(module, () => {
    let h = silu(g, groupNorm(g, w, `${module}.norm1`, x, inChannels, norm));
    h = conv2d(g, w, `${module}.conv1`, h, inChannels, outChannels);
    if (time !== undefined) {
      const projected = linear(g, w, `${module}.time_emb_proj`, time.activated, time.channels, outChannels);
      h = g.op('Add', [h, g.op('Unsqueeze', [projected, g.constant('int64', [2], [2, 3])])]);
    }
    h = silu(g, groupNorm(g, w, `${module}.norm2`, h, outChannels, norm));
    h = conv2d(g, w, `${module}.conv2`, h, outChannels, outChannels);
    const shortcut =
      inChannels === outChannels
        ? x
        : conv2d(g, w, `${module}.conv_shortcut`, x, inChannels, outChannels, { kernel: 1 });
    const sum = g.op('Add', [shortcut, h]);
    return outputScaleFactor === 1 ? sum : g.op('Div', [sum, g.constant('float32', [], [outputScaleFactor])]);
  });
}

/**
 * The single-head spatial self-attention of the VAE mid block (diffusers `Attention` built from the
 * old `AttentionBlock`): group norm, softmax(q kᵀ / √C) v over the H·W positions, `to_out.0`, plus x.
 * [B, C, H, W] → same shape.
 */
export function spatialSelfAttention(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  channels: number,
  norm: GroupNormSpec,
): string {
  return g.scope(module, () => {
    const normed = groupNorm(g, w, `${module}.group_norm`, x, channels, norm);
    const tokens = g.op('Transpose', [g.op('Reshape', [normed, g.constant('int64', [3], [0, channels, -1])])], {
      perm: [0, 2, 1],
    });
    const q = g.op('Mul', [
      linear(g, w, `${module}.to_q`, tokens, channels, channels),
      g.constant('float32', [], [1 / Math.sqrt(channels)]),
    ]);
    const k = linear(g, w, `${module}.to_k`, tokens, channels, channels);
    const v = linear(g, w, `${module}.to_v`, tokens, channels, channels);
    const probs = g.op('Softmax', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 2, 1] })])], { axis: -1 });
    const out = linear(g, w, `${module}.to_out.0`, g.op('MatMul', [probs, v]), channels, channels);
    const spatial = g.op('Reshape', [g.op('Transpose', [out], { perm: [0, 2, 1] }), g.op('Shape', [x])]);
    return g.op('Add', [spatial, x]);
  });
}

/** Nearest-neighbour ×2 upsampling as torch's `F.interpolate(scale_factor=2, mode="nearest")`: [B, C, H, W] → [B, C, 2H, 2W]. */
export function upsampleNearest2x(g: GraphBuilder, x: string): string {
  return g.op('Resize', [x, '', g.constant('float32', [4], [1, 1, 2, 2])], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  });
}
