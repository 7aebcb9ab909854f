/** The typed arrays {@link concatArrays} joins. */
type JoinableArray = Float32Array | Uint8Array;

/**
 * The parts one after the other in a new array of their type. A single part is returned as it is,
 * not copied: callers must not write to the result when they did not create the parts.
 */
export function concatArrays<T extends JoinableArray>(parts: readonly T[], make: (length: number) => T): T {
  if (parts.length === 1) return parts[0]!;
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** {@link concatArrays} for bytes. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return concatArrays(parts, (n) => new Uint8Array(n));
}

/** {@link concatArrays} for float32 values (batches of latents or embeddings). */
export function concatFloats(parts: readonly Float32Array[]): Float32Array {
  return concatArrays(parts, (n) => new Float32Array(n));
}
