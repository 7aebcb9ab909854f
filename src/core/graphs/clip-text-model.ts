import { GraphBuilder } from '../onnx/graph-builder.ts';
import type { ClipTextConfig } from './clip-text-config.ts';
import { activation, layerNorm, linear } from './layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';

/** float32's lowest value: what transformers adds to masked attention scores. */
const MASKED_SCORE = -3.4028234663852886e38;

/** The output names of a CLIP text encoder graph, as optimum exports them. */
export interface ClipTextModelOutputs {
  lastHiddenState: 'last_hidden_state';
  pooledOutput: 'pooler_output';
  /** `hidden_states.0` (embeddings) … `hidden_states.{numHiddenLayers}` (last layer, before the final norm). */
  hiddenStates: string[];
  /** Only for `CLIPTextModelWithProjection`. */
  textEmbeds?: 'text_embeds';
}

/**
 * Builds the ONNX graph of transformers' `CLIPTextModel` / `CLIPTextModelWithProjection`, float32,
 * with the weights bound by diffusers-folder key names (`text_model.encoder.layers.N.self_attn.q_proj.weight`, …).
 *
 * Input `input_ids`: int32 [batch, S] with S = `maxPositionEmbeddings` (77).
 * Outputs (float32): `last_hidden_state` [batch, S, hidden] (after the final layer norm),
 * `pooler_output` [batch, hidden] (last_hidden_state at the pooled token: the first `eos_token_id`,
 * or the argmax of the ids when the config's eos_token_id is 2, as transformers decides it),
 * `hidden_states.N` [batch, S, hidden] for N = 0 … numHiddenLayers (0 = embeddings, before the final
 * norm: SD 2.x and SDXL take N = numHiddenLayers − 1), and `text_embeds` [batch, projectionDim]
 * (pooler_output · text_projectionᵀ) for the projection model.
 */
export function buildClipTextModel(
  config: ClipTextConfig,
  weights: SafetensorsWeights,
): { model: Uint8Array; outputs: ClipTextModelOutputs } {
  const { hiddenSize: d, maxPositionEmbeddings: seq, numAttentionHeads: heads, layerNormEps: eps } = config;
  const g = new GraphBuilder(config.withProjection ? 'clip_text_model_with_projection' : 'clip_text_model');
  const ids = g.input('input_ids', 'int32', ['batch', seq]);

  let x = g.scope('embeddings', () => {
    const tokens = weights.bind(g, 'text_model.embeddings.token_embedding.weight', [config.vocabSize, d]);
    const positions = weights.bind(g, 'text_model.embeddings.position_embedding.weight', [seq, d]);
    return g.op('Add', [g.op('Gather', [tokens, ids], { axis: 0 }), positions]);
  });
  const hiddenStates = [x];
  const mask = causalMask(g, seq);
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const prefix = `text_model.encoder.layers.${layer}`;
    x = g.scope(prefix, () => {
      const attn = selfAttention(
        g,
        weights,
        `${prefix}.self_attn`,
        layerNorm(g, weights, `${prefix}.layer_norm1`, x, d, eps),
        d,
        heads,
        mask,
      );
      const afterAttn = g.op('Add', [x, attn]);
      const h = layerNorm(g, weights, `${prefix}.layer_norm2`, afterAttn, d, eps);
      const mlp = linear(
        g,
        weights,
        `${prefix}.mlp.fc2`,
        activation(g, config.hiddenAct, linear(g, weights, `${prefix}.mlp.fc1`, h, d, config.intermediateSize)),
        config.intermediateSize,
        d,
      );
      return g.op('Add', [afterAttn, mlp]);
    });
    hiddenStates.push(x);
  }
  const last = layerNorm(g, weights, 'text_model.final_layer_norm', x, d, eps);
  const pooled = g.scope('pooler', () => poolAtEos(g, ids, last, config.eosTokenId));

  const outputs: ClipTextModelOutputs = {
    lastHiddenState: 'last_hidden_state',
    pooledOutput: 'pooler_output',
    hiddenStates: [],
  };
  if (config.withProjection) {
    const projection = weights.bind(g, 'text_projection.weight', [config.projectionDim, d]);
    const embeds = g.op('MatMul', [pooled, g.op('Transpose', [projection], { perm: [1, 0] })]);
    g.output(embeds, 'text_embeds', 'float32', ['batch', config.projectionDim]);
    outputs.textEmbeds = 'text_embeds';
  }
  g.output(last, 'last_hidden_state', 'float32', ['batch', seq, d]);
  g.output(pooled, 'pooler_output', 'float32', ['batch', d]);
  hiddenStates.forEach((h, n) => {
    g.output(h, `hidden_states.${n}`, 'float32', ['batch', seq, d]);
    outputs.hiddenStates.push(`hidden_states.${n}`);
  });
  return { model: g.toModel(), outputs };
}

/** float32 [S, S]: 0 on and below the diagonal, float32's lowest value above (a token sees only earlier ones). */
function causalMask(g: GraphBuilder, seq: number): string {
  const values: number[] = [];
  for (let row = 0; row < seq; row++) for (let col = 0; col < seq; col++) values.push(col > row ? MASKED_SCORE : 0);
  return g.constant('float32', [seq, seq], values);
}

/** CLIPAttention: x [B, S, D] → softmax(q kᵀ / √dₕ + mask) v, heads merged and projected: [B, S, D]. */
function selfAttention(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  d: number,
  heads: number,
  mask: string,
): string {
  const headDim = d / heads;
  const split = g.constant('int64', [4], [0, 0, heads, headDim]);
  const project = (name: string): string => g.op('Reshape', [linear(g, w, `${module}.${name}`, x, d, d), split]);
  const q = g.op('Transpose', [g.op('Mul', [project('q_proj'), g.constant('float32', [], [1 / Math.sqrt(headDim)])])], {
    perm: [0, 2, 1, 3],
  });
  const kT = g.op('Transpose', [project('k_proj')], { perm: [0, 2, 3, 1] });
  const v = g.op('Transpose', [project('v_proj')], { perm: [0, 2, 1, 3] });
  const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [q, kT]), mask])], { axis: -1 });
  const merged = g.op('Reshape', [
    g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }),
    g.constant('int64', [3], [0, 0, d]),
  ]);
  return linear(g, w, `${module}.out_proj`, merged, d, d);
}

/** The hidden state at the pooled token of each sequence: [B, S, D] → [B, D]. */
function poolAtEos(g: GraphBuilder, ids: string, last: string, eosTokenId: number): string {
  // ids are cast to float (exact below 2^24) because ArgMax kernels of some EPs take floats only
  const score =
    eosTokenId === 2
      ? g.op('Cast', [ids], { to: 1 })
      : g.op('Cast', [g.op('Equal', [ids, g.constant('int32', [], [eosTokenId])])], { to: 1 });
  // ArgMax returns the first index of the maximum, like torch.argmax: the first eos token
  const index = g.op('ArgMax', [score], { axis: 1, keepdims: 1 });
  return g.op('GatherND', [last, index], { batch_dims: 1 });
}
