import { SdError } from '../errors.ts';
import type { GraphBuilder } from '../onnx/graph-builder.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import type { SafetensorsTensorInfo } from '../safetensors/safetensors-header.ts';
import { floatBytesToFloat32 } from '../safetensors/widen.ts';

/** A tensor to widen into the converted-weights buffer; tensors follow each other in bind order. */
interface PendingConversion {
  info: SafetensorsTensorInfo;
}

/** Options of {@link SafetensorsWeights}. */
export interface SafetensorsWeightsOptions {
  /** External-data location of the safetensors file itself (its float32 tensors are used in place). */
  location: string;
  /** Location of the buffer that receives converted (widened) tensors. */
  convertedLocation: string;
  /** Maps a diffusers key (`text_model.final_layer_norm.weight`) to the file's key (single files add a prefix). */
  fileKey?: (diffusersKey: string) => string;
}

/** Elements widened per read, so a large tensor never needs its float16 and float32 copies whole at once. */
const CONVERT_SLICE_ELEMENTS = 1 << 22;

/**
 * Binds graph initializers to tensors of one safetensors file, checking each tensor's shape against
 * what the config implies. The graph is float32: float32 tensors are external data pointing at their
 * byte range in the file itself (no copy); float16 and bfloat16 tensors are widened once into a
 * separate buffer ({@link materializeConverted}) that the graph points at instead.
 */
export class SafetensorsWeights {
  private readonly pending: PendingConversion[] = [];
  private convertedBytes = 0;

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

  /**
   * Adds the float32 initializer named `key` to `g`, after checking that the file holds it with
   * `expectedShape`. Returns the initializer's name (the diffusers key).
   */
  bind(g: GraphBuilder, key: string, expectedShape: readonly number[]): string {
    const info = this.file.tensor(this.options.fileKey?.(key) ?? key);
    if (info.shape.length !== expectedShape.length || info.shape.some((d, i) => d !== expectedShape[i])) {
      throw new SdError(
        'unsupported-model',
        `Tensor "${info.name}" in "${this.file.fileName}" has shape [${info.shape.join(', ')}] but the config implies [${expectedShape.join(', ')}]. ` +
          'The weights do not belong to this config: pass the config of the model these weights come from.',
      );
    }
    if (info.dtype === 'F32') {
      return g.initializer(key, 'float32', info.shape, { kind: 'external', location: this.options.location, offset: info.offset, length: info.byteLength });
    }
    if (info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new SdError('unsupported-model', `Tensor "${info.name}" in "${this.file.fileName}" is ${info.dtype}; model weights must be F32, F16 or BF16.`);
    }
    const length = (info.byteLength / 2) * 4;
    const offset = this.convertedBytes;
    this.pending.push({ info });
    this.convertedBytes += length;
    return g.initializer(key, 'float32', info.shape, { kind: 'external', location: this.options.convertedLocation, offset, length });
  }

  /**
   * Streams the converted-weights file in order: every float16/bfloat16 tensor bound so far, read
   * by slices and widened to float32, handed to `write` as consecutive byte chunks (at most 16 MiB
   * each). The model store can keep the chunks as they come, so the whole converted file never
   * needs to be in memory at once.
   */
  async writeConverted(write: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
    for (const { info } of this.pending) {
      const count = info.byteLength / 2;
      for (let start = 0; start < count; start += CONVERT_SLICE_ELEMENTS) {
        const n = Math.min(CONVERT_SLICE_ELEMENTS, count - start);
        const floats = floatBytesToFloat32(info.dtype, await this.file.readBytes(info.name, start, n));
        await write(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
      }
    }
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
