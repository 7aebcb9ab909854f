import { SdError } from '../errors.ts';

/**
 * Typed reads of one `config.json` (diffusers or transformers), each with the library's default when
 * the key is absent or null; a value of the wrong kind is refused with an `unsupported-model` error
 * naming the key, the file and what was expected. Parsers of every model config share it.
 */
export class ConfigReader {
  private readonly values: Readonly<Record<string, unknown>>;

  /**
   * @param json the parsed file
   * @param fileName the file, for messages ("unet/config.json")
   * @param expected what the file should be, for messages ("a diffusers AutoencoderKL config")
   */
  constructor(
    json: unknown,
    readonly fileName: string,
    expected: string,
  ) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new SdError('unsupported-model', `"${fileName}" is not a JSON object; expected ${expected}.`);
    }
    this.values = json as Record<string, unknown>;
  }

  /** The raw value, `undefined` when absent. */
  raw(key: string): unknown {
    return this.values[key];
  }

  /** The value, or `fallback` when it is absent or null. */
  valueOr(key: string, fallback: unknown): unknown {
    return this.values[key] ?? fallback;
  }

  /** Throws the error for `key`: its value and what was expected. */
  fail(key: string, expected: string): never {
    throw new SdError(
      'unsupported-model',
      `"${key}" in "${this.fileName}" is ${JSON.stringify(this.values[key])}; expected ${expected}.`,
    );
  }

  /** A positive integer (or 0 when `allowZero`). */
  int(key: string, fallback: number, allowZero = false): number {
    const v = this.valueOr(key, fallback);
    return isPositiveInt(v) || (allowZero && v === 0)
      ? (v as number)
      : this.fail(key, allowZero ? 'a non-negative integer' : 'a positive integer');
  }

  /** A positive integer, or null when absent or null. */
  optionalInt(key: string): number | null {
    return this.values[key] === undefined || this.values[key] === null ? null : this.int(key, 0);
  }

  /** A finite number. */
  num(key: string, fallback: number): number {
    const v = this.valueOr(key, fallback);
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(key, 'a number');
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.valueOr(key, fallback);
    return typeof v === 'boolean' ? v : this.fail(key, 'true or false');
  }

  /** A non-empty list of positive integers (channel counts). */
  positiveIntList(key: string, fallback: readonly number[]): number[] {
    const v = this.valueOr(key, fallback);
    if (!Array.isArray(v) || v.length === 0 || !v.every(isPositiveInt)) this.fail(key, 'a list of positive integers');
    return v as number[];
  }

  /** Refuses any value but `allowed` (the builder implements only those). */
  only(key: string, allowed: readonly unknown[], fallback: unknown): void {
    if (!allowed.includes(this.valueOr(key, fallback)))
      this.fail(key, allowed.map((a) => JSON.stringify(a)).join(' or ') + ' (other values are not supported)');
  }
}

/** Whether `v` is a whole number above 0. */
export function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
