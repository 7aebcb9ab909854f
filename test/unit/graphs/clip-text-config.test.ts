import { describe, expect, it } from 'vitest';
import { parseClipTextConfig } from '../../../src/core/graphs/clip-text-config.ts';

describe('parseClipTextConfig', () => {
  it('reads a CLIPTextModelWithProjection config into camelCase', () => {
    const config = parseClipTextConfig({
      architectures: ['CLIPTextModelWithProjection'],
      hidden_size: 1280,
      intermediate_size: 5120,
      num_attention_heads: 20,
      num_hidden_layers: 32,
      hidden_act: 'gelu',
      layer_norm_eps: 1e-5,
      projection_dim: 1280,
      eos_token_id: 49407,
      max_position_embeddings: 77,
    });
    expect(config).toMatchObject({
      hiddenSize: 1280,
      numHiddenLayers: 32,
      hiddenAct: 'gelu',
      projectionDim: 1280,
      eosTokenId: 49407,
      withProjection: true,
      vocabSize: 49408,
    });
  });

  it('uses transformers defaults and refuses what the graph cannot build', () => {
    expect(parseClipTextConfig({}).eosTokenId).toBe(2);
    expect(() => parseClipTextConfig({ hidden_act: 'relu' })).toThrow(
      /"hidden_act" in "text_encoder\/config.json" is "relu"; expected one of quick_gelu, gelu/,
    );
    expect(() => parseClipTextConfig({ hidden_size: 10, num_attention_heads: 4 })).toThrow(
      /"hidden_size" 10 .* not divisible by "num_attention_heads" 4/,
    );
    expect(() => parseClipTextConfig({ num_hidden_layers: 0 })).toThrow(
      /"num_hidden_layers" .* is 0; expected a positive integer/,
    );
  });
});
