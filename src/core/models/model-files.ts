import { SdError } from '../errors.ts';
import type { BlobLike } from '../io/blob-like.ts';

/**
 * Read access to a model folder in the diffusers ONNX layout, wherever it lives: a local folder
 * (Node), a static URL, Hugging Face, or the IndexedDB store. Paths are relative to the folder
 * root, with forward slashes, e.g. "unet/model.onnx".
 */
export interface ModelFiles {
  /** Where the model comes from, for messages: a folder path, URL or repository id. */
  readonly label: string;
  exists(path: string): Promise<boolean>;
  readText(path: string): Promise<string>;
  readBytes(path: string): Promise<Uint8Array>;
  /**
   * The file as a Blob without reading it, where the source keeps files as Blobs (the IndexedDB
   * store, a picked local folder): multi-GB external weights then reach onnxruntime-web without
   * being joined into one buffer here.
   */
  readBlob?(path: string): Promise<BlobLike>;
}

/** Parses a JSON file of the model, naming the file when it is not valid JSON. */
export async function readJson<T>(files: ModelFiles, path: string): Promise<T> {
  const text = await files.readText(path);
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new SdError(
      'unsupported-model',
      `${files.label}/${path} is not valid JSON (${String(cause)}). Re-download the model or fix the file.`,
      { cause },
    );
  }
}
