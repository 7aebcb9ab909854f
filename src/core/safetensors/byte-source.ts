import { SdError } from '../errors.ts';
import type { BlobLike } from '../io/blob-like.ts';

/**
 * Random access to the bytes of one file, so a multi-gigabyte checkpoint is read by ranges and
 * never whole: a browser `File`/`Blob` (see {@link blobByteSource}), a Node file handle (the CLI
 * wraps `FileHandle.read`), the model store's chunked Blobs, or bytes already in memory.
 */
export interface ByteSource {
  /** Total length of the file in bytes. */
  readonly size: number;
  /**
   * Reads `length` bytes starting at `offset`. May return fewer bytes only when the range runs past
   * the end of the file; callers check the length (see {@link readExactly}).
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A source over bytes already in memory (tests, small files); reads are views, not copies. */
export function bytesByteSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read(offset, length) {
      const start = Math.min(offset, bytes.byteLength);
      return Promise.resolve(bytes.subarray(start, Math.min(start + length, bytes.byteLength)));
    },
  };
}

/** A source over a Blob or File: each read slices the Blob, so only that range is loaded. */
export function blobByteSource(blob: BlobLike): ByteSource {
  return {
    size: blob.size,
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

/**
 * Reads exactly `length` bytes at `offset`, or throws an `integrity` error naming the file, the
 * range and how much of it exists (the file was truncated, typically an interrupted download).
 */
export async function readExactly(
  source: ByteSource,
  offset: number,
  length: number,
  fileName: string,
): Promise<Uint8Array> {
  if (offset + length > source.size) throw truncatedError(fileName, offset + length, source.size);
  const bytes = await source.read(offset, length);
  if (bytes.byteLength !== length) throw truncatedError(fileName, offset + length, offset + bytes.byteLength);
  return bytes;
}

/** The error for a file shorter than its own header says it is. */
export function truncatedError(fileName: string, neededBytes: number, sizeBytes: number): SdError {
  return new SdError(
    'integrity',
    `"${fileName}" is truncated: it needs at least ${neededBytes} bytes but has ${sizeBytes}. ` +
      'The download was probably interrupted: download the file again (or delete it from the store).',
  );
}
