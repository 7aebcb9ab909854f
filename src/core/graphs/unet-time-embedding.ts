import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { silu } from './conv-layers.ts';
import { linear } from './layers.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';
import type { Unet2dConditionConfig } from './unet-config.ts';

/**
 * The UNet's conditioning vector: sinusoidal timestep features through diffusers'
 * `TimestepEmbedding` MLP, plus SDXL's `text_time` added embedding, as `UNet2DConditionModel`
 * computes `emb` before the blocks.
 */

/**
 * The DDPM sinusoidal features of diffusers' `Timesteps`: for frequencies
 * fᵢ = exp(−ln(10000) · i / (half − freqShift)), i < half = dim/2, the features are
 * [sin(t·f), cos(t·f)] (or [cos, sin] with `flipSinToCos`), zero-padded when `dim` is odd.
 * t: float32 [N] (fractional timesteps allowed) → float32 [N, dim].
 */
export function sinusoidalFeatures(
  g: GraphBuilder,
  t: string,
  dim: number,
  flipSinToCos: boolean,
  freqShift: number,
): string {
  const half = Math.floor(dim / 2);
  // torch computes the exponents and exponentials in float32; round each step the same way
  const frequencies = Array.from({ length: half }, (_, i) =>
    Math.fround(Math.exp(Math.fround(Math.fround(-Math.log(10000) * i) / (half - freqShift)))),
  );
  const angles = g.op('Mul', [
    g.op('Unsqueeze', [t, g.constant('int64', [1], [1])]),
    g.constant('float32', [1, half], frequencies),
  ]);
  const sin = g.op('Sin', [angles]);
  const cos = g.op('Cos', [angles]);
  const features = g.op('Concat', flipSinToCos ? [cos, sin] : [sin, cos], { axis: 1 });
  return dim % 2 === 0
    ? features
    : g.op('Pad', [features, g.constant('int64', [4], [0, 0, 0, 1])], { mode: 'constant' });
}

/** diffusers `TimestepEmbedding`: [N, in] → linear_1 → SiLU → linear_2 (→ SiLU with a post activation) → [N, out]. */
function timestepEmbeddingMlp(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  mlp: { inFeatures: number; outFeatures: number; postAct: boolean },
): string {
  const { inFeatures, outFeatures, postAct } = mlp;
  const hidden = silu(g, linear(g, w, `${module}.linear_1`, x, inFeatures, outFeatures));
  const out = linear(g, w, `${module}.linear_2`, hidden, outFeatures, outFeatures);
  return postAct ? silu(g, out) : out;
}

/** The graph inputs the time embedding reads. */
export interface TimeEmbeddingInputs {
  /** float32 [B] (or [1], broadcast to the batch of `sample`). */
  timestep: string;
  /** The `sample` input, for its batch size. */
  sample: string;
  /** LCM guidance features float32 [B, timeCondProjDim], when the config has `time_cond_proj_dim`. */
  timestepCond?: string;
  /** SDXL pooled text embedding float32 [B, projectionInputDim − 6·timeEmbedDim]. */
  textEmbeds?: string;
  /** SDXL size/crop conditioning float32 [B, 6]. */
  timeIds?: string;
}

/**
 * `emb` of `UNet2DConditionModel.forward`: time_embedding(time_proj(t), timestep_cond) + the
 * `text_time` add_embedding(concat(text_embeds, add_time_proj(time_ids) per id)), then the optional
 * `time_embedding_act_fn`. Returns float32 [B, timeEmbedDim].
 */
export function unetTimeEmbedding(
  g: GraphBuilder,
  w: SafetensorsWeights,
  config: Unet2dConditionConfig,
  inputs: TimeEmbeddingInputs,
): string {
  return g.scope('time_embedding', () => {
    const batch = g.op('Slice', [
      g.op('Shape', [inputs.sample]),
      g.constant('int64', [1], [0]),
      g.constant('int64', [1], [1]),
    ]);
    const t = g.op('Expand', [inputs.timestep, batch]);
    let features = sinusoidalFeatures(g, t, config.timestepInputDim, config.flipSinToCos, config.freqShift);
    if (config.timeCondProjDim !== null && inputs.timestepCond !== undefined) {
      features = g.op('Add', [
        features,
        linear(
          g,
          w,
          'time_embedding.cond_proj',
          inputs.timestepCond,
          config.timeCondProjDim,
          config.timestepInputDim,
          false,
        ),
      ]);
    }
    let emb = timestepEmbeddingMlp(g, w, 'time_embedding', features, {
      inFeatures: config.timestepInputDim,
      outFeatures: config.timeEmbedDim,
      postAct: config.timestepPostAct,
    });
    const textTime = config.addTextTime;
    if (textTime !== null && inputs.textEmbeds !== undefined && inputs.timeIds !== undefined) {
      const perId = sinusoidalFeatures(
        g,
        g.op('Reshape', [inputs.timeIds, g.constant('int64', [1], [-1])]),
        textTime.timeEmbedDim,
        config.flipSinToCos,
        config.freqShift,
      );
      const timeEmbeds = g.op('Reshape', [perId, g.op('Concat', [batch, g.constant('int64', [1], [-1])], { axis: 0 })]);
      const added = g.op('Concat', [inputs.textEmbeds, timeEmbeds], { axis: 1 });
      emb = g.op('Add', [
        emb,
        timestepEmbeddingMlp(g, w, 'add_embedding', added, {
          inFeatures: textTime.projectionInputDim,
          outFeatures: config.timeEmbedDim,
          postAct: false,
        }),
      ]);
    }
    return config.timeEmbeddingAct ? silu(g, emb) : emb;
  });
}
