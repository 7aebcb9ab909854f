import { SdError } from '../errors.ts';
import { ConfigReader } from './config-reader.ts';

/** Activations of the CLIP MLP (transformers' `hidden_act`). */
export type ClipActivation = 'quick_gelu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh';
const ACTIVATIONS: readonly ClipActivation[] = ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'];

/**
 * A transformers `CLIPTextConfig` (the `config.json` of a diffusers `text_encoder` folder), parsed
 * once into camelCase. `withProjection` is true for `CLIPTextModelWithProjection` (SDXL's second
 * encoder), which adds `text_projection` and the `text_embeds` output.
 */
export interface ClipTextConfig {
  hiddenSize: number;
  intermediateSize: number;
  numAttentionHeads: number;
  numHiddenLayers: number;
  /** Also the sequence length of the graph's `input_ids` (77 for every Stable Diffusion encoder). */
  maxPositionEmbeddings: number;
  vocabSize: number;
  hiddenAct: ClipActivation;
  layerNormEps: number;
  projectionDim: number;
  /** Pooling index rule: 2 (old OpenAI configs) pools at argmax(input_ids), otherwise at the first eos token. */
  eosTokenId: number;
  withProjection: boolean;
}

/**
 * Parses a `text_encoder/config.json` object. Defaults are transformers' CLIPTextConfig defaults;
 * `withProjection` follows `architectures` unless given.
 */
export function parseClipTextConfig(
  json: unknown,
  fileName = 'text_encoder/config.json',
  withProjection?: boolean,
): ClipTextConfig {
  const c = new ConfigReader(json, fileName, 'a transformers CLIPTextConfig');
  const int = (key: string, fallback: number): number => c.int(key, fallback);
  const act = c.valueOr('hidden_act', 'quick_gelu');
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act))
    c.fail('hidden_act', `one of ${ACTIVATIONS.join(', ')}`);
  const eps = c.valueOr('layer_norm_eps', 1e-5);
  if (typeof eps !== 'number' || !(eps > 0)) c.fail('layer_norm_eps', 'a positive number');
  const declared = c.raw('architectures');
  const architectures = Array.isArray(declared) ? (declared as unknown[]) : [];
  const config: ClipTextConfig = {
    hiddenSize: int('hidden_size', 512),
    intermediateSize: int('intermediate_size', 2048),
    numAttentionHeads: int('num_attention_heads', 8),
    numHiddenLayers: int('num_hidden_layers', 12),
    maxPositionEmbeddings: int('max_position_embeddings', 77),
    vocabSize: int('vocab_size', 49408),
    hiddenAct: act as ClipActivation,
    layerNormEps: eps as number,
    projectionDim: int('projection_dim', 512),
    eosTokenId: int('eos_token_id', 2),
    withProjection: withProjection ?? architectures.includes('CLIPTextModelWithProjection'),
  };
  if (config.hiddenSize % config.numAttentionHeads !== 0) {
    throw new SdError(
      'unsupported-model',
      `"hidden_size" ${config.hiddenSize} in "${fileName}" is not divisible by "num_attention_heads" ${config.numAttentionHeads}; the config is inconsistent.`,
    );
  }
  return config;
}
