import { SdError } from '../errors.ts';
import type { ComponentGraph, ModelFiles } from './model-files.ts';

/** Options of {@link builtModelFiles}. */
export interface BuiltModelFilesOptions {
  label: string;
  /** Files made here (`model_index.json`, `scheduler/scheduler_config.json`, `vae/config.json`), by path. */
  texts: ReadonlyMap<string, string>;
  /** The folder other paths are read from (tokenizers, configs); none for a single file without a config. */
  base?: ModelFiles;
  /** Builds a component's graph (`text_encoder`, `unet`, `vae_decoder`, …) when the loader opens it. */
  components: Readonly<Record<string, () => Promise<ComponentGraph>>>;
}

/**
 * A model built from safetensors weights, presented as the diffusers ONNX layout the loader reads:
 * each built component answers to `{component}/model.onnx` and hands its graph and external data
 * through {@link ModelFiles.componentGraph}; the index, scheduler and VAE configs come from
 * `texts`, everything else (tokenizers) from `base`. Graphs are built on first use, so the VAE
 * encoder costs nothing until img2img asks for it.
 */
export function builtModelFiles(options: BuiltModelFilesOptions): ModelFiles {
  const { label, texts, base, components } = options;
  const graphOf = (path: string): string | undefined => {
    const m = /^([^/]+)\/model\.onnx$/.exec(path);
    return m !== null && m[1]! in components ? m[1] : undefined;
  };
  const missing = (path: string): SdError =>
    new SdError('missing-file', `${label} has no ${path}: the model is built from safetensors weights.`);
  return {
    label,
    async exists(path) {
      if (texts.has(path) || graphOf(path) !== undefined) return true;
      return base !== undefined && (await base.exists(path));
    },
    async readText(path) {
      const text = texts.get(path);
      if (text !== undefined) return text;
      if (base === undefined) throw missing(path);
      return base.readText(path);
    },
    async readBytes(path) {
      if (base === undefined || texts.has(path) || graphOf(path) !== undefined) throw missing(path);
      return base.readBytes(path);
    },
    async componentGraph(component) {
      return components[component]?.();
    },
  };
}
