import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { PredictionType } from '../core/checkpoint/standard-configs.ts';
import { SdError } from '../core/errors.ts';
import type { LoraSet } from '../core/lora/lora-set.ts';
import type { ModelFiles } from '../core/models/model-files.ts';
import { isSafetensorsFolder, openSafetensorsFolder } from '../core/models/safetensors-folder.ts';
import { openSingleFileModel, type BaseUnet } from '../core/models/single-file-model.ts';
import { folderModelFiles } from './fs-model-files.ts';
import { nodeWeightsFile } from './node-weights-file.ts';

/** A model as `--model` names it, ready for `loadModel`. */
export interface CliModel {
  files: ModelFiles;
  /** The name the PNG's infotext records (`Model: tiny-sd15`). */
  name: string;
  /** What was opened, for stderr; absent for ONNX folders. */
  description?: string;
  /** Safetensors models: the UNet a ControlNet must fit; absent for ONNX folders. */
  baseUnet?: () => Promise<BaseUnet>;
  /** Closes the weights files opened for building graphs. */
  close(): Promise<void>;
}

/** Options of {@link openCliModel}: `--config` and `--prediction-type`, and the LoRAs to merge. */
export interface CliModelOptions {
  config?: string;
  predictionType?: string;
  loras?: LoraSet;
  /** Build the UNet with ControlNet residual inputs. */
  controlResiduals?: boolean;
}

function parsePredictionType(value: string | undefined): PredictionType | undefined {
  if (value === undefined || value === 'epsilon' || value === 'v_prediction') return value;
  throw new SdError(
    'bad-argument',
    `--prediction-type "${value}" is not allowed. Expected one of: epsilon, v_prediction.`,
  );
}

/**
 * Opens `--model PATH`: a diffusers ONNX folder (as it is), a diffusers folder with safetensors
 * weights, or a single `.safetensors` checkpoint (with `--config DIR`, a diffusers folder of its
 * model, for architectures the built-in configs do not cover, or to match a fine-tune's configs).
 */
export async function openCliModel(path: string, options: CliModelOptions = {}): Promise<CliModel> {
  const full = resolve(path);
  if (!existsSync(full)) {
    throw new SdError(
      'missing-file',
      `--model ${full} does not exist: expected a model folder (diffusers ONNX or safetensors layout) or a .safetensors checkpoint.`,
    );
  }
  const predictionType = parsePredictionType(options.predictionType);
  const loras = options.loras;
  const opened: { close(): Promise<void> }[] = [];
  const openWeights = async (file: string) => {
    const weights = await nodeWeightsFile(file);
    opened.push(weights);
    return weights;
  };
  const close = async (): Promise<void> => {
    await Promise.all(opened.splice(0).map((f) => f.close()));
  };
  try {
    if (statSync(full).isFile()) {
      const config = options.config === undefined ? undefined : folderModelFiles(options.config);
      const model = await openSingleFileModel(await openWeights(full), {
        config,
        predictionType,
        loras,
        controlResiduals: options.controlResiduals,
      });
      return {
        files: model.files,
        name: basename(full).replace(/\.safetensors$/i, ''),
        description: model.description,
        baseUnet: model.baseUnet,
        close,
      };
    }
    const folder = folderModelFiles(full);
    if (options.config !== undefined) {
      throw new SdError(
        'bad-argument',
        `--config applies to a single .safetensors file; ${full} is a folder with its own configs.`,
      );
    }
    if (await isSafetensorsFolder(folder)) {
      const model = await openSafetensorsFolder(folder, (p) => openWeights(resolve(full, p)), {
        predictionType,
        loras,
        controlResiduals: options.controlResiduals,
      });
      return {
        files: model.files,
        name: folder.name,
        description: model.description,
        baseUnet: model.baseUnet,
        close,
      };
    }
    if (loras !== undefined && !loras.isEmpty) {
      throw new SdError(
        'bad-argument',
        `LoRAs are merged into safetensors models; ${full} is an ONNX folder, whose weights are fixed in its model.onnx files. Use the model's .safetensors checkpoint or diffusers safetensors folder.`,
      );
    }
    if (options.controlResiduals === true) {
      throw new SdError(
        'bad-argument',
        `ControlNets steer UNets built from safetensors; ${full} is an ONNX folder, whose UNet has no ControlNet inputs. Use the model's .safetensors checkpoint or diffusers safetensors folder.`,
      );
    }
    if (predictionType !== undefined) {
      throw new SdError(
        'bad-argument',
        '--prediction-type applies to safetensors models; an ONNX folder takes it from its scheduler config.',
      );
    }
    return { files: folder, name: folder.name, close };
  } catch (e) {
    await close();
    throw e;
  }
}
