import { buildClipTextModel } from '../graphs/clip-text-model.ts';
import type { ControlNetConfig } from '../graphs/controlnet-config.ts';
import { buildControlNet } from '../graphs/controlnet-model.ts';
import type { ClipTextConfig } from '../graphs/clip-text-config.ts';
import type { AutoencoderKlConfig } from '../graphs/autoencoder-kl-config.ts';
import { SafetensorsWeights, type WeightSource } from '../graphs/safetensors-weights.ts';
import { buildUnet2dCondition } from '../graphs/unet-2d-condition.ts';
import type { Unet2dConditionConfig } from '../graphs/unet-config.ts';
import { buildVaeDecoder } from '../graphs/vae-decoder.ts';
import { buildVaeEncoder } from '../graphs/vae-encoder.ts';
import type { LoraComponent } from '../lora/lora-module-names.ts';
import type { LoraSet } from '../lora/lora-set.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { componentExternalData, type ConvertedStore } from './component-weights.ts';
import type { ExternalDataFile } from '../runtime/runtime.ts';
import type { ComponentGraph } from './model-files.ts';
import { MAX_MOUNT_BYTES, weightWindows } from './weight-windows.ts';
import type { WeightsFile } from './weights-file.ts';

/** Where one component's weights are: an opened safetensors file, and for single files the key map into it. */
export interface ComponentWeightsSource {
  file: SafetensorsFile;
  weightsFile: WeightsFile;
  /** Single files: diffusers key → tensor of the checkpoint. */
  fileKey?: (diffusersKey: string, expectedShape: readonly number[]) => string | WeightSource;
  /** Single files: the prefix every key of the component has, so only its tensors are mounted. */
  filePrefix?: string;
}

/** What a component is built from: its kind and parsed config. */
export type ComponentSpec =
  | { kind: 'text_encoder'; config: ClipTextConfig }
  | { kind: 'unet'; config: Unet2dConditionConfig; textEmbedsDim?: number; controlResiduals?: boolean }
  | { kind: 'controlnet'; config: ControlNetConfig; textEmbedsDim?: number }
  | { kind: 'vae_decoder' | 'vae_encoder'; config: AutoencoderKlConfig };

/**
 * Builds one component's ONNX graph (load-model's contracts: text encoders `last_hidden_state`,
 * `hidden_states.N`, `pooler_output`/`text_embeds`; UNet `out_sample`; VAE decoder `sample`, encoder
 * `latent_parameters`) with its external data: windows of the user's file for float32 weights, and
 * float16/bfloat16 weights widened once into `{name}.float32.bin` (parts under 2 GiB), and the
 * weights `loras` change merged into `{name}.lora.bin` (float32; the other files stay as without
 * LoRAs, so a converted file kept in the store still serves).
 * @param name the component's folder name, which prefixes its external data locations.
 */
export async function buildComponentGraph(
  name: string,
  spec: ComponentSpec,
  source: ComponentWeightsSource,
  store?: ConvertedStore,
  loras?: LoraSet,
): Promise<ComponentGraph> {
  const patch =
    spec.kind === 'unet' || spec.kind === 'text_encoder'
      ? loras?.patchFor(
          { component: name as LoraComponent, unetConfig: spec.kind === 'unet' ? spec.config : undefined },
          `${name}.lora.bin`,
        )
      : undefined;
  const weights = new SafetensorsWeights(source.file, {
    location: `${name}.weights`,
    convertedLocation: `${name}.float32.bin`,
    fileKey: source.fileKey,
    windows: weightWindows(source.file, `${name}.weights`, {
      prefix: source.filePrefix,
      segmentEnds: source.weightsFile.segmentEnds,
    }),
    convertedPartBytes: MAX_MOUNT_BYTES,
    patch,
  });
  const model = ((): Uint8Array => {
    switch (spec.kind) {
      case 'text_encoder':
        return buildClipTextModel(spec.config, weights).model;
      case 'unet':
        return buildUnet2dCondition(spec.config, weights, {
          textEmbedsDim: spec.textEmbedsDim,
          controlResiduals: spec.controlResiduals,
        });
      case 'controlnet':
        return buildControlNet(spec.config, weights, { textEmbedsDim: spec.textEmbedsDim });
      case 'vae_decoder':
        return buildVaeDecoder(spec.config, weights);
      case 'vae_encoder':
        return buildVaeEncoder(spec.config, weights);
    }
  })();
  const base = (): Promise<ExternalDataFile[]> => componentExternalData(weights, source.weightsFile, store);
  const externalData = loras === undefined ? await base() : [...(await loras.baseData(name, base))];
  if (patch !== undefined && weights.patchedKeys.length > 0)
    externalData.push({ path: patch.location, data: await weights.writePatched(patch.apply) });
  return { model, externalData };
}
