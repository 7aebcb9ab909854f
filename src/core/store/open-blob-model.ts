import type { PredictionType } from '../checkpoint/standard-configs.ts';
import type { ConvertedStore } from '../models/component-weights.ts';
import type { ModelFiles } from '../models/model-files.ts';
import { isSafetensorsFolder, openSafetensorsFolder } from '../models/safetensors-folder.ts';
import { openSingleFileModel } from '../models/single-file-model.ts';
import { blobWeightsFile } from '../models/weights-file.ts';
import type { BlobModelFiles } from './blob-model-files.ts';

/** Options of {@link openBlobModel}. */
export interface OpenBlobModelOptions {
  /** The path of the model's one `.safetensors` checkpoint, when it is a single file (see `singleCheckpointPath`). */
  singleFile?: string;
  /** A diffusers folder describing a single file of an architecture the built-in configs do not cover. */
  config?: ModelFiles;
  predictionType?: PredictionType;
  /** Where float16 weights widened for adapters without shader-f16 are written (the store, not memory). */
  convertedStore?: ConvertedStore;
}

/** A model ready for `loadModel`, and what it was opened as. */
export interface OpenedBlobModel {
  files: ModelFiles;
  /** e.g. "single-file SD 1.x checkpoint, config tiny-sd15-diffusers, epsilon prediction"; absent for ONNX exports. */
  description?: string;
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
  const { singleFile, config, predictionType, convertedStore } = options;
  const built = { predictionType, convertedStore };
  if (singleFile !== undefined) {
    const weights = blobWeightsFile(await files.readBlob(singleFile), singleFile);
    return openSingleFileModel(weights, { ...built, config });
  }
  if (await isSafetensorsFolder(files))
    return openSafetensorsFolder(files, async (path) => blobWeightsFile(await files.readBlob(path), path), built);
  return { files };
}
