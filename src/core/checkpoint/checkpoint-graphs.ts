import { buildClipTextModel, type ClipTextModelOutputs } from '../graphs/clip-text-model.ts';
import type { SafetensorsWeights } from '../graphs/safetensors-weights.ts';
import { buildUnet2dCondition } from '../graphs/unet-2d-condition.ts';
import { buildVaeDecoder } from '../graphs/vae-decoder.ts';
import { buildVaeEncoder } from '../graphs/vae-encoder.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { componentWeights, type SingleFileCheckpoint } from './single-file-checkpoint.ts';

/** Pipeline components built from one checkpoint. */
export type CheckpointComponentName = 'unet' | 'vae' | 'text_encoder' | 'text_encoder_2';

/**
 * The ONNX models of a checkpoint with the weights behind them. Every model reads the checkpoint
 * file (external data `location`) and its component's converted buffer: pass both as onnxruntime
 * `externalData`, the converted one from `weights.writeConverted` / `materializeConverted` (only
 * when `weights.hasConverted`).
 */
export interface CheckpointGraphs {
  unet: { model: Uint8Array; weights: SafetensorsWeights };
  /** Decoder (`latent_sample` → `sample`) and encoder (`sample` → `latent_parameters`) share one converted buffer. */
  vae: { decoder: Uint8Array; encoder: Uint8Array; weights: SafetensorsWeights };
  textEncoder?: { model: Uint8Array; outputs: ClipTextModelOutputs; weights: SafetensorsWeights };
  textEncoder2?: { model: Uint8Array; outputs: ClipTextModelOutputs; weights: SafetensorsWeights };
}

/** Where the graphs find their weights. */
export interface CheckpointGraphsOptions {
  /** External-data location of the checkpoint file. */
  location: string;
  /** External-data location of each component's converted weights. */
  convertedLocation: (component: CheckpointComponentName) => string;
}

/**
 * Builds every model of a resolved single-file checkpoint (graphs only: weights are bound, not
 * read; shape mismatches throw here). SDXL's UNet takes `text_embeds` as wide as the second text
 * encoder's projection, which tells base (6 time ids) from refiner (5) configs apart.
 */
export function buildCheckpointGraphs(
  file: SafetensorsFile,
  checkpoint: SingleFileCheckpoint,
  options: CheckpointGraphsOptions,
): CheckpointGraphs {
  const weightsFor = (
    name: CheckpointComponentName,
    component: Parameters<typeof componentWeights>[1],
  ): SafetensorsWeights =>
    componentWeights(file, component, {
      location: options.location,
      convertedLocation: options.convertedLocation(name),
    });
  const graphs: Partial<CheckpointGraphs> = {};
  for (const [key, name] of [
    ['textEncoder', 'text_encoder'],
    ['textEncoder2', 'text_encoder_2'],
  ] as const) {
    const component = checkpoint[key];
    if (component === undefined) continue;
    const weights = weightsFor(name, component);
    graphs[key] = { ...buildClipTextModel(component.config, weights), weights };
  }
  const unetWeights = weightsFor('unet', checkpoint.unet);
  const unet = buildUnet2dCondition(checkpoint.unet.config, unetWeights, {
    textEmbedsDim: checkpoint.textEncoder2?.config.projectionDim,
  });
  const vaeWeights = weightsFor('vae', checkpoint.vae);
  const decoder = buildVaeDecoder(checkpoint.vae.config, vaeWeights);
  const encoder = buildVaeEncoder(checkpoint.vae.config, vaeWeights);
  return { ...graphs, unet: { model: unet, weights: unetWeights }, vae: { decoder, encoder, weights: vaeWeights } };
}
