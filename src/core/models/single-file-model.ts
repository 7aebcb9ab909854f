import { resolveSingleFileCheckpoint, type CheckpointComponent } from '../checkpoint/single-file-checkpoint.ts';
import type { PipelineConfigJson, PredictionType } from '../checkpoint/standard-configs.ts';
import { SdError } from '../errors.ts';
import type { Unet2dConditionConfig } from '../graphs/unet-config.ts';
import type { LoraSet } from '../lora/lora-set.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { buildComponentGraph, type ComponentSpec } from './component-graph.ts';
import type { ConvertedStore } from './component-weights.ts';
import { builtModelFiles } from './built-model-files.ts';
import { DEFAULT_SCHEDULERS } from './default-scheduler-configs.ts';
import { readJson, type ComponentGraph, type ModelFiles } from './model-files.ts';
import type { WeightsFile } from './weights-file.ts';

/** Options of {@link openSingleFileModel} and {@link openSafetensorsFolder}. */
export interface BuiltModelOptions {
  /** Overrides the prediction type (SD 2.x: `epsilon` picks the 512 px base config for a single file). */
  predictionType?: PredictionType;
  /** Where converted float32 weights are kept (default: memory). */
  convertedStore?: ConvertedStore;
  /** LoRAs merged into the text encoders' and UNet's weights as their graphs are built. */
  loras?: LoraSet;
  /** Builds the UNet with ControlNet residual inputs (`down_block_additional_residual_N`, `mid_block_additional_residual`). */
  controlResiduals?: boolean;
}

/** Options of {@link openSingleFileModel}. */
export interface SingleFileModelOptions extends BuiltModelOptions {
  /** A diffusers folder whose configs, tokenizers and scheduler describe the checkpoint (diffusers' `config=`). */
  config?: ModelFiles;
}

/** A model built from safetensors, as the loader reads it, and one line saying what it is. */
export interface BuiltModel {
  files: ModelFiles;
  /** e.g. "single-file SD 1.x checkpoint, config stable-diffusion-v1-5/stable-diffusion-v1-5, epsilon prediction". */
  description: string;
  /** The UNet's config and SDXL text_embeds width: what a ControlNet for this model is checked against (`ControlNetModel.from_unet`). */
  baseUnet(): Promise<BaseUnet>;
}

/** The UNet a ControlNet must fit. */
export interface BaseUnet {
  config: Unet2dConditionConfig;
  textEmbedsDim?: number;
}

const FAMILY_NAMES = { sd1: 'SD 1.x', sd2: 'SD 2.x', sdxl: 'SDXL' };
const ARCHITECTURE_NAMES = { sd1: 'SD 1.x', sd2: 'SD 2.x', 'sdxl-base': 'SDXL base', 'sdxl-refiner': 'SDXL refiner' };

/** The config.json files of a diffusers folder, as diffusers' `from_single_file(..., config=DIR)` reads them. */
async function readPipelineConfig(files: ModelFiles): Promise<PipelineConfigJson> {
  const optional = async (path: string): Promise<unknown> =>
    (await files.exists(path)) ? readJson<unknown>(files, path) : undefined;
  const json: PipelineConfigJson = {
    model_index: await optional('model_index.json'),
    unet: await optional('unet/config.json'),
    vae: await optional('vae/config.json'),
    text_encoder: await optional('text_encoder/config.json'),
    text_encoder_2: await optional('text_encoder_2/config.json'),
    scheduler: await optional('scheduler/scheduler_config.json'),
  };
  if (json.unet === undefined || json.vae === undefined) {
    throw new SdError(
      'missing-file',
      `The config folder ${files.label} has no ${json.unet === undefined ? 'unet' : 'vae'}/config.json: expected a diffusers model folder (model_index.json, unet/config.json, vae/config.json, text_encoder/config.json, …) of the model the checkpoint comes from.`,
    );
  }
  return json;
}

/**
 * Opens a single-file checkpoint (original LDM layout, `.safetensors`) as a model the loader reads:
 * the family from its keys and shapes with the built-in config, or the config folder given; graphs
 * are built when the loader asks for each component. Reads only the header here; throws for files
 * that are not safetensors (pickles, HTML pages), truncated files, and unknown architectures
 * without a config.
 */
export async function openSingleFileModel(
  weights: WeightsFile,
  options: SingleFileModelOptions = {},
): Promise<BuiltModel> {
  const file = await SafetensorsFile.open(weights.source, weights.name);
  const config = options.config === undefined ? undefined : await readPipelineConfig(options.config);
  const checkpoint = resolveSingleFileCheckpoint(file, { config, predictionType: options.predictionType });
  const encoder2 = checkpoint.textEncoder2?.config;
  const hidden = checkpoint.textEncoder?.config.hiddenSize;
  const family = encoder2 !== undefined ? 'sdxl' : hidden === 1024 ? 'sd2' : 'sd1';
  const scheduler =
    typeof checkpoint.scheduler['_class_name'] === 'string'
      ? checkpoint.scheduler
      : { ...DEFAULT_SCHEDULERS[family].config, prediction_type: checkpoint.predictionType };
  const texts = new Map<string, string>([
    ['model_index.json', JSON.stringify(checkpoint.modelIndex)],
    ['scheduler/scheduler_config.json', JSON.stringify(scheduler)],
    ['vae/config.json', JSON.stringify({ scaling_factor: checkpoint.vae.config.scalingFactor })],
  ]);
  const build =
    (name: string, spec: ComponentSpec, component: CheckpointComponent<unknown>) => (): Promise<ComponentGraph> =>
      buildComponentGraph(
        name,
        spec,
        { file, weightsFile: weights, fileKey: component.fileKey, filePrefix: component.filePrefix },
        options.convertedStore,
        options.loras,
      );
  const components: Record<string, () => Promise<ComponentGraph>> = {
    unet: build(
      'unet',
      {
        kind: 'unet',
        config: checkpoint.unet.config,
        textEmbedsDim: encoder2?.projectionDim,
        controlResiduals: options.controlResiduals,
      },
      checkpoint.unet,
    ),
    vae_decoder: build('vae_decoder', { kind: 'vae_decoder', config: checkpoint.vae.config }, checkpoint.vae),
    vae_encoder: build('vae_encoder', { kind: 'vae_encoder', config: checkpoint.vae.config }, checkpoint.vae),
  };
  if (checkpoint.textEncoder !== undefined)
    components['text_encoder'] = build(
      'text_encoder',
      { kind: 'text_encoder', config: checkpoint.textEncoder.config },
      checkpoint.textEncoder,
    );
  if (checkpoint.textEncoder2 !== undefined)
    components['text_encoder_2'] = build(
      'text_encoder_2',
      { kind: 'text_encoder', config: checkpoint.textEncoder2.config },
      checkpoint.textEncoder2,
    );
  const what =
    options.config === undefined
      ? `single-file ${checkpoint.architecture === null ? 'unrecognised' : ARCHITECTURE_NAMES[checkpoint.architecture]} checkpoint, built-in config ${checkpoint.configSource}`
      : `single-file ${FAMILY_NAMES[family]} checkpoint, config ${options.config.label}`;
  return {
    files: builtModelFiles({ label: weights.name, texts, base: options.config, components }),
    description: `${what}${checkpoint.isInpainting ? ' (inpainting)' : ''}, ${checkpoint.predictionType} prediction`,
    baseUnet: () => Promise.resolve({ config: checkpoint.unet.config, textEmbedsDim: encoder2?.projectionDim }),
  };
}
