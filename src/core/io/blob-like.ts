/**
 * The part of the platform's `Blob` (browser File/Blob, Node's Blob) the core uses: its size, its
 * bytes, and slices that are read only when asked. Stored model files, picked local files and
 * external weights all travel as one, so nothing is read into memory before it is needed.
 */
export interface BlobLike {
  readonly size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
  slice(start?: number, end?: number): BlobLike;
}
