import type { InferenceSession } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { Runtime, ExternalDataFile } from '../runtime/runtime.ts';
import type { RawSchedulerConfig } from '../schedulers/scheduler.ts';
import type { LoadedControlNet } from './load-controlnet.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { padTokenId } from '../tokenizer/pad-token.ts';
import {
  textEncoderContract,
  unetContract,
  vaeDecoderContract,
  vaeEncoderContract,
  type TextEncoderContract,
  type UnetContract,
  type VaeDecoderContract,
  type VaeEncoderContract,
} from './contracts.ts';
import { readJson, type ModelFiles } from './model-files.ts';
import { EXTERNAL_DATA_NAMES } from './diffusers-layout.ts';
import { componentGraph, requireInferableComponents, USUAL_COMPONENTS } from './inferred-layout.ts';
import {
  assumedPad,
  assumedScheduler,
  isTurboName,
  layoutLine,
  tokenizerLine,
  type AssumedPad,
  type SuggestedSettings,
} from './model-assumptions.ts';

/** SD 1.x, SD 2.x (incl. SD-Turbo) or SDXL (incl. SDXL-Turbo); LCM variants are detected separately. */
export type ModelFamily = 'sd1' | 'sd2' | 'sdxl';

export interface TextEncoder {
  tokenizer: ClipTokenizer;
  /** Id the tokenizer pads with: 49407 (`<|endoftext|>`) or 0 (`!`). */
  padId: number;
  session: InferenceSession;
  contract: TextEncoderContract;
}

export interface LoadedModel {
  readonly label: string;
  readonly family: ModelFamily;
  /** One text encoder (SD 1.x/2.x, SDXL refiner: text_encoder_2 only) or two (SDXL), in diffusers' order. */
  readonly textEncoders: readonly TextEncoder[];
  readonly unet: { session: InferenceSession; contract: UnetContract };
  readonly vaeDecoder: { session: InferenceSession; contract: VaeDecoderContract };
  /** Loaded on first use (img2img only). */
  vaeEncoder(): Promise<{ session: InferenceSession; contract: VaeEncoderContract }>;
  readonly schedulerConfig: RawSchedulerConfig;
  /** Latent scaling factor of the VAE (0.18215 for SD 1.x/2.x, 0.13025 for SDXL unless the VAE config says otherwise). */
  readonly scalingFactor: number;
  /** SDXL: an empty negative prompt gives zero conditioning instead of the encoded empty string. */
  readonly forceZerosForEmptyPrompt: boolean;
  /** SDXL refiner: `time_ids` end in an aesthetic score instead of the target size (model_index.json). */
  readonly requiresAestheticsScore: boolean;
  /**
   * What was assumed because the model left it out, one short line each, e.g. "no model_index.json:
   * layout inferred from unet/, text_encoder/, vae_decoder/"; empty for a complete export.
   */
  readonly assumptions: readonly string[];
  /** Steps and CFG the model is meant for when they had to be assumed (turbo without a scheduler config: 1 and 0). */
  readonly suggested?: SuggestedSettings;
  /** ControlNets loaded for this model (`loadControlNet`); the request's `controlNets` units steer them in order. */
  readonly controlNets?: readonly LoadedControlNet[];
  release(): Promise<void>;
}

export interface LoadOptions {
  /** The standard CLIP merges list, used when a repository ships no tokenizer files. */
  fallbackMerges?: () => Promise<string>;
  onComponent?: (component: string, index: number, count: number) => void;
}

async function requireFile(files: ModelFiles, path: string, what: string): Promise<void> {
  if (!(await files.exists(path))) {
    throw new SdError(
      'missing-file',
      `Missing ${path} in ${files.label}: expected ${what} (diffusers ONNX layout). Check the model folder or download it again.`,
    );
  }
}

async function createComponentSession(
  files: ModelFiles,
  runtime: Runtime,
  component: string,
): Promise<InferenceSession> {
  const modelPath = `${component}/model.onnx`;
  // models from safetensors: the graph is built here and its weights mounted from the user's files
  const built = await files.componentGraph?.(component);
  const externalData: ExternalDataFile[] = built?.externalData ?? [];
  if (built === undefined) {
    await requireFile(files, modelPath, `the ${component} ONNX graph`);
    for (const name of EXTERNAL_DATA_NAMES) {
      const path = `${component}/${name}`;
      if (await files.exists(path))
        externalData.push({
          path: name,
          data: files.readBlob ? await files.readBlob(path) : await files.readBytes(path),
        });
    }
  }
  const bytes = built?.model ?? (await files.readBytes(modelPath));
  try {
    return await runtime.createSession(bytes, externalData);
  } catch (cause) {
    const text = String(cause instanceof Error ? cause.message : cause);
    if (/com\.microsoft|not (implemented|supported)|unsupported op|Could not find an implementation/i.test(text)) {
      throw new SdError(
        'unsupported-model',
        `${files.label}/${modelPath} uses operators ${runtime.name} does not implement (${text.slice(0, 300)}). Models built for CUDA (fused ops) cannot run here; use a plain diffusers/optimum ONNX export.`,
        { cause },
      );
    }
    throw new SdError(
      'unsupported-model',
      `Could not load ${files.label}/${modelPath} on ${runtime.name}: ${text.slice(0, 500)}`,
      { cause },
    );
  }
}

/**
 * The tokenizer in `dir`, or the bundled CLIP tokenizer when the model has none; the pad id from its
 * config files, else `fallbackPad`. `assumed` is the line to report when anything was filled in.
 */
async function loadTokenizer(
  files: ModelFiles,
  dir: string,
  options: LoadOptions,
  fallbackPad: AssumedPad,
): Promise<{ tokenizer: ClipTokenizer; padId: number; assumed?: string }> {
  const optionalText = async (path: string): Promise<string | undefined> =>
    (await files.exists(path)) ? files.readText(path) : undefined;
  const vocab = await optionalText(`${dir}/vocab.json`);
  const merges = await optionalText(`${dir}/merges.txt`);
  let tokenizer: ClipTokenizer;
  // newer repositories ship tokenizer.json alone
  const tokenizerJson =
    vocab === undefined || merges === undefined ? await optionalText(`${dir}/tokenizer.json`) : undefined;
  const isBundled = (vocab === undefined || merges === undefined) && tokenizerJson === undefined;
  if (vocab !== undefined && merges !== undefined) tokenizer = ClipTokenizer.fromFiles(vocab, merges);
  else if (tokenizerJson !== undefined) tokenizer = ClipTokenizer.fromTokenizerJson(tokenizerJson);
  else if (options.fallbackMerges) tokenizer = ClipTokenizer.fromMerges(await options.fallbackMerges());
  else
    throw new SdError(
      'missing-file',
      `Missing ${dir}/vocab.json or ${dir}/merges.txt (or ${dir}/tokenizer.json) in ${files.label}: expected the CLIP tokenizer files.`,
    );
  const special = await optionalText(`${dir}/special_tokens_map.json`);
  const config = await optionalText(`${dir}/tokenizer_config.json`);
  const hasPadConfig = special !== undefined || config !== undefined;
  const padId = hasPadConfig ? padTokenId(tokenizer, special, config) : fallbackPad.padId;
  if (!isBundled && hasPadConfig) return { tokenizer, padId };
  return {
    tokenizer,
    padId,
    assumed: tokenizerLine(dir, isBundled, padId, hasPadConfig ? 'as its tokenizer config says' : fallbackPad.why),
  };
}

interface ModelIndex {
  _class_name?: string;
  force_zeros_for_empty_prompt?: boolean;
  requires_aesthetics_score?: boolean;
  text_encoder_2?: unknown;
}

/**
 * Opens a model folder in the diffusers ONNX layout: reads model_index.json and the scheduler
 * config, builds the tokenizer(s), creates sessions for text encoder(s), UNet and VAE decoder,
 * and checks each against the contracts the pipeline knows. What a folder leaves out (the index,
 * a tokenizer, the scheduler config, as in the onnxruntime web sample's SD-Turbo) is inferred from
 * the models present, their hidden size and the model's name, and listed in `assumptions`.
 */
export async function loadModel(files: ModelFiles, runtime: Runtime, options: LoadOptions = {}): Promise<LoadedModel> {
  const assumptions: string[] = [];
  const hasIndex = await files.exists('model_index.json');
  const index: ModelIndex = hasIndex ? await readJson<ModelIndex>(files, 'model_index.json') : {};
  if (!hasIndex) {
    const found: string[] = [];
    for (const c of USUAL_COMPONENTS) if (await files.exists(componentGraph(c))) found.push(c);
    requireInferableComponents(found, files.label);
    assumptions.push(layoutLine(found));
  }
  const isTurbo = isTurboName(files.label);
  const hasSchedulerConfig = await files.exists('scheduler/scheduler_config.json');
  const ownSchedulerConfig = hasSchedulerConfig
    ? await readJson<RawSchedulerConfig>(files, 'scheduler/scheduler_config.json')
    : undefined;
  const hasSecondEncoder = await files.exists('text_encoder_2/model.onnx');
  const isXl = index.text_encoder_2 !== undefined || hasSecondEncoder;
  // the SDXL refiner has only the second (OpenCLIP) encoder; its model_index lists text_encoder as null
  const hasFirstEncoder = !isXl || !hasSecondEncoder || (await files.exists('text_encoder/model.onnx'));
  const encoderDirs = isXl
    ? hasFirstEncoder
      ? ['text_encoder', 'text_encoder_2']
      : ['text_encoder_2']
    : ['text_encoder'];
  const components = [...encoderDirs, 'unet', 'vae_decoder'];
  const sessions: InferenceSession[] = [];
  const open = async (component: string): Promise<InferenceSession> => {
    options.onComponent?.(component, sessions.length, components.length);
    const s = await createComponentSession(files, runtime, component);
    sessions.push(s);
    return s;
  };
  try {
    const textEncoders: TextEncoder[] = [];
    for (const dir of encoderDirs) {
      const session = await open(dir);
      // SDXL conditions on the penultimate layer, which only the hidden_states.N outputs give
      const contract = textEncoderContract(session, dir, isXl);
      const hidden = contract.lastHiddenState?.shape[2];
      const isSecond = dir === 'text_encoder_2';
      // OpenCLIP encoders (SD 2.x, SDXL's second) pad with "!" (id 0) when no tokenizer config says otherwise
      const fallbackPad = assumedPad({
        hiddenSize: typeof hidden === 'number' ? hidden : undefined,
        isSecond,
        isXl,
        isTurbo,
      });
      const tokDir = isSecond ? 'tokenizer_2' : 'tokenizer';
      const { assumed, ...tokenizer } = await loadTokenizer(files, tokDir, options, fallbackPad);
      if (assumed !== undefined) assumptions.push(assumed);
      textEncoders.push({ ...tokenizer, session, contract });
    }
    const unetSession = await open('unet');
    const unet = { session: unetSession, contract: unetContract(unetSession) };
    const vaeSession = await open('vae_decoder');
    const vaeDecoder = { session: vaeSession, contract: vaeDecoderContract(vaeSession) };
    const family: ModelFamily =
      isXl || unet.contract.textEmbeds ? 'sdxl' : textEncoders[0]?.padId === 0 ? 'sd2' : 'sd1';
    let schedulerConfig = ownSchedulerConfig;
    let suggested: SuggestedSettings | undefined;
    if (schedulerConfig === undefined) {
      const assumed = assumedScheduler(family, isTurbo);
      assumptions.push(assumed.line);
      schedulerConfig = assumed.config;
      suggested = assumed.suggested;
    }
    const scalingFactor = await readScalingFactor(files, family);
    let encoder: Promise<{ session: InferenceSession; contract: VaeEncoderContract }> | undefined;
    return {
      label: files.label,
      family,
      textEncoders,
      unet,
      vaeDecoder,
      vaeEncoder() {
        encoder ??= createComponentSession(files, runtime, 'vae_encoder').then((session) => {
          sessions.push(session);
          return { session, contract: vaeEncoderContract(session) };
        });
        return encoder;
      },
      schedulerConfig,
      scalingFactor,
      forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt ?? false,
      requiresAestheticsScore: index.requires_aesthetics_score ?? false,
      assumptions,
      ...(suggested ? { suggested } : {}),
      async release() {
        await Promise.all(sessions.splice(0).map((s) => s.release()));
      },
    };
  } catch (e) {
    await Promise.all(sessions.map((s) => s.release()));
    throw e;
  }
}

async function readScalingFactor(files: ModelFiles, family: ModelFamily): Promise<number> {
  for (const path of ['vae_decoder/config.json', 'vae/config.json', 'vae_encoder/config.json']) {
    if (await files.exists(path)) {
      const config = await readJson<{ scaling_factor?: number }>(files, path);
      if (typeof config.scaling_factor === 'number') return config.scaling_factor;
    }
  }
  return family === 'sdxl' ? 0.13025 : 0.18215;
}
