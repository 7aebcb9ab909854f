import { controlNetCondSettings, controlNetLayout, originalControlNetKey } from '../checkpoint/controlnet-keys.ts';
import { SdError } from '../errors.ts';
import { parseControlNetConfig, type ControlNetConfig } from '../graphs/controlnet-config.ts';
import { buildControlNet } from '../graphs/controlnet-model.ts';
import { SafetensorsWeights } from '../graphs/safetensors-weights.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { buildComponentGraph } from './component-graph.ts';
import type { ConvertedStore } from './component-weights.ts';
import type { ComponentGraph } from './model-files.ts';
import type { BaseUnet } from './single-file-model.ts';
import type { WeightsFile } from './weights-file.ts';

/** Options of {@link openControlNet}. */
export interface ControlNetOptions {
  /** The parsed `config.json` of a diffusers ControlNet folder; without it the config is the base UNet's (`ControlNetModel.from_unet`). */
  config?: { json: unknown; label: string };
  convertedStore?: ConvertedStore;
}

/** A ControlNet ready to build: its config, what it is, and its graph on demand. */
export interface OpenedControlNet {
  /** e.g. "ControlNet 1.0 file (control_model. keys), config from the model's UNet". */
  description: string;
  config: ControlNetConfig;
  /** The ONNX graph (`buildControlNet`) and its external data. */
  graph(): Promise<ComponentGraph>;
}

/** The channel count of each residual the ControlNet gives, in the UNet's skip order, with the mid one last. */
function residualChannels(config: ControlNetConfig['unet']): number[] {
  const levels = config.levels;
  const channels = [levels[0]!.outChannels];
  levels.forEach((level, index) => {
    const count = level.layers + (index < levels.length - 1 ? 1 : 0);
    for (let i = 0; i < count; i++) channels.push(level.outChannels);
  });
  return [...channels, levels.at(-1)!.outChannels];
}

/** Rewords a binding error of the fit check as "does not fit this model", naming the tensor. */
function misfit(name: string, cause: unknown): SdError {
  const text = cause instanceof Error ? cause.message : String(cause);
  const shape = /^Tensor "([^"]+)" in "[^"]*" has shape \[([^\]]*)\] but the config implies \[([^\]]*)\]/.exec(text);
  const missing = /^Tensor "([^"]+)" is not in/.exec(text);
  const detail =
    shape !== null
      ? `tensor "${shape[1]}" has shape [${shape[2]}] where this model's UNet needs [${shape[3]}] (the first tensor that differs)`
      : missing !== null
        ? `this model's UNet needs a tensor "${missing[1]}", which the file lacks (the first tensor that differs)`
        : text.replace(/\.$/, '');
  return new SdError(
    'unsupported-model',
    `The ControlNet ${name} does not fit the loaded model: ${detail}. Use a ControlNet made for this model's architecture (SD 1.x ControlNets for SD 1.x checkpoints, SDXL ones for SDXL).`,
    { cause },
  );
}

/**
 * Opens a ControlNet safetensors file (diffusers `ControlNetModel` keys, or the original layout of
 * ControlNet 1.0 / 1.1 files) for the model whose UNet is `base`. Every tensor is checked against
 * the shapes the base UNet implies (as `ControlNetModel.from_unet` would build it, the conditioning
 * embedding's widths read from the file): a ControlNet for another architecture is refused here,
 * naming the first tensor that differs. Reads only the header.
 */
export async function openControlNet(
  weights: WeightsFile,
  base: BaseUnet,
  options: ControlNetOptions = {},
): Promise<OpenedControlNet> {
  const file = await SafetensorsFile.open(weights.source, weights.name);
  const layout = controlNetLayout(file);
  const settings = controlNetCondSettings(file, layout);
  const fromUnet: ControlNetConfig = { unet: base.config, ...settings };
  const blocks = 2 * (settings.conditioningEmbeddingOutChannels.length - 1);
  const fileKeyFor = (config: ControlNetConfig) =>
    layout.kind === 'diffusers'
      ? undefined
      : (key: string): string => layout.prefix + originalControlNetKey(key, config.unet, blocks);
  try {
    const check = new SafetensorsWeights(file, {
      location: 'controlnet.weights',
      convertedLocation: 'controlnet.float32.bin',
      fileKey: fileKeyFor(fromUnet),
    });
    buildControlNet(fromUnet, check, { textEmbedsDim: base.textEmbedsDim });
  } catch (cause) {
    throw misfit(weights.name, cause);
  }
  let config = fromUnet;
  if (options.config !== undefined) {
    config = parseControlNetConfig(options.config.json, options.config.label);
    const own = residualChannels(config.unet);
    const needed = residualChannels(base.config);
    const index = own.findIndex((c, i) => c !== needed[i]);
    if (index >= 0 || own.length !== needed.length) {
      const at = index >= 0 ? index : Math.min(own.length, needed.length) - 1;
      const tensor = at === needed.length - 1 ? 'controlnet_mid_block' : `controlnet_down_blocks.${at}`;
      throw new SdError(
        'unsupported-model',
        `The ControlNet config ${options.config.label} does not fit the loaded model: "${tensor}.weight" gives ${own[at] ?? 'no'} channels where the UNet's matching skip has ${needed[at] ?? 'none'} (${own.length} residuals for ${needed.length}). Use the config of this ControlNet, made for this model's architecture.`,
      );
    }
  }
  const what =
    layout.kind === 'diffusers'
      ? 'diffusers ControlNetModel weights'
      : layout.prefix === ''
        ? 'ControlNet 1.1 file (unprefixed keys)'
        : 'ControlNet 1.0 file (control_model. keys)';
  return {
    description: `${what}, config ${options.config?.label ?? "from the model's UNet"}`,
    config,
    graph: () =>
      buildComponentGraph(
        'controlnet',
        { kind: 'controlnet', config, textEmbedsDim: base.textEmbedsDim },
        {
          file,
          weightsFile: weights,
          fileKey: fileKeyFor(config),
          filePrefix: layout.kind === 'original' ? layout.prefix : undefined,
        },
        options.convertedStore,
      ),
  };
}
