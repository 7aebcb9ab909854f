import type { BlobLike } from '../io/blob-like.ts';
import { blobByteSource, type ByteSource } from '../safetensors/byte-source.ts';

/**
 * A safetensors weights file as the graph builder uses it: random access for the header and for
 * the tensors to widen, and byte ranges to mount as onnxruntime external data. A browser `File`,
 * a stored model's Blob (see {@link blobWeightsFile}) or a Node file handle (the CLI).
 */
export interface WeightsFile {
  /** For messages: the file's name or path. */
  readonly name: string;
  readonly source: ByteSource;
  /** Bytes `[start, end)` as external data: a Blob slice where the file is a Blob (nothing is read here), else the bytes. */
  mount(start: number, end: number): Promise<Uint8Array | BlobLike>;
  /** Offsets a mounted range must not cross (the shard ends of a sharded checkpoint presented as one file). */
  readonly segmentEnds?: readonly number[];
}

/** A weights file over a Blob or File: reads and mounts are slices, so a multi-GB file is never read whole. */
export function blobWeightsFile(blob: BlobLike, name: string): WeightsFile {
  return {
    name,
    source: blobByteSource(blob),
    mount: (start, end) => Promise.resolve(blob.slice(start, end)),
  };
}
