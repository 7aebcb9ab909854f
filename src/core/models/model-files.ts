import { SdError } from '../errors.ts';
import type { BlobLike } from '../io/blob-like.ts';
import type { ExternalDataFile } from '../runtime/runtime.ts';

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
  /**
   * The ONNX graph of a component built from safetensors weights (see `built-model-files.ts`), with
   * the external data it points at; undefined for a component this source holds as `model.onnx`.
   */
  componentGraph?(component: string): Promise<ComponentGraph | undefined>;
}

/** A component's ONNX model and its external data files, ready for `Runtime.createSession`. */
export interface ComponentGraph {
  model: Uint8Array;
  externalData: ExternalDataFile[];
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
