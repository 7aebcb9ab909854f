import type { WeightWindow } from '../graphs/safetensors-weights.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';

/**
 * Largest byte range mounted as one external-data file, and largest converted-weights file:
 * onnxruntime-web addresses each with 32-bit offsets (under 4 GiB) and reads a Blob into one
 * ArrayBuffer, so 2 GiB keeps every browser's ArrayBuffer limit too.
 */
export const MAX_MOUNT_BYTES = 2 ** 31;

/**
 * The byte ranges of `file` that hold its float32 tensors whose names start with `prefix` (the
 * only ones a graph mounts in place), grouped into windows of at most `maxBytes` that never
 * cross a segment end. Named `${location}.0`, `${location}.1`, …; unused ones are never mounted.
 */
export function weightWindows(
  file: SafetensorsFile,
  location: string,
  options: { prefix?: string; maxBytes?: number; segmentEnds?: readonly number[] } = {},
): WeightWindow[] {
  const maxBytes = options.maxBytes ?? MAX_MOUNT_BYTES;
  const prefix = options.prefix ?? '';
  const ends = options.segmentEnds ?? [];
  const segment = (offset: number): number => ends.findIndex((end) => offset < end);
  const tensors = [...file.tensors.values()]
    .filter((t) => t.dtype === 'F32' && t.name.startsWith(prefix) && t.byteLength > 0)
    .sort((a, b) => a.offset - b.offset);
  const windows: WeightWindow[] = [];
  let current: WeightWindow | undefined;
  for (const t of tensors) {
    const end = t.offset + t.byteLength;
    if (current === undefined || end - current.start > maxBytes || segment(t.offset) !== segment(current.start)) {
      current = { location: `${location}.${windows.length}`, start: t.offset, end };
      windows.push(current);
    } else current.end = Math.max(current.end, end);
  }
  return windows;
}
