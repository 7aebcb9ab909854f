import type { InferenceSession } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { ElementType } from '../runtime/runtime.ts';

/** One input or output as the session declares it. Symbolic dimensions are strings. */
export interface ValueInfo {
  name: string;
  type: ElementType;
  shape: readonly (number | string)[];
}

const KNOWN_TYPES = new Set<string>(['float32', 'float16', 'int32', 'int64']);

function describe(values: readonly InferenceSession.ValueMetadata[]): string {
  return values.map((v) => (v.isTensor ? `${v.name} (${v.type} [${v.shape.join(', ')}])` : v.name)).join(', ');
}

function valueInfo(v: InferenceSession.ValueMetadata | undefined): ValueInfo | undefined {
  if (!v || !v.isTensor || !KNOWN_TYPES.has(v.type)) return undefined;
  return { name: v.name, type: v.type as ElementType, shape: v.shape };
}

function contractError(component: string, session: InferenceSession, expected: string): SdError {
  return new SdError(
    'unknown-contract',
    `The ${component} model matches no known contract: expected ${expected}; found inputs ${describe(session.inputMetadata)} and outputs ${describe(session.outputMetadata)}. Use a diffusers ONNX export (diffusers' convert script or optimum).`,
  );
}

function findInput(session: InferenceSession, name: string): ValueInfo | undefined {
  return valueInfo(session.inputMetadata.find((v) => v.name === name));
}

function findOutput(session: InferenceSession, name: string): ValueInfo | undefined {
  return valueInfo(session.outputMetadata.find((v) => v.name === name));
}

/** Text encoder: token ids in; last hidden state, hidden states per layer and pooled output. */
export interface TextEncoderContract {
  inputIds: ValueInfo;
  lastHiddenState: ValueInfo | undefined;
  /** `hidden_states.N` outputs, index = N. */
  hiddenStates: ValueInfo[];
  /** `text_embeds` (projection, SDXL text_encoder_2) or `pooler_output`. */
  pooled: ValueInfo | undefined;
}

/**
 * Reads and checks a text encoder's inputs and outputs.
 * @param needsHiddenStates SDXL: require `hidden_states.N` outputs (at least two), since the pipeline
 *   conditions on the penultimate one; `last_hidden_state` has the final layer norm applied and would be wrong.
 */
export function textEncoderContract(
  session: InferenceSession,
  component: string,
  needsHiddenStates = false,
): TextEncoderContract {
  const inputIds = findInput(session, 'input_ids');
  const hiddenStates: ValueInfo[] = [];
  for (const v of session.outputMetadata) {
    const m = /^hidden_states\.(\d+)$/.exec(v.name);
    const info = valueInfo(v);
    if (m && info) hiddenStates[Number(m[1])] = info;
  }
  const lastHiddenState = findOutput(session, 'last_hidden_state');
  const pooled = findOutput(session, 'text_embeds') ?? findOutput(session, 'pooler_output');
  if (!inputIds || (inputIds.type !== 'int32' && inputIds.type !== 'int64')) {
    throw contractError(component, session, 'input "input_ids" (int32 or int64)');
  }
  if (needsHiddenStates && hiddenStates[hiddenStates.length - 2] === undefined) {
    throw contractError(
      component,
      session,
      'outputs "hidden_states.0" to "hidden_states.N" (SDXL uses the penultimate layer; export with output_hidden_states, as optimum does)',
    );
  }
  // SD 1.x/2.x condition on the final layer after its layer norm, which no hidden_states.N output gives
  if (!needsHiddenStates && !lastHiddenState) {
    throw contractError(component, session, 'output "last_hidden_state"');
  }
  return { inputIds, lastHiddenState, hiddenStates, pooled };
}

/** UNet: latents, timestep and text conditioning in, noise (or v) prediction out. */
export interface UnetContract {
  sample: ValueInfo;
  timestep: ValueInfo;
  encoderHiddenStates: ValueInfo;
  /** SDXL added conditioning. */
  textEmbeds: ValueInfo | undefined;
  timeIds: ValueInfo | undefined;
  /** LCM guidance embedding [B, 256]. */
  timestepCond: ValueInfo | undefined;
  output: ValueInfo;
  /** Hidden size the text encoder(s) must produce (last dim of encoder_hidden_states), when fixed. */
  hiddenSize: number | undefined;
  /** ControlNet inputs `down_block_additional_residual_N`, index = N; empty for a UNet built without them. */
  downResiduals: ValueInfo[];
  /** ControlNet input `mid_block_additional_residual`. */
  midResidual: ValueInfo | undefined;
}

export function unetContract(session: InferenceSession): UnetContract {
  const sample = findInput(session, 'sample');
  const timestep = findInput(session, 'timestep');
  const encoderHiddenStates = findInput(session, 'encoder_hidden_states');
  const output = findOutput(session, 'out_sample') ?? valueInfo(session.outputMetadata[0]);
  const textEmbeds = findInput(session, 'text_embeds');
  const timeIds = findInput(session, 'time_ids');
  const known = new Set(['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids', 'timestep_cond']);
  const downResiduals: ValueInfo[] = [];
  for (const v of session.inputMetadata) {
    const m = /^down_block_additional_residual_(\d+)$/.exec(v.name);
    const info = valueInfo(v);
    if (m && info) downResiduals[Number(m[1])] = info;
  }
  const midResidual = findInput(session, 'mid_block_additional_residual');
  const unknown = session.inputMetadata.filter(
    (v) => !known.has(v.name) && v.name !== midResidual?.name && !downResiduals.some((r) => r.name === v.name),
  );
  if (
    !sample ||
    !timestep ||
    !encoderHiddenStates ||
    !output ||
    unknown.length > 0 ||
    sample.type === 'int32' ||
    sample.type === 'int64'
  ) {
    throw contractError(
      'unet',
      session,
      'inputs "sample" (float), "timestep", "encoder_hidden_states" (and for SDXL "text_embeds", "time_ids"; for LCM "timestep_cond")',
    );
  }
  if (Boolean(textEmbeds) !== Boolean(timeIds)) {
    throw contractError('unet', session, 'both "text_embeds" and "time_ids" (SDXL) or neither');
  }
  const last = encoderHiddenStates.shape[encoderHiddenStates.shape.length - 1];
  return {
    sample,
    timestep,
    encoderHiddenStates,
    textEmbeds,
    timeIds,
    timestepCond: findInput(session, 'timestep_cond'),
    output,
    hiddenSize: typeof last === 'number' ? last : undefined,
    downResiduals,
    midResidual,
  };
}

/** ControlNet: the UNet's inputs plus the control image and scale in; the scaled residuals out. */
export interface ControlNetContract {
  sample: ValueInfo;
  timestep: ValueInfo;
  encoderHiddenStates: ValueInfo;
  textEmbeds: ValueInfo | undefined;
  timeIds: ValueInfo | undefined;
  /** The control image [batch, channels, H, W] in [0, 1]. */
  cond: ValueInfo;
  /** `conditioning_scale` [1]. */
  scale: ValueInfo;
  /** `down_block_res_sample_N`, index = N. */
  downOutputs: ValueInfo[];
  midOutput: ValueInfo;
}

/** Reads and checks a ControlNet built by `buildControlNet`. */
export function controlNetContract(session: InferenceSession): ControlNetContract {
  const get = (name: string): ValueInfo | undefined => findInput(session, name);
  const downOutputs: ValueInfo[] = [];
  for (const v of session.outputMetadata) {
    const m = /^down_block_res_sample_(\d+)$/.exec(v.name);
    const info = valueInfo(v);
    if (m && info) downOutputs[Number(m[1])] = info;
  }
  const [sample, timestep, encoderHiddenStates, cond, scale] = [
    'sample',
    'timestep',
    'encoder_hidden_states',
    'controlnet_cond',
    'conditioning_scale',
  ].map(get);
  const midOutput = findOutput(session, 'mid_block_res_sample');
  if (!sample || !timestep || !encoderHiddenStates || !cond || !scale || !midOutput || downOutputs.length === 0) {
    throw contractError(
      'controlnet',
      session,
      'inputs "sample", "timestep", "encoder_hidden_states", "controlnet_cond", "conditioning_scale" and outputs "down_block_res_sample_N", "mid_block_res_sample"',
    );
  }
  return {
    sample,
    timestep,
    encoderHiddenStates,
    textEmbeds: get('text_embeds'),
    timeIds: get('time_ids'),
    cond,
    scale,
    downOutputs,
    midOutput,
  };
}

/** VAE decoder: `latent_sample` in, image `sample` in [-1, 1] out. */
export interface VaeDecoderContract {
  input: ValueInfo;
  output: ValueInfo;
}

export function vaeDecoderContract(session: InferenceSession): VaeDecoderContract {
  const input = findInput(session, 'latent_sample');
  const output = findOutput(session, 'sample') ?? valueInfo(session.outputMetadata[0]);
  if (!input || !output) throw contractError('vae_decoder', session, 'input "latent_sample" and output "sample"');
  return { input, output };
}

/**
 * VAE encoder: image `sample` in; `latent_sample` (4 channels: the posterior mean, or a sample drawn
 * inside the graph) or `latent_parameters` (8 channels: mean and log-variance, optimum >= 1.23) out.
 */
export interface VaeEncoderContract {
  input: ValueInfo;
  output: ValueInfo;
  isParameters: boolean;
}

export function vaeEncoderContract(session: InferenceSession): VaeEncoderContract {
  const input = findInput(session, 'sample');
  const params = findOutput(session, 'latent_parameters');
  const output = params ?? findOutput(session, 'latent_sample') ?? findOutput(session, 'latent_dist');
  if (!input || !output)
    throw contractError('vae_encoder', session, 'input "sample" and output "latent_sample" or "latent_parameters"');
  return { input, output, isParameters: Boolean(params) };
}
