/** Every code an {@link SdError} can carry: what callers (and the page, across the worker boundary) branch on. */
export const SD_ERROR_CODES = [
  'bad-argument',
  'unknown-sampler',
  'missing-file',
  'unknown-contract',
  'unsupported-model',
  'bad-image',
  'bad-infotext',
  'cancelled',
  'out-of-memory',
  'device-lost',
  'network',
  'quota',
  'integrity',
  'busy',
  'internal',
] as const;

export type SdErrorCode = (typeof SD_ERROR_CODES)[number];

/** Whether `value` is one of the core's error codes (e.g. a `code` read from an unknown error). */
export function isSdErrorCode(value: unknown): value is SdErrorCode {
  return (SD_ERROR_CODES as readonly unknown[]).includes(value);
}

/**
 * Codes after which whatever ran the job (its sessions, the WASM heap or GPU device under them) cannot
 * be trusted: the worker discards its model and the page replaces the worker.
 */
export const FATAL_ERROR_CODES = ['device-lost', 'out-of-memory', 'internal'] as const satisfies readonly SdErrorCode[];

export type FatalErrorCode = (typeof FATAL_ERROR_CODES)[number];

/** Whether an error's code is one of {@link FATAL_ERROR_CODES}. */
export function isFatalCode(code: SdErrorCode): code is FatalErrorCode {
  return (FATAL_ERROR_CODES as readonly SdErrorCode[]).includes(code);
}

/**
 * The one error type of the core. `code` is what callers branch on (never the message text);
 * the message names the bad value, what is allowed and what to do.
 */
export class SdError extends Error {
  readonly code: SdErrorCode;
  constructor(code: SdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SdError';
    this.code = code;
  }
}

export function isSdError(e: unknown, code?: SdErrorCode): e is SdError {
  return e instanceof SdError && (code === undefined || e.code === code);
}
