import { SdError } from '../errors.ts';
import { isSafetensorsDtype, SAFETENSORS_DTYPE_BYTES, type SafetensorsDtype } from './dtypes.ts';

/** One tensor of a safetensors file, as its header describes it. */
export interface SafetensorsTensorInfo {
  /** Key in the header, e.g. `text_model.encoder.layers.0.self_attn.q_proj.weight`. */
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** Row-major shape; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Absolute byte offset of the first element in the file (8 + header length + data offset). */
  readonly offset: number;
  /** Length in bytes: product(shape) · dtype size. */
  readonly byteLength: number;
}

/** The parsed header: tensors in file order and the optional `__metadata__` string map. */
export interface SafetensorsHeader {
  /** Byte offset in the file where the data section starts (8 + header length). */
  readonly dataStart: number;
  /** Tensors sorted by offset. */
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Validates the JSON header of a safetensors file and turns its relative `data_offsets` into
 * absolute file offsets. Checks every rule of the format that protects later reads: known dtypes,
 * non-negative integer shapes, byte lengths equal to product(shape) · dtype size, and ranges that
 * stay inside the file and do not overlap (the format lays tensors end to end; gaps are tolerated).
 *
 * @param header the decoded JSON object (`JSON.parse` of the header bytes).
 * @param dataStart absolute offset of the data section, 8 + header length.
 * @param fileSize total file size in bytes, to detect truncated files.
 */
export function parseSafetensorsHeader(
  header: unknown,
  dataStart: number,
  fileSize: number,
  fileName: string,
): SafetensorsHeader {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw badHeader(fileName, 'its header is not a JSON object of tensors');
  }
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, fileName);
      continue;
    }
    tensors.push(parseEntry(name, entry, dataStart, fileName));
  }
  tensors.sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let previous: SafetensorsTensorInfo | undefined;
  for (const t of tensors) {
    if (previous !== undefined && t.offset < previous.offset + previous.byteLength) {
      throw badHeader(
        fileName,
        `tensors "${previous.name}" (bytes ${previous.offset}–${previous.offset + previous.byteLength}) and ` +
          `"${t.name}" (bytes ${t.offset}–${t.offset + t.byteLength}) overlap`,
      );
    }
    previous = t;
  }
  const last = tensors.at(-1);
  if (last !== undefined && last.offset + last.byteLength > fileSize) {
    throw new SdError(
      'integrity',
      `"${fileName}" is truncated: tensor "${last.name}" ends at byte ${last.offset + last.byteLength} but the file has ${fileSize} bytes. ` +
        'The download was probably interrupted: download the file again (or delete it from the store).',
    );
  }
  return { dataStart, tensors, metadata };
}

function parseEntry(name: string, entry: unknown, dataStart: number, fileName: string): SafetensorsTensorInfo {
  if (typeof entry !== 'object' || entry === null) throw badHeader(fileName, `entry "${name}" is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !isSafetensorsDtype(dtype)) {
    throw new SdError(
      'unsupported-model',
      `Tensor "${name}" in "${fileName}" has dtype ${JSON.stringify(dtype)}, which is not supported. ` +
        `Expected one of: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}. Convert the file to float16 or float32 weights.`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw badHeader(
      fileName,
      `tensor "${name}" has shape ${JSON.stringify(shape)}; expected a list of non-negative integers`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw badHeader(
      fileName,
      `tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] byte offsets`,
    );
  }
  const [begin, end] = offsets as [number, number];
  const elementCount = (shape as number[]).reduce((n, d) => n * d, 1);
  const expectedBytes = elementCount * SAFETENSORS_DTYPE_BYTES[dtype];
  if (end < begin || end - begin !== expectedBytes) {
    throw badHeader(
      fileName,
      `tensor "${name}" (${dtype} [${(shape as number[]).join(', ')}]) needs ${expectedBytes} bytes ` +
        `but its data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], offset: dataStart + begin, byteLength: expectedBytes };
}

function parseMetadata(entry: unknown, fileName: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw badHeader(fileName, '"__metadata__" is not an object');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw badHeader(fileName, `"__metadata__" value "${k}" is not a string`);
    out[k] = v;
  }
  return out;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The error for a header that breaks the format. */
export function badHeader(fileName: string, why: string): SdError {
  return new SdError(
    'unsupported-model',
    `"${fileName}" is not a valid safetensors file: ${why}. The file is damaged or was written by a broken tool: download or convert it again.`,
  );
}
