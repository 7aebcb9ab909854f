import { strFromU8 } from 'fflate';
import { SdError } from '../errors.ts';
import type { BlobModelFiles } from './blob-model-files.ts';
import { layoutFiles, MODEL_INDEX, requireLayoutFiles } from '../models/diffusers-layout.ts';
import { componentGraph, inferredLayoutFiles, USUAL_COMPONENTS } from '../models/inferred-layout.ts';
import type { ModelPlan } from './model-plan.ts';
import { isSafetensorsListing, safetensorsLayout } from './safetensors-plan.ts';
import { modelIdOf, type ModelSourceDescriptor } from './model-source.ts';
import type { BlobLike } from '../io/blob-like.ts';

/** A file of a folder the user picked or dropped: its path inside the folder and its contents (a File). */
export interface LocalFileEntry {
  path: string;
  file: BlobLike;
}

/** The shallowest path that is `marker` or ends in `/marker`, minus the marker: "sd/" for "sd/unet/model.onnx". */
function shallowestRoot(paths: readonly string[], marker: string): string | undefined {
  const hits = paths.filter((p) => p === marker || p.endsWith(`/${marker}`));
  const shallowest = hits.sort((a, b) => a.split('/').length - b.split('/').length)[0];
  return shallowest === undefined ? undefined : shallowest.slice(0, shallowest.length - marker.length);
}

/**
 * Makes paths relative to the model folder: a picked folder's files come as "sd15/unet/model.onnx"
 * (webkitRelativePath), so the folder holding model_index.json (or, without one, the folder
 * holding unet/model.onnx) becomes the root and files outside it are dropped. Backslashes become slashes.
 */
export function normalizeLocalEntries(entries: readonly LocalFileEntry[], name: string): LocalFileEntry[] {
  const clean = entries.map((e) => ({ path: e.path.replace(/\\/g, '/').replace(/^\/+/, ''), file: e.file }));
  const single = singleCheckpointPath(clean.map((e) => e.path));
  if (single !== undefined) return [{ path: single.split('/').pop() as string, file: clean[0]!.file }];
  const paths = clean.map((e) => e.path);
  const root = shallowestRoot(paths, MODEL_INDEX) ?? shallowestRoot(paths, componentGraph('unet'));
  if (root === undefined) {
    throw new SdError(
      'missing-file',
      `The folder ${name} has no ${MODEL_INDEX} and no unet/model.onnx: pick the folder of a diffusers model (the one holding model_index.json, or unet/, text_encoder/, vae_decoder/ with a model.onnx each), or one .safetensors checkpoint.`,
    );
  }
  return clean.filter((e) => e.path.startsWith(root)).map((e) => ({ path: e.path.slice(root.length), file: e.file }));
}

/**
 * The path of the one `.safetensors` checkpoint a model consists of (a picked or dropped file, a
 * file downloaded by URL); undefined for folders.
 */
export function singleCheckpointPath(paths: readonly string[]): string | undefined {
  return paths.length === 1 && /\.safetensors$/i.test(paths[0]!) ? paths[0] : undefined;
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

/**
 * Plans the import of a picked folder into the store: the files its model_index.json says the
 * pipeline needs, or without an index, those of the usual model folders it holds.
 */
export async function planLocalModel(entries: readonly LocalFileEntry[], name: string): Promise<ModelPlan> {
  const byPath = new Map(normalizeLocalEntries(entries, name).map((e) => [e.path, e.file]));
  const index = byPath.get(MODEL_INDEX);
  const found = USUAL_COMPONENTS.filter((c) => byPath.has(componentGraph(c)));
  const bytesOf = async (path: string): Promise<Uint8Array> => new Uint8Array(await byPath.get(path)!.arrayBuffer());
  let paths: string[];
  if (singleCheckpointPath([...byPath.keys()]) !== undefined) paths = [...byPath.keys()];
  else if (index && isSafetensorsListing((path) => byPath.has(path))) {
    const probe = { has: (path: string) => Promise.resolve(byPath.has(path)), read: bytesOf };
    paths = (await safetensorsLayout(strFromU8(await bytesOf(MODEL_INDEX)), probe, name)).paths;
  } else {
    const layout = index ? layoutFiles(strFromU8(await bytesOf(MODEL_INDEX)), name) : inferredLayoutFiles(found, name);
    requireLayoutFiles(layout, (path) => byPath.has(path), name);
    paths = layout.map((f) => f.path);
  }
  const source: ModelSourceDescriptor = { kind: 'local', name };
  const blobs = new Map<string, BlobLike>();
  const files = paths.flatMap((path) => {
    const blob = byPath.get(path);
    if (!blob) return [];
    blobs.set(path, blob);
    return [{ path, sizeBytes: blob.size }];
  });
  return { id: modelIdOf(source), label: name, source, files, fetched: [], blobs };
}
