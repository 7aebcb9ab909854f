import { SdError } from '../errors.ts';
import { parseAutoencoderKlConfig, type AutoencoderKlConfig } from '../graphs/autoencoder-kl-config.ts';
import { parseClipTextConfig, type ClipTextConfig } from '../graphs/clip-text-config.ts';
import { SafetensorsWeights, type WeightSource } from '../graphs/safetensors-weights.ts';
import { parseUnet2dConditionConfig, type Unet2dConditionConfig } from '../graphs/unet-config.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { detectArchitecture, type CheckpointArchitecture } from './architecture.ts';
import { standardConfig, type PipelineConfigJson, type PredictionType } from './standard-configs.ts';
import { textEncoderSource, type TextEncoderLayout } from './text-encoder-keys.ts';
import { ldmUnetKey } from './unet-keys.ts';
import { ldmVaeSource } from './vae-keys.ts';

const UNET_PREFIX = 'model.diffusion_model.';
const VAE_PREFIX = 'first_stage_model.';

/** One model of the checkpoint: its parsed config and where each diffusers key's weight is in the file. */
export interface CheckpointComponent<C> {
  config: C;
  /** Pass as {@link SafetensorsWeights}' `fileKey` (see {@link componentWeights}). */
  fileKey: (diffusersKey: string, expectedShape: readonly number[]) => WeightSource;
  /** Every file key the component reads starts with this (`model.diffusion_model.`, …): its tensors' byte span bounds what to mount. */
  filePrefix: string;
}

/** A single-file LDM checkpoint resolved into diffusers components. */
export interface SingleFileCheckpoint {
  /** The family found from keys and shapes; null when it was not recognised but a config was given. */
  architecture: CheckpointArchitecture | null;
  isInpainting: boolean;
  /** Where the configs come from: the built-in config's repository, or `"config option"`. */
  configSource: string;
  unet: CheckpointComponent<Unet2dConditionConfig>;
  vae: CheckpointComponent<AutoencoderKlConfig>;
  /** CLIP ViT-L (SD 1.x, SDXL base) or OpenCLIP ViT-H (SD 2.x); absent for the SDXL refiner. */
  textEncoder?: CheckpointComponent<ClipTextConfig>;
  /** SDXL's OpenCLIP ViT-bigG with projection. */
  textEncoder2?: CheckpointComponent<ClipTextConfig>;
  /** `model_index.json` of the config (raw JSON; `{}` when the config has none). */
  modelIndex: Record<string, unknown>;
  /** `scheduler_config.json` of the config (raw JSON), with `prediction_type` as resolved. */
  scheduler: Record<string, unknown>;
  predictionType: PredictionType;
}

/** Options of {@link resolveSingleFileCheckpoint}. */
export interface SingleFileCheckpointOptions {
  /** The config.json files of a diffusers folder (diffusers' `config=`): used instead of the built-in ones, for any architecture. */
  config?: PipelineConfigJson;
  /** Overrides the prediction type; for SD 2.x `'epsilon'` selects the 512 px base config. */
  predictionType?: PredictionType;
}

/** Where each text encoder may sit in a checkpoint, in the order they are tried. */
const TEXT_ENCODER_LAYOUTS: Record<'text_encoder' | 'text_encoder_2' | 'refiner', readonly TextEncoderLayout[]> = {
  text_encoder: [
    { kind: 'hf', prefix: 'cond_stage_model.transformer.' },
    { kind: 'open-clip', prefix: 'cond_stage_model.model.' },
    { kind: 'hf', prefix: 'conditioner.embedders.0.transformer.' },
  ],
  text_encoder_2: [{ kind: 'open-clip', prefix: 'conditioner.embedders.1.model.' }],
  // the refiner's only encoder is the first embedder
  refiner: [{ kind: 'open-clip', prefix: 'conditioner.embedders.0.model.' }],
};

function layoutProbe(layout: TextEncoderLayout): string {
  return (
    layout.prefix + (layout.kind === 'hf' ? 'text_model.embeddings.token_embedding.weight' : 'token_embedding.weight')
  );
}

function findLayout(
  file: SafetensorsFile,
  folder: string,
  candidates: readonly TextEncoderLayout[],
): TextEncoderLayout {
  const found = candidates.find((layout) => file.tensors.has(layoutProbe(layout)));
  if (found !== undefined) return found;
  throw new SdError(
    'unsupported-model',
    `The config has a "${folder}" but "${file.fileName}" holds no text encoder where one is expected: looked for ${candidates.map((l) => `"${layoutProbe(l)}"`).join(', ')}. ` +
      'Pass the config of the model this checkpoint comes from with --config.',
  );
}

/**
 * Resolves a single-file checkpoint (original LDM layout, `.safetensors`) into diffusers
 * components, as diffusers' `from_single_file` does: the family from keys and shapes, its built-in
 * config (or `options.config`), and per component a key map from diffusers names to the file's
 * tensors. Reads only the header; nothing is converted here. Tensors the pipeline never uses
 * (`position_ids`, `betas`, `alphas_cumprod*`, `model_ema.*`, SD 2.x's 24th OpenCLIP block, …)
 * are simply never asked for. Shape mismatches surface when a graph binds the weights, naming the
 * tensor and both shapes.
 */
export function resolveSingleFileCheckpoint(
  file: SafetensorsFile,
  options: SingleFileCheckpointOptions = {},
): SingleFileCheckpoint {
  let detected: ReturnType<typeof detectArchitecture> | null = null;
  try {
    detected = detectArchitecture(file);
  } catch (e) {
    // with a config given, an unrecognised family is fine: the config says what to build
    if (options.config === undefined) throw e;
  }
  const standard =
    options.config === undefined && detected !== null
      ? standardConfig(detected.architecture, detected.isInpainting, options.predictionType)
      : undefined;
  const json = options.config ?? standard!.json;
  const configSource = standard?.source ?? 'config option';
  if (json.unet === undefined || json.vae === undefined) {
    throw new SdError(
      'unsupported-model',
      `The config for "${file.fileName}" lacks ${json.unet === undefined ? 'unet' : 'vae'}/config.json; a single-file checkpoint needs the unet and vae configs.`,
    );
  }

  const unetConfig = parseUnet2dConditionConfig(json.unet);
  const vaeConfig = parseAutoencoderKlConfig(json.vae);
  const fileRank = (key: string): number | undefined => file.tensors.get(key)?.shape.length;
  const checkpoint: SingleFileCheckpoint = {
    architecture: detected?.architecture ?? null,
    isInpainting: unetConfig.inChannels === 9,
    configSource,
    unet: {
      config: unetConfig,
      filePrefix: UNET_PREFIX,
      fileKey: (key) => ({ tensor: UNET_PREFIX + ldmUnetKey(key, unetConfig) }),
    },
    vae: {
      config: vaeConfig,
      filePrefix: VAE_PREFIX,
      fileKey: (key, shape) => ldmVaeSource(key, shape, vaeConfig, VAE_PREFIX, fileRank),
    },
    modelIndex: isObject(json.model_index) ? { ...json.model_index } : {},
    scheduler: {},
    predictionType: 'epsilon',
  };
  if (json.text_encoder !== undefined) {
    const layout = findLayout(file, 'text_encoder', TEXT_ENCODER_LAYOUTS.text_encoder);
    checkpoint.textEncoder = {
      config: parseClipTextConfig(json.text_encoder, 'text_encoder/config.json'),
      filePrefix: layout.prefix,
      fileKey: (key, shape) => textEncoderSource(key, shape, layout),
    };
  }
  if (json.text_encoder_2 !== undefined) {
    const layout = findLayout(
      file,
      'text_encoder_2',
      json.text_encoder === undefined ? TEXT_ENCODER_LAYOUTS.refiner : TEXT_ENCODER_LAYOUTS.text_encoder_2,
    );
    checkpoint.textEncoder2 = {
      config: parseClipTextConfig(json.text_encoder_2, 'text_encoder_2/config.json', true),
      filePrefix: layout.prefix,
      fileKey: (key, shape) => textEncoderSource(key, shape, layout),
    };
  }
  const scheduler: Record<string, unknown> = isObject(json.scheduler) ? { ...json.scheduler } : {};
  const configured = scheduler['prediction_type'];
  checkpoint.predictionType = options.predictionType ?? (configured === 'v_prediction' ? 'v_prediction' : 'epsilon');
  scheduler['prediction_type'] = checkpoint.predictionType;
  checkpoint.scheduler = scheduler;
  return checkpoint;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Options of {@link componentWeights}. */
export interface ComponentWeightsOptions {
  /** External-data location of the checkpoint file (its float32 tensors are used in place). */
  location: string;
  /** Location of this component's converted (widened, transposed) weights. */
  convertedLocation: string;
}

/** The {@link SafetensorsWeights} that bind one component's graph to the checkpoint. */
export function componentWeights(
  file: SafetensorsFile,
  component: CheckpointComponent<unknown>,
  options: ComponentWeightsOptions,
): SafetensorsWeights {
  return new SafetensorsWeights(file, { ...options, fileKey: component.fileKey });
}
