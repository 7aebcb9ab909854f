import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { conv2d, groupNorm } from './conv-layers.ts';
import { activation, layerNorm, linear } from './layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';

/**
 * diffusers' `Transformer2DModel` as the UNet blocks use it (continuous input, `layer_norm`
 * blocks): GroupNorm, `proj_in`, `BasicTransformerBlock`s of self-attention, cross-attention and
 * a GEGLU feed-forward, `proj_out`, plus the input.
 */

/** diffusers builds the transformer's input GroupNorm with this epsilon; the blocks' LayerNorms use 1e-5. */
const TRANSFORMER_GROUP_NORM_EPS = 1e-6;
const BLOCK_LAYER_NORM_EPS = 1e-5;

/** Settings of one `Transformer2DModel`. */
export interface Transformer2dOptions {
  channels: number;
  heads: number;
  layers: number;
  crossAttentionDim: number;
  groups: number;
  useLinearProjection: boolean;
  onlyCrossAttention: boolean;
}

/**
 * diffusers `Attention` (no bias on q/k/v, biased `to_out.0`): softmax(q kᵀ / √dₕ) v per head.
 * x [B, N, queryDim], context [B, S, contextDim] (x itself for self-attention) → [B, N, queryDim].
 */
export function attention(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  context: string,
  queryDim: number,
  contextDim: number,
  heads: number,
): string {
  return g.scope(module, () => {
    const headDim = queryDim / heads;
    const split = g.constant('int64', [4], [0, 0, heads, headDim]);
    const q = g.op('Reshape', [linear(g, w, `${module}.to_q`, x, queryDim, queryDim, false), split]);
    const k = g.op('Reshape', [linear(g, w, `${module}.to_k`, context, contextDim, queryDim, false), split]);
    const v = g.op('Reshape', [linear(g, w, `${module}.to_v`, context, contextDim, queryDim, false), split]);
    const scaledQ = g.op('Transpose', [g.op('Mul', [q, g.constant('float32', [], [1 / Math.sqrt(headDim)])])], {
      perm: [0, 2, 1, 3],
    });
    const scores = g.op('MatMul', [scaledQ, g.op('Transpose', [k], { perm: [0, 2, 3, 1] })]);
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const attended = g.op('MatMul', [probs, g.op('Transpose', [v], { perm: [0, 2, 1, 3] })]);
    const merged = g.op('Reshape', [
      g.op('Transpose', [attended], { perm: [0, 2, 1, 3] }),
      g.constant('int64', [3], [0, 0, queryDim]),
    ]);
    return linear(g, w, `${module}.to_out.0`, merged, queryDim, queryDim);
  });
}

/** diffusers `FeedForward` with GEGLU: proj [dim → 2·4dim], hidden · GELU(gate) (exact erf GELU), then [4dim → dim]. */
function gegluFeedForward(g: GraphBuilder, w: SafetensorsWeights, module: string, x: string, dim: number): string {
  return g.scope(module, () => {
    const inner = dim * 4;
    const projected = linear(g, w, `${module}.net.0.proj`, x, dim, 2 * inner);
    const [hidden, gate] = g.opMulti('Split', [projected, g.constant('int64', [2], [inner, inner])], 2, { axis: -1 });
    const gated = g.op('Mul', [hidden!, activation(g, 'gelu', gate!)]);
    return linear(g, w, `${module}.net.2`, gated, inner, dim);
  });
}

/** `BasicTransformerBlock` (layer_norm): x += attn1(norm1 x); x += attn2(norm2 x, context); x += ff(norm3 x). [B, N, dim] → same. */
function basicTransformerBlock(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  context: string,
  dim: number,
  options: Transformer2dOptions,
): string {
  return g.scope(module, () => {
    const { heads, crossAttentionDim } = options;
    // only_cross_attention makes attn1 attend to the text too
    const first = layerNorm(g, w, `${module}.norm1`, x, dim, BLOCK_LAYER_NORM_EPS);
    const attn1 = options.onlyCrossAttention
      ? attention(g, w, `${module}.attn1`, first, context, dim, crossAttentionDim, heads)
      : attention(g, w, `${module}.attn1`, first, first, dim, dim, heads);
    let h = g.op('Add', [attn1, x]);
    const second = layerNorm(g, w, `${module}.norm2`, h, dim, BLOCK_LAYER_NORM_EPS);
    h = g.op('Add', [attention(g, w, `${module}.attn2`, second, context, dim, crossAttentionDim, heads), h]);
    const third = layerNorm(g, w, `${module}.norm3`, h, dim, BLOCK_LAYER_NORM_EPS);
    return g.op('Add', [gegluFeedForward(g, w, `${module}.ff`, third, dim), h]);
  });
}

/**
 * `Transformer2DModel` over an image: x float32 [B, C, H, W], context (`encoder_hidden_states`)
 * float32 [B, S, crossAttentionDim] → [B, C, H, W]. The 1×1 conv projections of SD 1.x and the
 * linear ones of SD 2.x/SDXL (`use_linear_projection`) are applied before/after the reshape to
 * tokens [B, H·W, C], as diffusers orders them.
 */
export function transformer2d(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  context: string,
  options: Transformer2dOptions,
): string {
  return g.scope(module, () => {
    const c = options.channels;
    const toTokens = (v: string): string =>
      g.op('Transpose', [g.op('Reshape', [v, g.constant('int64', [3], [0, c, -1])])], { perm: [0, 2, 1] });
    const normed = groupNorm(g, w, `${module}.norm`, x, c, {
      groups: options.groups,
      epsilon: TRANSFORMER_GROUP_NORM_EPS,
    });
    let tokens = options.useLinearProjection
      ? linear(g, w, `${module}.proj_in`, toTokens(normed), c, c)
      : toTokens(conv2d(g, w, `${module}.proj_in`, normed, c, c, { kernel: 1 }));
    for (let layer = 0; layer < options.layers; layer++) {
      tokens = basicTransformerBlock(g, w, `${module}.transformer_blocks.${layer}`, tokens, context, c, options);
    }
    const shape = g.op('Shape', [x]);
    const toImage = (v: string): string => g.op('Reshape', [g.op('Transpose', [v], { perm: [0, 2, 1] }), shape]);
    const out = options.useLinearProjection
      ? toImage(linear(g, w, `${module}.proj_out`, tokens, c, c))
      : conv2d(g, w, `${module}.proj_out`, toImage(tokens), c, c, { kernel: 1 });
    return g.op('Add', [out, x]);
  });
}
