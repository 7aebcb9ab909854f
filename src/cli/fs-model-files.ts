import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { SdError } from '../core/errors.ts';
import type { ModelFiles } from '../core/models/model-files.ts';
import { readLargeFile } from './large-file-reader.ts';

/** A model folder on the local disk. */
export function folderModelFiles(dir: string): ModelFiles & { name: string } {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new SdError(
      'missing-file',
      `Model folder ${root} does not exist: expected a folder in the diffusers ONNX layout (model_index.json, unet/, text_encoder/, vae_decoder/, ...).`,
    );
  }
  const full = (path: string): string => resolve(root, path);
  return {
    label: root,
    name: basename(root),
    async exists(path) {
      return existsSync(full(path));
    },
    async readText(path) {
      return readFile(full(path), 'utf8');
    },
    readBytes(path) {
      // in pieces: fs.readFile refuses files over 2 GiB (full-size UNet weights)
      return readLargeFile(full(path));
    },
  };
}
