import { SdError } from '../errors.ts';

/** The file every model folder starts from. */
export const MODEL_INDEX = 'model_index.json';

/** Names external weights go by next to model.onnx, in the exports we know (torch.onnx: weights.pb; optimum: model.onnx_data). */
export const EXTERNAL_DATA_NAMES: readonly string[] = ['weights.pb', 'model.onnx_data', 'model.onnx.data'];

/** A file a model may need, and whether the model is unusable without it. */
export interface LayoutFile {
  path: string;
  isRequired: boolean;
}

const ONNX_COMPONENT = /^(text_encoder(_\d+)?|unet|vae_decoder|vae_encoder)$/;
const TOKENIZER = /^tokenizer(_\d+)?$/;
/** Components the pipeline runs without (img2img loads the VAE encoder only when used). */
const OPTIONAL_COMPONENTS = new Set(['vae_encoder']);

/**
 * The files of a diffusers ONNX model the pipeline reads, derived from its model_index.json: for each
 * ONNX component its model.onnx, any external weights and config.json; the tokenizer files; the
 * scheduler config. Components the pipeline never uses (safety checker, feature extractor) are left
 * out, so their weights are not downloaded. Optional entries are fetched only where they exist.
 */
export function layoutFiles(modelIndexText: string, label: string): LayoutFile[] {
  let index: unknown;
  try {
    index = JSON.parse(modelIndexText);
  } catch (cause) {
    throw new SdError(
      'missing-file',
      `${label}/${MODEL_INDEX} is not valid JSON (${String(cause)}): expected a diffusers model index. Check the model address.`,
      { cause },
    );
  }
  if (typeof index !== 'object' || index === null || Array.isArray(index)) {
    throw new SdError(
      'missing-file',
      `${label}/${MODEL_INDEX} is not a JSON object: expected a diffusers model index. Check the model address.`,
    );
  }
  const files: LayoutFile[] = [{ path: MODEL_INDEX, isRequired: true }];
  const addOnnx = (name: string): void => {
    if (files.some((f) => f.path === `${name}/model.onnx`)) return;
    files.push({ path: `${name}/model.onnx`, isRequired: !OPTIONAL_COMPONENTS.has(name) });
    for (const data of EXTERNAL_DATA_NAMES) files.push({ path: `${name}/${data}`, isRequired: false });
    files.push({ path: `${name}/config.json`, isRequired: false });
  };
  for (const [name, value] of Object.entries(index)) {
    // a component is listed as [library, class]; [null, null] marks one left out of the export
    if (name.startsWith('_') || !Array.isArray(value) || value[1] === null || value[1] === undefined) continue;
    if (ONNX_COMPONENT.test(name)) addOnnx(name);
    else if (name === 'vae') {
      // ONNX repositories that kept the PyTorch model index (e.g. SD-Turbo for the web) list one
      // "vae" while the export splits it into decoder and encoder folders
      addOnnx('vae_decoder');
      addOnnx('vae_encoder');
    } else if (TOKENIZER.test(name)) {
      for (const file of ['vocab.json', 'merges.txt']) files.push({ path: `${name}/${file}`, isRequired: true });
      for (const file of ['tokenizer_config.json', 'special_tokens_map.json'])
        files.push({ path: `${name}/${file}`, isRequired: false });
    } else if (name === 'scheduler') {
      files.push({ path: 'scheduler/scheduler_config.json', isRequired: true });
    }
  }
  if (!files.some((f) => f.path === 'unet/model.onnx')) {
    throw new SdError(
      'missing-file',
      `${label}/${MODEL_INDEX} lists no unet component: expected a diffusers ONNX export (unet, text_encoder, vae_decoder, scheduler, tokenizer).`,
    );
  }
  return files;
}

/** Throws 'missing-file' naming every required file the source lacks. */
export function requireLayoutFiles(
  layout: readonly LayoutFile[],
  isPresent: (path: string) => boolean,
  label: string,
): void {
  const missing = layout.filter((f) => f.isRequired && !isPresent(f.path)).map((f) => f.path);
  if (missing.length > 0) {
    throw new SdError(
      'missing-file',
      `${label} lacks ${missing.join(', ')}. A diffusers ONNX export has a model.onnx in each model folder; for Hugging Face repositories that keep ONNX files on another branch, add the revision (e.g. org/name@onnx) or the subfolder.`,
    );
  }
}
