import { SdError } from '../errors.ts';
import type { SafetensorsWeights } from '../graphs/safetensors-weights.ts';
import type { BlobLike } from '../io/blob-like.ts';
import type { ExternalDataFile } from '../runtime/runtime.ts';
import type { WeightsFile } from './weights-file.ts';

/**
 * Where converted (widened, transposed) weights go while they are written: the default keeps them
 * in memory; the page's model store can keep the chunks as Blobs so that a reload does not convert
 * again and the converted copy is never one buffer in memory.
 */
export interface ConvertedStore {
  /** Opens converted file `name` (e.g. `unet.float32.bin`) of `byteLength` bytes, to be written in order. */
  open(name: string, byteLength: number): Promise<ConvertedWriter>;
  /** A complete converted file kept from an earlier load (the store's copy), so nothing is converted again. */
  find?(name: string, byteLength: number): Promise<Uint8Array | BlobLike | undefined>;
}

/** One converted file being written. */
export interface ConvertedWriter {
  write(chunk: Uint8Array): Promise<void> | void;
  /** The complete file, as onnxruntime should mount it. */
  close(): Promise<Uint8Array | BlobLike>;
}

/** Keeps converted files in memory, one preallocated buffer each. */
export const memoryConvertedStore: ConvertedStore = {
  open(name, byteLength) {
    const bytes = new Uint8Array(byteLength);
    let at = 0;
    return Promise.resolve({
      write(chunk) {
        bytes.set(chunk, at);
        at += chunk.byteLength;
      },
      close() {
        if (at !== byteLength)
          throw new SdError('internal', `Converted weights ${name}: wrote ${at} of ${byteLength} bytes.`);
        return Promise.resolve(bytes);
      },
    });
  },
};

/**
 * The external data a graph built with `weights` needs: the windows of the user's file that its
 * float32 tensors lie in (mounted in place) and its converted files, written once through `store`
 * in slices (float16 read and widened a few MiB at a time).
 */
export async function componentExternalData(
  weights: SafetensorsWeights,
  file: WeightsFile,
  store: ConvertedStore = memoryConvertedStore,
): Promise<ExternalDataFile[]> {
  const data: ExternalDataFile[] = [];
  for (const w of weights.mountedWindows) data.push({ path: w.location, data: await file.mount(w.start, w.end) });
  if (!weights.hasConverted) return data;
  const parts = weights.convertedParts;
  if (store.find) {
    const kept = await Promise.all(parts.map((p) => store.find!(p.location, p.byteLength)));
    if (kept.every((k) => k !== undefined))
      return [...data, ...parts.map((p, i) => ({ path: p.location, data: kept[i]! }))];
  }
  let index = 0;
  let left = parts[0]!.byteLength;
  let writer = await store.open(parts[0]!.location, parts[0]!.byteLength);
  await weights.writeConverted(async (chunk) => {
    // chunks never straddle parts: a tensor lies in one part and is written in slices of itself
    if (left === 0) {
      data.push({ path: parts[index]!.location, data: await writer.close() });
      index++;
      left = parts[index]!.byteLength;
      writer = await store.open(parts[index]!.location, left);
    }
    await writer.write(chunk);
    left -= chunk.byteLength;
  });
  data.push({ path: parts[index]!.location, data: await writer.close() });
  return data;
}
