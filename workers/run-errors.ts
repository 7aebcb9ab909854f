import { isFatalCode, SdError } from '../src/core/errors.ts';

const OUT_OF_MEMORY =
  /out of memory|\bOOM\b|failed to allocate|allocation failed|could not allocate|Aborted\(\)|memory access out of bounds/i;
const DEVICE_LOST = /device (was |is )?lost|DeviceLost|device.*destroyed/i;

const ADVICE = 'Try a smaller width and height, fewer images per batch, or a smaller model (or the WASM backend).';

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Turns what a failed job threw into an SdError the page can act on: GPU device loss and running
 * out of memory get their own codes and a message that says what happened and what to try; the
 * core's own SdErrors pass through unchanged.
 */
export function classifyRunError(e: unknown, deviceLostReason: string | undefined): SdError {
  if (e instanceof SdError && e.code !== 'unsupported-model' && e.code !== 'internal') return e;
  const text = messageOf(e);
  if (deviceLostReason !== undefined || DEVICE_LOST.test(text)) {
    const why = deviceLostReason ?? text.slice(0, 200);
    return new SdError(
      'device-lost',
      `The GPU device was lost (${why}). The worker was reset, press Generate to try again. If it happens again: ${ADVICE}`,
      { cause: e },
    );
  }
  if (OUT_OF_MEMORY.test(text)) {
    return new SdError('out-of-memory', `Ran out of memory (${text.slice(0, 200)}). The worker was reset. ${ADVICE}`, {
      cause: e,
    });
  }
  if (e instanceof SdError) return e;
  return new SdError('internal', `Generation failed: ${text.slice(0, 500)}`, { cause: e });
}

/** Errors after which the worker's sessions (and the WASM heap or GPU device under them) cannot be trusted. */
export function isFatal(e: SdError): boolean {
  return isFatalCode(e.code);
}
