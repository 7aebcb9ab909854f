/**
 * The element types of the safetensors format (the `dtype` strings of its JSON header) and their
 * sizes in bytes. Everything a Stable Diffusion checkpoint holds is F16, BF16 or F32; the integer
 * types appear in what a loader ignores (`position_ids` is I64), FP8 in some recent downloads.
 */
export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

/** A safetensors element type, e.g. `"F16"`. */
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

/** Whether `name` is a dtype string the reader knows. */
export function isSafetensorsDtype(name: string): name is SafetensorsDtype {
  return Object.hasOwn(SAFETENSORS_DTYPE_BYTES, name);
}
