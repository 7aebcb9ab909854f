import { f16round } from '@petamoriken/float16';

/**
 * A copy of a safetensors file whose float32 tensors are rounded to float16 precision (still stored
 * as float32). The `*.components` references were computed by diffusers from the float16 single
 * files, i.e. from the folder's weights rounded this way.
 */
export function roundFloat32ToFloat16(fileBytes: Uint8Array): Uint8Array {
  const bytes = fileBytes.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || t.dtype !== 'F32') continue;
    for (let at = 8 + headerLength + t.data_offsets[0]; at < 8 + headerLength + t.data_offsets[1]; at += 4) {
      view.setFloat32(at, f16round(view.getFloat32(at, true)), true);
    }
  }
  return bytes;
}
