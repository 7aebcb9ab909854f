import type { LoraSet } from '../lora/lora-set.ts';
import { SdError } from '../errors.ts';
import type { PredictionType } from '../checkpoint/standard-configs.ts';
import type { ConvertedStore } from '../models/component-weights.ts';
import type { ModelFiles } from '../models/model-files.ts';
import { isSafetensorsFolder, openSafetensorsFolder } from '../models/safetensors-folder.ts';
import { openSingleFileModel, type BaseUnet } from '../models/single-file-model.ts';
import { blobWeightsFile } from '../models/weights-file.ts';
import { memoryNeeds, type ComponentTensors, type MemoryNeeds } from '../models/memory-needs.ts';
import { weightCandidates } from '../models/safetensors-folder.ts';
import { blobByteSource } from '../safetensors/byte-source.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import type { SafetensorsTensorInfo } from '../safetensors/safetensors-header.ts';
import type { BlobModelFiles } from './blob-model-files.ts';
import { shardNames } from './safetensors-plan.ts';

/** Options of {@link openBlobModel}. */
export interface OpenBlobModelOptions {
  /** The path of the model's one `.safetensors` checkpoint, when it is a single file (see `singleCheckpointPath`). */
  singleFile?: string;
  /** A diffusers folder describing a single file of an architecture the built-in configs do not cover. */
  config?: ModelFiles;
  predictionType?: PredictionType;
  /** Where float16 weights widened for adapters without shader-f16 are written (the store, not memory). */
  convertedStore?: ConvertedStore;
  /** LoRAs merged into the weights as the graphs are built (safetensors forms only; an ONNX export is refused). */
  loras?: LoraSet;
  /** Builds the UNet with ControlNet residual inputs (safetensors forms only; an ONNX export is refused). */
  controlResiduals?: boolean;
}

/** A model ready for `loadModel`, and what it was opened as. */
export interface OpenedBlobModel {
  files: ModelFiles;
  /** e.g. "single-file SD 1.x checkpoint, config tiny-sd15-diffusers, epsilon prediction"; absent for ONNX exports. */
  description?: string;
  /** Storage and GPU memory the weights need (safetensors forms; from the headers only). */
  needs?: MemoryNeeds;
  /** The UNet a ControlNet must fit (safetensors forms; absent for ONNX exports). */
  baseUnet?: () => Promise<BaseUnet>;
}

/** Which component a single file's key belongs to, by the LDM prefixes diffusers' conversion reads. */
function checkpointComponent(name: string): string {
  if (name.startsWith('model.diffusion_model.')) return 'unet';
  if (name.startsWith('first_stage_model.')) return 'vae';
  if (name.startsWith('conditioner.embedders.1.')) return 'text_encoder_2';
  if (name.startsWith('cond_stage_model.') || name.startsWith('conditioner.embedders.0.')) return 'text_encoder';
  return 'other';
}

/** The safetensors headers of a model's weights, per component (shards of a component together). */
async function weightHeaders(files: BlobModelFiles, singleFile: string | undefined): Promise<ComponentTensors[]> {
  const open = async (path: string) => SafetensorsFile.open(blobByteSource(await files.readBlob(path)), path);
  if (singleFile !== undefined) {
    const groups = new Map<string, SafetensorsTensorInfo[]>();
    for (const t of (await open(singleFile)).tensors.values()) {
      const component = checkpointComponent(t.name);
      groups.set(component, [...(groups.get(component) ?? []), t]);
    }
    return [...groups].map(([component, tensors]) => ({ component, tensors }));
  }
  const found: ComponentTensors[] = [];
  for (const component of ['text_encoder', 'text_encoder_2', 'unet', 'vae']) {
    let path: string | undefined;
    for (const candidate of weightCandidates(component))
      if (await files.exists(candidate)) {
        path = candidate;
        break;
      }
    if (path === undefined) continue;
    const paths = path.endsWith('.index.json')
      ? shardNames(await files.readText(path), path).map((s) => `${component}/${s}`)
      : [path];
    const tensors: SafetensorsTensorInfo[] = [];
    for (const p of paths) tensors.push(...(await open(p)).tensors.values());
    found.push({ component, tensors });
  }
  return found;
}

/**
 * Opens files the page has as Blobs (a stored model, picked files read in place) in whichever form
 * they are: a single `.safetensors` checkpoint, a diffusers folder with safetensors weights (graphs
 * built at load, weights read by slices), or a diffusers ONNX export (as it is).
 */
export async function openBlobModel(
  files: BlobModelFiles,
  options: OpenBlobModelOptions = {},
): Promise<OpenedBlobModel> {
  const { singleFile, config, predictionType, convertedStore, loras, controlResiduals } = options;
  const built = { predictionType, convertedStore, controlResiduals, ...(loras === undefined ? {} : { loras }) };
  const isFolder = singleFile === undefined && (await isSafetensorsFolder(files));
  if (singleFile === undefined && !isFolder) {
    if (loras !== undefined && !loras.isEmpty) {
      const names = loras.applied.map((l) => l.file.name).join(', ');
      throw new SdError(
        'unsupported-model',
        `The prompt applies LoRA ${names}, but ${files.label} is an ONNX export, whose weights are fixed in its model.onnx files: LoRAs are merged into safetensors models. Use the model's .safetensors checkpoint or diffusers safetensors folder, or remove the <lora:…> tags.`,
      );
    }
    if (controlResiduals === true) {
      throw new SdError(
        'unsupported-model',
        `ControlNet needs a safetensors checkpoint or diffusers safetensors folder: ${files.label} is an ONNX export, whose UNet graph has no ControlNet inputs. Use the model's .safetensors checkpoint or diffusers safetensors folder, or turn the ControlNet units off.`,
      );
    }
    return { files };
  }
  let model;
  if (singleFile !== undefined) {
    const weights = blobWeightsFile(await files.readBlob(singleFile), singleFile);
    model = await openSingleFileModel(weights, { ...built, config });
  } else
    model = await openSafetensorsFolder(
      files,
      async (path) => blobWeightsFile(await files.readBlob(path), path),
      built,
    );
  const headers = await weightHeaders(files, singleFile);
  const isXl = headers.some((h) => h.component === 'text_encoder_2');
  return { ...model, needs: memoryNeeds(headers, isXl ? 1024 : 512) };
}
