import type { WeightSource } from '../graphs/safetensors-weights.ts';

/**
 * Text-encoder weights of single-file checkpoints. Two layouts occur:
 * - transformers' (HF) `CLIPTextModel` under a prefix (`cond_stage_model.transformer.`, SDXL's
 *   `conditioner.embedders.0.transformer.`): the diffusers keys as they are;
 * - OpenCLIP's (`cond_stage_model.model.` for SD 2.x, `conditioner.embedders.1.model.` for SDXL,
 *   `conditioner.embedders.0.model.` for the SDXL refiner): renamed modules, q/k/v packed in one
 *   `in_proj_weight` [3D, D] / `in_proj_bias` [3D] (contiguous thirds), and `text_projection`
 *   stored [D, P], the transpose of diffusers' `text_projection.weight` [P, D]. SD 2.x files hold
 *   24 blocks where diffusers uses 23: the last one is never asked for.
 * As diffusers' `convert_open_clip_checkpoint` maps them.
 */

/** How a checkpoint stores one text encoder. */
export interface TextEncoderLayout {
  kind: 'hf' | 'open-clip';
  /** Key prefix in the file, ending with a dot. */
  prefix: string;
}

/** diffusers module (inside `text_model.encoder.layers.N.`) → OpenCLIP module (inside `transformer.resblocks.N.`). */
const OPEN_CLIP_LAYER_PARTS: Readonly<Record<string, string>> = {
  layer_norm1: 'ln_1',
  layer_norm2: 'ln_2',
  'mlp.fc1': 'mlp.c_fc',
  'mlp.fc2': 'mlp.c_proj',
  'self_attn.out_proj': 'attn.out_proj',
};

const OPEN_CLIP_TOP_LEVEL: Readonly<Record<string, string>> = {
  'text_model.embeddings.token_embedding.weight': 'token_embedding.weight',
  'text_model.embeddings.position_embedding.weight': 'positional_embedding',
  'text_model.final_layer_norm.weight': 'ln_final.weight',
  'text_model.final_layer_norm.bias': 'ln_final.bias',
};

const PACKED_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj'] as const;

/**
 * The {@link WeightSource} of a diffusers text-encoder key (`text_model.encoder.layers.0.self_attn.q_proj.weight`,
 * `text_projection.weight`, …) in a checkpoint with `layout`; `expectedShape` is what the graph binds.
 */
export function textEncoderSource(
  key: string,
  expectedShape: readonly number[],
  layout: TextEncoderLayout,
): WeightSource {
  if (layout.kind === 'hf') return { tensor: layout.prefix + key };
  const p = layout.prefix;
  const top = OPEN_CLIP_TOP_LEVEL[key];
  if (top !== undefined) return { tensor: p + top };
  if (key === 'text_projection.weight') return { tensor: `${p}text_projection`, transpose: true };
  const m = /^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(key);
  if (m === null) return { tensor: p + key };
  const [, layer, module, param] = m as unknown as [string, string, string, 'weight' | 'bias'];
  const block = `${p}transformer.resblocks.${layer}`;
  const packed = PACKED_PROJECTIONS.indexOf(module.replace(/^self_attn\./, '') as (typeof PACKED_PROJECTIONS)[number]);
  if (module.startsWith('self_attn.') && packed >= 0) {
    // q, k and v are consecutive thirds of the packed projection: [3D, D] weights, [3D] biases
    const count = expectedShape.reduce((a, b) => a * b, 1);
    const shape = [3 * expectedShape[0]!, ...expectedShape.slice(1)];
    return { tensor: `${block}.attn.in_proj_${param}`, shape, range: { start: packed * count, count } };
  }
  const part = OPEN_CLIP_LAYER_PARTS[module];
  return { tensor: `${block}.${part ?? module}.${param}` };
}
