/**
 * The one error type of the core. `code` is what callers branch on (never the message text);
 * the message names the bad value, what is allowed and what to do.
 */
export type SdErrorCode =
  | 'bad-argument'
  | 'unknown-sampler'
  | 'missing-file'
  | 'unknown-contract'
  | 'unsupported-model'
  | 'bad-image'
  | 'bad-infotext'
  | 'cancelled'
  | 'out-of-memory'
  | 'device-lost'
  | 'network'
  | 'quota'
  | 'integrity'
  | 'busy'
  | 'internal';

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
