import { transferHandlers, type TransferHandler } from 'comlink';
import { isSdErrorCode, SdError, type SdErrorCode } from '../src/core/errors.ts';

interface SerializedThrow {
  isError: boolean;
  value: unknown;
}

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code: SdErrorCode;
}

/**
 * Errors that are not SdErrors (a TypeError from a bug, an ORT abort, a DOMException or Node error
 * whose `code` is not one of ours) arrive as `internal`.
 */
function codeOf(error: Error): SdErrorCode {
  const code = (error as { code?: unknown }).code;
  return isSdErrorCode(code) ? code : 'internal';
}

/**
 * Replaces Comlink's `throw` handler with one that keeps SdError's `code` across the worker
 * boundary (Comlink's own keeps only name, message and stack), so the page branches on the code.
 * Call it on both sides before the first call.
 */
export function installErrorTransfer(): void {
  const original = transferHandlers.get('throw') as TransferHandler<unknown, SerializedThrow> | undefined;
  if (!original)
    throw new Error('Comlink has no "throw" transfer handler to replace: check the comlink version (4.x expected).');
  const handler: TransferHandler<unknown, SerializedThrow> = {
    canHandle: (value): value is unknown => original.canHandle(value),
    serialize(thrown) {
      const value = (thrown as { value: unknown }).value;
      if (value instanceof Error) {
        const error: SerializedError = {
          name: value.name,
          message: value.message,
          stack: value.stack,
          code: codeOf(value),
        };
        return [{ isError: true, value: error }, []];
      }
      return [{ isError: false, value }, []];
    },
    deserialize(serialized) {
      if (!serialized.isError) throw serialized.value;
      const e = serialized.value as SerializedError;
      const error = new SdError(e.code, e.message);
      if (e.stack) error.stack = e.stack;
      throw error;
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}
