import type { ModelFiles } from '../models/model-files.ts';
import { EXTERNAL_DATA_NAMES } from '../models/diffusers-layout.ts';
import type { BlobLike } from '../io/blob-like.ts';

/**
 * {@link ModelFiles} that can also hand out a file as a Blob without reading it: the stored model
 * (a Blob made of its chunk Blobs) or a local folder (the picked File). onnxruntime-web's
 * `externalData` accepts a Blob per file, so multi-GB weights reach it without this code ever
 * joining them into one buffer (onnxruntime-web reads the Blob once, into the buffer it needs).
 */
export interface BlobModelFiles extends ModelFiles {
  readBlob(path: string): Promise<BlobLike>;
}

/** One external-data entry for `InferenceSession.create`: `path` as written inside the .onnx. */
export interface ExternalDataBlob {
  path: string;
  data: BlobLike;
}

/**
 * The external weights next to `{component}/model.onnx` (weights.pb, model.onnx_data,
 * model.onnx.data), as Blobs, named by file name, the location string the exporters write into
 * the graph.
 */
export async function externalDataBlobs(files: BlobModelFiles, component: string): Promise<ExternalDataBlob[]> {
  const found: ExternalDataBlob[] = [];
  for (const name of EXTERNAL_DATA_NAMES) {
    const path = `${component}/${name}`;
    if (await files.exists(path)) found.push({ path: name, data: await files.readBlob(path) });
  }
  return found;
}
