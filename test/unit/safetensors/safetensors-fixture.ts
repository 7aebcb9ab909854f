/** One tensor for {@link buildSafetensors}: its dtype string, shape and raw bytes. */
export interface TestTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/**
 * Writes a safetensors file in memory: u64 little-endian header length, JSON header padded with
 * spaces to a multiple of 8, then the tensors end to end. `patch` edits the header before it is
 * written, to make broken files.
 */
export function buildSafetensors(
  tensors: Record<string, TestTensor>,
  patch?: (header: Record<string, unknown>) => void,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  patch?.(header);
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  return out;
}

/** Float32 values as little-endian bytes. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
