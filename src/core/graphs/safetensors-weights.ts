import { SdError } from '../errors.ts';
import type { GraphBuilder } from '../onnx/graph-builder.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import type { SafetensorsTensorInfo } from '../safetensors/safetensors-header.ts';
import { floatBytesToFloat32 } from '../safetensors/widen.ts';

/**
 * Where a diffusers weight comes from in the file, when it is more than the tensor of the same name:
 * a tensor under another key, possibly stored with another shape (same bytes, reshaped at bind:
 * `[C, C, 1, 1]` as `[C, C]`), a contiguous element range of it (q, k or v of a packed
 * projection), or its 2-D transpose (made in the converted buffer).
 */
export interface WeightSource {
  /** Key of the tensor in the file. */
  tensor: string;
  /** The shape the file tensor must have (default: the shape the graph binds). */
  shape?: readonly number[];
  /** Row-major elements `[start, start + count)` of the file tensor; count = product of the bound shape. */
  range?: { start: number; count: number };
  /** The bound weight is the transpose of a 2-D file tensor (shape [b, a] for a bound [a, b]). */
  transpose?: boolean;
}

/** A tensor range to write into the converted-weights buffer; ranges follow each other in bind order. */
interface PendingConversion {
  info: SafetensorsTensorInfo;
  start: number;
  count: number;
  /** [rows, cols] of the source matrix, when it is written transposed. */
  transpose?: readonly [number, number];
}

/**
 * Weights whose values change at load (LoRA merges). A patched weight keeps its place in the
 * mounted windows and the converted file (their layout does not depend on the patch), but the
 * graph reads it from a buffer of its own, filled by {@link SafetensorsWeights.writePatched}.
 */
export interface WeightPatch {
  /** External-data location of the patched weights' float32 buffer. */
  location: string;
  /** Whether weight `key`, bound with `shape`, is patched (asked once per weight, in bind order). */
  touches(key: string, shape: readonly number[]): boolean;
}

/** A patched weight: its source in the file and its place in the patched buffer. */
interface PatchedWeight extends PendingConversion {
  key: string;
  /** Byte offset in the patched buffer. */
  offset: number;
}

/** Options of {@link SafetensorsWeights}. */
export interface SafetensorsWeightsOptions {
  /** External-data location of the safetensors file itself (its float32 tensors are used in place). */
  location: string;
  /** Location of the buffer that receives converted (widened) tensors. */
  convertedLocation: string;
  /**
   * Maps a diffusers key (`text_model.final_layer_norm.weight`) and the shape the graph binds to the
   * file's key (single files add a prefix) or to a {@link WeightSource} (renamed, reshaped, split or
   * transposed tensors of LDM checkpoints).
   */
  fileKey?: (diffusersKey: string, expectedShape: readonly number[]) => string | WeightSource;
  /**
   * Byte ranges of the file to mount as separate external-data files instead of the whole file at
   * `location` (onnxruntime-web addresses each mounted file with 32-bit offsets and reads a Blob
   * whole: mount only what the graph needs). Each float32 tensor must lie inside one of them; see
   * {@link SafetensorsWeights.mountedWindows}.
   */
  windows?: readonly WeightWindow[];
  /** Largest converted file in bytes: past it, converted tensors go to `convertedLocation.1`, `.2`, … (default: one file). */
  convertedPartBytes?: number;
  /** Weights changed at load (LoRA merges): bound to their own buffer, see {@link SafetensorsWeights.writePatched}. */
  patch?: WeightPatch;
}

/** A byte range `[start, end)` of the weights file, mounted as its own external-data file named `location`. */
export interface WeightWindow {
  location: string;
  start: number;
  end: number;
}

/** One converted-weights file: its location in the graph and its size; parts follow each other in {@link SafetensorsWeights.writeConverted}'s stream. */
export interface ConvertedPart {
  location: string;
  byteLength: number;
}

/** Elements widened per read, so a large tensor never needs its float16 and float32 copies whole at once. */
const CONVERT_SLICE_ELEMENTS = 1 << 22;

/**
 * Binds graph initializers to tensors of one safetensors file, checking each tensor's shape against
 * what the config implies. The graph is float32: float32 tensors (and contiguous element ranges of
 * them, reshaped as needed) are external data pointing at their byte range in the file itself (no
 * copy); float16 and bfloat16 tensors, and transposed ones, are written once into a separate
 * converted buffer ({@link writeConverted}) that the graph points at instead. Single-file
 * checkpoints route diffusers keys to their tensors through `fileKey` ({@link WeightSource}).
 */
export class SafetensorsWeights {
  private readonly pending: PendingConversion[] = [];
  private convertedBytes = 0;
  private readonly parts: ConvertedPart[] = [];
  /** Windows bound so far by location, each ending at the last byte used. */
  private readonly used = new Map<string, WeightWindow>();
  private readonly patched: PatchedWeight[] = [];
  private patchedBytes = 0;

  constructor(
    readonly file: SafetensorsFile,
    private readonly options: SafetensorsWeightsOptions,
  ) {}

  /** Whether any tensor needs the converted buffer (then pass it as external data too). */
  get hasConverted(): boolean {
    return this.pending.length > 0;
  }

  /** Size in bytes of the converted-weights buffer. */
  get convertedByteLength(): number {
    return this.convertedBytes;
  }

  /** The converted-weights files in stream order (one unless `convertedPartBytes` split them). */
  get convertedParts(): readonly ConvertedPart[] {
    return this.parts;
  }

  /**
   * The `windows` that float32 tensors were bound to, each ending at the last byte used: mount
   * bytes `[start, end)` of the file under `location`.
   */
  get mountedWindows(): readonly WeightWindow[] {
    return [...this.used.values()];
  }

  /**
   * Adds the float32 initializer named `key` to `g`, after checking that the file holds it with
   * `expectedShape` (or the shape its {@link WeightSource} gives). Returns the initializer's name
   * (the diffusers key).
   */
  bind(g: GraphBuilder, key: string, expectedShape: readonly number[]): string {
    const mapped = this.options.fileKey?.(key, expectedShape) ?? key;
    const source: WeightSource = typeof mapped === 'string' ? { tensor: mapped } : mapped;
    const info = this.file.tensor(source.tensor);
    const fileShape = source.shape ?? (source.transpose === true ? [...expectedShape].reverse() : expectedShape);
    if (info.shape.length !== fileShape.length || info.shape.some((d, i) => d !== fileShape[i])) {
      throw new SdError(
        'unsupported-model',
        `Tensor "${info.name}" in "${this.file.fileName}" has shape [${info.shape.join(', ')}] but the config implies [${fileShape.join(', ')}]. ` +
          'The weights do not belong to this config: pass the config of the model these weights come from.',
      );
    }
    const count = expectedShape.reduce((a, b) => a * b, 1);
    const total = info.shape.reduce((a, b) => a * b, 1);
    const start = source.range?.start ?? 0;
    if (
      (source.range?.count ?? total) !== count ||
      start < 0 ||
      start + count > total ||
      (source.transpose === true && expectedShape.length !== 2)
    ) {
      throw new SdError(
        'internal',
        `Weight "${key}" [${expectedShape.join(', ')}] cannot come from elements ${start}…${start + count} of "${info.name}" [${info.shape.join(', ')}]${source.transpose === true ? ' transposed' : ''}.`,
      );
    }
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new SdError(
        'unsupported-model',
        `Tensor "${info.name}" in "${this.file.fileName}" is ${info.dtype}; model weights must be F32, F16 or BF16.`,
      );
    }
    const length = count * 4;
    const transpose = source.transpose === true ? ([expectedShape[1]!, expectedShape[0]!] as const) : undefined;
    const external =
      info.dtype === 'F32' && transpose === undefined
        ? this.place(info.offset + start * 4, length, key)
        : this.convert({ info, start, count, transpose });
    const patch = this.options.patch;
    if (patch?.touches(key, expectedShape) === true) {
      this.patched.push({ key, info, start, count, transpose, offset: this.patchedBytes });
      external.location = patch.location;
      external.offset = this.patchedBytes;
      this.patchedBytes += length;
    }
    return g.initializer(key, 'float32', expectedShape, { kind: 'external', ...external, length });
  }

  /** Appends a tensor range to the converted file; returns where it lies there. */
  private convert(pending: PendingConversion): { location: string; offset: number } {
    const length = pending.count * 4;
    let part = this.parts.at(-1);
    const partBytes = this.options.convertedPartBytes ?? Infinity;
    if (part === undefined || (part.byteLength > 0 && part.byteLength + length > partBytes)) {
      const n = this.parts.length;
      part = {
        location: n === 0 ? this.options.convertedLocation : `${this.options.convertedLocation}.${n}`,
        byteLength: 0,
      };
      this.parts.push(part);
    }
    const offset = part.byteLength;
    this.pending.push(pending);
    this.convertedBytes += length;
    part.byteLength += length;
    return { location: part.location, offset };
  }

  /** Where file bytes `[offset, offset + length)` are mounted: the whole file, or the window holding them. */
  private place(offset: number, length: number, key: string): { location: string; offset: number } {
    const windows = this.options.windows;
    if (windows === undefined) return { location: this.options.location, offset };
    const window = windows.find((w) => w.start <= offset && offset + length <= w.end);
    if (window === undefined) {
      throw new SdError(
        'internal',
        `Weight "${key}" (bytes ${offset}…${offset + length} of "${this.file.fileName}") lies in no mounted window of the file.`,
      );
    }
    const used = this.used.get(window.location);
    this.used.set(window.location, { ...window, end: Math.max(used?.end ?? 0, offset + length) });
    return { location: window.location, offset: offset - window.start };
  }

  /**
   * Streams the converted-weights file in order: every float16/bfloat16 tensor (or range) bound so
   * far, read by slices and widened to float32, and every transposed tensor, handed to `write` as consecutive byte chunks (at most 16 MiB
   * each). The model store can keep the chunks as they come, so the whole converted file never
   * needs to be in memory at once.
   */
  async writeConverted(write: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
    for (const { info, start, count, transpose } of this.pending) {
      if (transpose !== undefined) {
        // transposed tensors are projections (at most a few MB): converted whole
        await write(new Uint8Array((await this.readTransposed(info, start, count, transpose)).buffer));
        continue;
      }
      for (let at = 0; at < count; at += CONVERT_SLICE_ELEMENTS) {
        const n = Math.min(CONVERT_SLICE_ELEMENTS, count - at);
        const floats = floatBytesToFloat32(info.dtype, await this.file.readBytes(info.name, start + at, n));
        await write(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
      }
    }
  }

  private async readTransposed(
    info: SafetensorsTensorInfo,
    start: number,
    count: number,
    [rows, cols]: readonly [number, number],
  ): Promise<Float32Array> {
    const values = floatBytesToFloat32(info.dtype, await this.file.readBytes(info.name, start, count));
    const out = new Float32Array(count);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
    return out;
  }

  /** The keys of the patched weights, in bind order. */
  get patchedKeys(): string[] {
    return this.patched.map((p) => p.key);
  }

  /**
   * The patched weights' buffer: each patched weight read from the file as float32 (widened or
   * transposed as the graph binds it), handed to `apply` to change in place (a LoRA merged in),
   * at its offset. Only these tensors are read; empty when nothing is patched.
   */
  async writePatched(apply: (key: string, values: Float32Array) => Promise<void> | void): Promise<Uint8Array> {
    const out = new Uint8Array(this.patchedBytes);
    for (const { key, info, start, count, transpose, offset } of this.patched) {
      const values = new Float32Array(out.buffer, offset, count);
      if (transpose !== undefined) values.set(await this.readTransposed(info, start, count, transpose));
      else floatBytesToFloat32(info.dtype, await this.file.readBytes(info.name, start, count), values);
      await apply(key, values);
    }
    return out;
  }

  /**
   * The whole converted-weights file in memory (small models and tests; see {@link writeConverted}).
   * @returns Uint8Array [{@link convertedByteLength}] of little-endian float32 values.
   */
  async materializeConverted(): Promise<Uint8Array> {
    const out = new Uint8Array(this.convertedBytes);
    let at = 0;
    await this.writeConverted((chunk) => {
      out.set(chunk, at);
      at += chunk.byteLength;
    });
    return out;
  }
}
