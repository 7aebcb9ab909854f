import { SdError } from '../errors.ts';
import type { BlobLike } from '../io/blob-like.ts';
import type { ConvertedStore, ConvertedWriter } from '../models/component-weights.ts';
import type { ChunkStore } from './chunk-store.ts';
import type { BlobFactory } from './platform.ts';
import { chunkCount, type FileRecord } from './records.ts';

/**
 * The folder of a stored model that holds its converted weights (float16 widened to float32 for
 * adapters without `shader-f16`), beside the files it was downloaded with. Names say component and
 * dtype (`unet.float32.bin`, `unet.float32.bin.1`); they go with the model when it is deleted.
 */
export const CONVERTED_DIR = '.converted/';

/** Whether a stored path is a converted-weights file rather than a file of the model's source. */
export function isConvertedPath(path: string): boolean {
  return path.startsWith(CONVERTED_DIR);
}

/**
 * Converted weights kept in the store under `modelId`, in chunks of `chunkBytes`: written as the
 * graph builder widens them (one chunk in memory at a time) and handed to onnxruntime as a Blob
 * over the chunk Blobs, so the converted copy is never one buffer here; a later load finds the
 * complete file and converts nothing. A conversion that stops midway leaves no complete record.
 */
export function storeConvertedFiles(
  chunks: ChunkStore,
  createBlob: BlobFactory,
  modelId: string,
  chunkBytes: number,
  now: () => number,
): ConvertedStore {
  const blobOf = async (path: string, sizeBytes: number): Promise<BlobLike | undefined> => {
    const parts: BlobLike[] = [];
    for (let i = 0; i < chunkCount(sizeBytes, chunkBytes); i++) {
      const chunk = await chunks.getChunk(modelId, path, i);
      if (!chunk) return undefined;
      parts.push(chunk);
    }
    return createBlob(parts);
  };
  return {
    async find(name, byteLength) {
      const path = CONVERTED_DIR + name;
      const record = await chunks.getFile(modelId, path);
      if (record?.state !== 'complete' || record.sizeBytes !== byteLength || record.chunkBytes !== chunkBytes)
        return undefined;
      return blobOf(path, byteLength);
    },
    async open(name, byteLength): Promise<ConvertedWriter> {
      const path = CONVERTED_DIR + name;
      const inventory = await chunks.inventory();
      await chunks.deleteFile(modelId, path, inventory, await chunks.getFile(modelId, path));
      let buffer: Uint8Array | undefined;
      let filled = 0;
      let index = 0;
      let written = 0;
      const flush = async (): Promise<void> => {
        if (!buffer || filled === 0) return;
        await chunks.putChunk(modelId, path, index++, buffer.subarray(0, filled));
        filled = 0;
      };
      return {
        async write(chunk) {
          for (let at = 0; at < chunk.byteLength;) {
            buffer ??= new Uint8Array(Math.min(chunkBytes, byteLength));
            const n = Math.min(buffer.byteLength - filled, chunk.byteLength - at);
            buffer.set(chunk.subarray(at, at + n), filled);
            filled += n;
            at += n;
            written += n;
            if (filled === buffer.byteLength) await flush();
          }
        },
        async close() {
          await flush();
          buffer = undefined;
          if (written !== byteLength)
            throw new SdError('internal', `Converted weights ${name}: wrote ${written} of ${byteLength} bytes.`);
          const record: FileRecord = {
            spec: { path, sizeBytes: byteLength },
            chunkBytes,
            state: 'complete',
            storedChunks: index,
            partialBytes: 0,
            sizeBytes: byteLength,
            updatedAtMs: now(),
          };
          await chunks.putFile(modelId, record);
          const blob = await blobOf(path, byteLength);
          if (!blob)
            throw new SdError('missing-file', `Converted weights ${name} vanished from the store while written.`);
          return blob;
        },
      };
    },
  };
}
