import { SdError } from '../errors.ts';
import { readExactly, truncatedError, type ByteSource } from './byte-source.ts';
import { SAFETENSORS_DTYPE_BYTES } from './dtypes.ts';
import { refuseForeignFile } from './file-signature.ts';
import { badHeader, parseSafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header.ts';

/**
 * Largest header accepted, in bytes. The safetensors reference implementation refuses headers over
 * 100 MB; real SDXL checkpoints have about 200 KB.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * An open safetensors file: its validated header, with tensor bytes read on demand from the
 * {@link ByteSource} (never the whole file).
 */
export class SafetensorsFile {
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;

  private constructor(
    /** Name used in error messages (a file name or URL). */
    readonly fileName: string,
    readonly source: ByteSource,
    /** Absolute offset of the data section (8 + header length). */
    readonly dataStart: number,
    tensors: readonly SafetensorsTensorInfo[],
    /** The `__metadata__` string map ({} when absent). */
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    this.tensors = new Map(tensors.map((t) => [t.name, t]));
  }

  /**
   * Reads and validates the header (first 8 bytes: little-endian u64 header length, then that many
   * bytes of JSON). Throws an {@link SdError} that names the problem for pickled checkpoints
   * (`unsupported-model`), HTML pages and other foreign files (`unsupported-model`), malformed
   * headers (`unsupported-model`) and truncated files (`integrity`). Reads only the header.
   */
  static async open(source: ByteSource, fileName: string): Promise<SafetensorsFile> {
    const head = await source.read(0, Math.min(32, source.size));
    refuseForeignFile(head, fileName);
    if (source.size < 8) {
      throw badHeader(fileName, `it has ${source.size} bytes, fewer than the 8-byte header length`);
    }
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const high = view.getUint32(4, true);
    const headerBytes = view.getUint32(0, true);
    if (high !== 0 || headerBytes > MAX_HEADER_BYTES) {
      const shown = high === 0 ? String(headerBytes) : `${high} · 2^32 + ${headerBytes}`;
      throw badHeader(
        fileName,
        `its header length ${shown} is over the ${MAX_HEADER_BYTES}-byte limit (the first bytes are not a safetensors header)`,
      );
    }
    if (headerBytes < 2)
      throw badHeader(fileName, `its header length ${headerBytes} is too small to hold a JSON object`);
    const dataStart = 8 + headerBytes;
    if (dataStart > source.size) throw truncatedError(fileName, dataStart, source.size);
    const headerText = decodeHeader(await readExactly(source, 8, headerBytes, fileName), fileName);
    let json: unknown;
    try {
      json = JSON.parse(headerText);
    } catch (e) {
      throw badHeader(fileName, `its header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const header = parseSafetensorsHeader(json, dataStart, source.size, fileName);
    return new SafetensorsFile(fileName, source, dataStart, header.tensors, header.metadata);
  }

  /** The info of tensor `name`; throws `missing-file` naming similar keys when it is absent. */
  tensor(name: string): SafetensorsTensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined) {
      const dot = name.lastIndexOf('.');
      const prefix = dot > 0 ? name.slice(0, name.indexOf('.') + 1) : name;
      const near = [...this.tensors.keys()].filter((k) => k.startsWith(prefix)).slice(0, 5);
      throw new SdError(
        'missing-file',
        `Tensor "${name}" is not in "${this.fileName}" (${this.tensors.size} tensors` +
          (near.length > 0 ? `, e.g. ${near.map((k) => `"${k}"`).join(', ')}` : '') +
          '). The file does not hold the model the config describes: check that the weights and config.json belong together.',
      );
    }
    return info;
  }

  /**
   * Raw little-endian bytes of a tensor, or of elements `[start, start + count)` of it in row-major
   * order (for converting big tensors in slices).
   */
  async readBytes(name: string, start = 0, count?: number): Promise<Uint8Array> {
    const info = this.tensor(name);
    const elementBytes = SAFETENSORS_DTYPE_BYTES[info.dtype];
    const begin = start * elementBytes;
    const length = count === undefined ? info.byteLength - begin : count * elementBytes;
    if (begin < 0 || length < 0 || begin + length > info.byteLength) {
      throw new SdError(
        'bad-argument',
        `Elements [${start}, ${start + (count ?? 0)}) are outside tensor "${name}" (${info.byteLength / elementBytes} elements).`,
      );
    }
    return readExactly(this.source, info.offset + begin, length, this.fileName);
  }
}

function decodeHeader(bytes: Uint8Array, fileName: string): string {
  const Decoder = (
    globalThis as unknown as {
      TextDecoder: new (label: string, options: { fatal: boolean }) => { decode(b: Uint8Array): string };
    }
  ).TextDecoder;
  try {
    return new Decoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // the fatal decoder only throws for malformed UTF-8: report it as a bad header
    throw badHeader(fileName, 'its header is not UTF-8 text');
  }
}
