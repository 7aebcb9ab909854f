import { strFromU8 } from 'fflate';
import { SdError } from '../errors.ts';
import type { BlobModelFiles } from './blob-model-files.ts';
import { layoutFiles, MODEL_INDEX, requireLayoutFiles } from './diffusers-layout.ts';
import type { ModelPlan } from './model-plan.ts';
import { modelIdOf, type ModelSourceDescriptor } from './model-source.ts';
import type { BlobLike } from './platform.ts';

/** A file of a folder the user picked or dropped: its path inside the folder and its contents (a File). */
export interface LocalFileEntry {
  path: string;
  file: BlobLike;
}

/**
 * Makes paths relative to the model folder: a picked folder's files come as "sd15/unet/model.onnx"
 * (webkitRelativePath), so the folder holding model_index.json becomes the root and files outside
 * it are dropped. Backslashes become slashes.
 */
export function normalizeLocalEntries(entries: readonly LocalFileEntry[], name: string): LocalFileEntry[] {
  const clean = entries.map((e) => ({ path: e.path.replace(/\\/g, '/').replace(/^\/+/, ''), file: e.file }));
  const indexes = clean.map((e) => e.path).filter((p) => p === MODEL_INDEX || p.endsWith(`/${MODEL_INDEX}`));
  // the shallowest model_index.json marks the model root
  const index = indexes.sort((a, b) => a.split('/').length - b.split('/').length)[0];
  if (index === undefined) {
    throw new SdError('missing-file', `The folder ${name} has no ${MODEL_INDEX}: pick the folder of a diffusers ONNX model (the one holding model_index.json, unet/, text_encoder/, ...).`);
  }
  const root = index.slice(0, index.length - MODEL_INDEX.length);
  return clean.filter((e) => e.path.startsWith(root)).map((e) => ({ path: e.path.slice(root.length), file: e.file }));
}

/** A picked folder read in place: nothing is copied into the store. */
export function localModelFiles(entries: readonly LocalFileEntry[], name: string): BlobModelFiles {
  const byPath = new Map(normalizeLocalEntries(entries, name).map((e) => [e.path, e.file]));
  const file = (path: string): BlobLike => {
    const blob = byPath.get(path);
    if (!blob) throw new SdError('missing-file', `The folder ${name} has no ${path}. Pick the complete model folder.`);
    return blob;
  };
  const readBytes = async (path: string): Promise<Uint8Array> => new Uint8Array(await file(path).arrayBuffer());
  return {
    label: name,
    async exists(path) {
      return byPath.has(path);
    },
    readBytes,
    async readText(path) {
      return strFromU8(await readBytes(path));
    },
    async readBlob(path) {
      return file(path);
    },
  };
}

/** Plans the import of a picked folder into the store: the files its model_index.json says the pipeline needs. */
export async function planLocalModel(entries: readonly LocalFileEntry[], name: string): Promise<ModelPlan> {
  const byPath = new Map(normalizeLocalEntries(entries, name).map((e) => [e.path, e.file]));
  const index = byPath.get(MODEL_INDEX) as BlobLike;
  const layout = layoutFiles(strFromU8(new Uint8Array(await index.arrayBuffer())), name);
  requireLayoutFiles(layout, (path) => byPath.has(path), name);
  const source: ModelSourceDescriptor = { kind: 'local', name };
  const blobs = new Map<string, BlobLike>();
  const files = layout.flatMap((f) => {
    const blob = byPath.get(f.path);
    if (!blob) return [];
    blobs.set(f.path, blob);
    return [{ path: f.path, sizeBytes: blob.size }];
  });
  return { id: modelIdOf(source), label: name, source, files, fetched: [], blobs };
}
