import { SdError } from '../errors.ts';
import { EXTERNAL_DATA_NAMES, MODEL_INDEX, type LayoutFile } from './diffusers-layout.ts';

/**
 * The folders an ONNX export keeps its graphs in, looked for when a source has no model_index.json
 * (e.g. `schmuell/sd-turbo-ort-web`, which holds only unet/, text_encoder/ and vae_decoder/).
 */
export const USUAL_COMPONENTS: readonly string[] = [
  'unet',
  'text_encoder',
  'text_encoder_2',
  'vae_decoder',
  'vae_encoder',
];

/** Files a folder without an index may still hold; the loader falls back to the bundled tokenizer and the family's scheduler without them. */
const OPTIONAL_EXTRAS: readonly string[] = [
  'scheduler/scheduler_config.json',
  ...['tokenizer', 'tokenizer_2'].flatMap((dir) =>
    ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json'].map((f) => `${dir}/${f}`),
  ),
];

/** `unet/model.onnx`: the graph of a usual component. */
export function componentGraph(component: string): string {
  return `${component}/model.onnx`;
}

/**
 * Checks that the components found can make a pipeline (a UNet, a VAE decoder and a text encoder),
 * naming what was found and what to do otherwise.
 * @param found components of {@link USUAL_COMPONENTS} whose model.onnx exists
 */
export function requireInferableComponents(found: readonly string[], label: string): void {
  const has = (c: string): boolean => found.includes(c);
  const missing = [
    ...(has('unet') ? [] : ['unet/model.onnx']),
    ...(has('vae_decoder') ? [] : ['vae_decoder/model.onnx']),
    ...(has('text_encoder') || has('text_encoder_2') ? [] : ['text_encoder/model.onnx']),
  ];
  if (missing.length === 0) return;
  const holds = found.length === 0 ? 'none of the usual model folders' : found.map((c) => `${c}/`).join(', ');
  throw new SdError(
    'missing-file',
    `${label} has no ${MODEL_INDEX} and lacks ${missing.join(', ')} (it holds ${holds}). Expected a diffusers ONNX export: a ${MODEL_INDEX}, or at least ONNX models in unet/, text_encoder/ and vae_decoder/. Check the address, the revision (e.g. org/name@onnx) or the subfolder.`,
  );
}

/**
 * The files to fetch for a model without model_index.json, from the components found: each one's
 * model.onnx (required), its external weights and config.json (where present), and any tokenizer
 * and scheduler files. Throws 'missing-file' when the components cannot make a pipeline.
 */
export function inferredLayoutFiles(found: readonly string[], label: string): LayoutFile[] {
  requireInferableComponents(found, label);
  const files: LayoutFile[] = [];
  for (const component of USUAL_COMPONENTS.filter((c) => found.includes(c))) {
    files.push({ path: componentGraph(component), isRequired: true });
    for (const data of EXTERNAL_DATA_NAMES) files.push({ path: `${component}/${data}`, isRequired: false });
    files.push({ path: `${component}/config.json`, isRequired: false });
  }
  for (const path of OPTIONAL_EXTRAS) files.push({ path, isRequired: false });
  return files;
}
