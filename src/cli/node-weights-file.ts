import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from '../core/safetensors/byte-source.ts';
import type { WeightsFile } from '../core/models/weights-file.ts';

/** Bytes per read call: Node refuses single reads past 2 GiB. */
const PIECE_BYTES = 1 << 30;

/** A ByteSource over a file on disk through a Node file handle: reads only the ranges asked for. */
export interface NodeByteSource extends ByteSource {
  /** Bytes read so far (tests check that a header read does not read the file). */
  readonly bytesRead: number;
  close(): Promise<void>;
}

/** Opens `path` for random access; close it when done. */
export async function nodeFileByteSource(path: string): Promise<NodeByteSource> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  let bytesRead = 0;
  return {
    size,
    get bytesRead() {
      return bytesRead;
    },
    async read(offset, length) {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let at = 0;
      while (at < buffer.byteLength) {
        const n = Math.min(PIECE_BYTES, buffer.byteLength - at);
        const result = await handle.read(buffer, at, n, offset + at);
        if (result.bytesRead === 0) break;
        at += result.bytesRead;
      }
      bytesRead += at;
      return buffer.subarray(0, at);
    },
    close: () => handle.close(),
  };
}

/**
 * A safetensors file on disk as the graph builder reads it. Mounted ranges are read into memory
 * (onnxruntime-node takes external data as bytes), only the component's own range each time.
 */
export async function nodeWeightsFile(path: string): Promise<WeightsFile & { close(): Promise<void> }> {
  const source = await nodeFileByteSource(path);
  return {
    name: basename(path),
    source,
    mount: (start, end) => source.read(start, end - start),
    close: () => source.close(),
  };
}
