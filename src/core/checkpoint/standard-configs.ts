import sd15 from './configs/sd15.json';
import sd2Base from './configs/sd2-512-base.json';
import sd2V from './configs/sd2-768-v.json';
import sdxlBase from './configs/sdxl-base.json';
import sdxlRefiner from './configs/sdxl-refiner.json';
import type { CheckpointArchitecture } from './architecture.ts';

/**
 * The config.json files of a diffusers pipeline folder, by component folder name, as raw JSON
 * (each component's parser reads it). What diffusers' `from_single_file(..., config=DIR)` takes.
 */
export interface PipelineConfigJson {
  /** `model_index.json`: the pipeline class and its flags (`force_zeros_for_empty_prompt`, `requires_aesthetics_score`). */
  model_index?: unknown;
  unet?: unknown;
  vae?: unknown;
  text_encoder?: unknown;
  text_encoder_2?: unknown;
  /** `scheduler/scheduler_config.json`. */
  scheduler?: unknown;
}

/** A built-in pipeline config (data files in `configs/`, copied from the official repositories' config.json files). */
export interface StandardConfig {
  /** The Hub repository diffusers fetches this config from. */
  source: string;
  description: string;
  json: PipelineConfigJson;
}

/** A data file: the pipeline's component configs at top level, with where they come from. */
type StandardConfigData = PipelineConfigJson & { source: string; description: string };

/** Noise-prediction targets a checkpoint can be trained for. */
export type PredictionType = 'epsilon' | 'v_prediction';

/**
 * The standard config of a detected family, as diffusers' `fetch_diffusers_config` chooses it:
 * every SD 2.x single file gets stable-diffusion-2-1 (768 px, v-prediction), since a safetensors
 * file carries no `global_step` to tell the 512 base model apart; `predictionType: 'epsilon'`
 * picks the base model's config instead. Inpainting checkpoints get the same config with 9 UNet
 * input channels (SD 2.x inpainting is an epsilon model, as stable-diffusion-2-inpainting).
 */
export function standardConfig(
  architecture: CheckpointArchitecture,
  isInpainting: boolean,
  predictionType?: PredictionType,
): StandardConfig {
  const data = ((): StandardConfigData => {
    switch (architecture) {
      case 'sd1':
        return sd15;
      case 'sd2':
        return predictionType === 'epsilon' || isInpainting ? sd2Base : sd2V;
      case 'sdxl-base':
        return sdxlBase;
      case 'sdxl-refiner':
        return sdxlRefiner;
    }
  })();
  const base: StandardConfig = { source: data.source, description: data.description, json: data };
  if (!isInpainting) return base;
  return {
    ...base,
    description: `${base.description}, inpainting`,
    json: { ...base.json, unet: { ...(base.json.unet as object), in_channels: 9 } },
  };
}
