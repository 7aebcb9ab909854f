import { copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXTERNAL_DATA_NAMES } from '../../../src/core/models/diffusers-layout.ts';
import { MODELS } from '../../fixtures.ts';

/** The fixture the no-index layout is made from. */
export const ORT_WEB_SOURCE = 'tiny-sd-turbo';

/** The folders `schmuell/sd-turbo-ort-web` (the onnxruntime web sample's repository) holds. */
const ORT_WEB_COMPONENTS = ['unet', 'text_encoder', 'vae_decoder'];

/**
 * The paths of the tiny SD-Turbo fixture laid out as the onnxruntime web sample's repository:
 * each component's model.onnx and any external data, no model_index.json, no tokenizer, no
 * scheduler, no VAE encoder.
 */
export function ortWebPaths(): string[] {
  return ORT_WEB_COMPONENTS.flatMap((component) =>
    readdirSync(join(MODELS, ORT_WEB_SOURCE, component))
      .filter((name) => name === 'model.onnx' || EXTERNAL_DATA_NAMES.includes(name))
      .map((name) => `${component}/${name}`),
  );
}

/**
 * Builds that layout in a fresh temporary folder (the shared fixture is copied there, never into
 * the repository) and returns the model folder's path: `<tmp>/<name>`.
 */
export function makeOrtWebFolder(name = 'sd-turbo-ort-web'): string {
  const root = join(mkdtempSync(join(tmpdir(), 'sd-no-index-')), name);
  for (const path of ortWebPaths()) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    copyFileSync(join(MODELS, ORT_WEB_SOURCE, path), join(root, path));
  }
  return root;
}
