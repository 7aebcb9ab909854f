import { describe, expect, it } from 'vitest';
import { FATAL_ERROR_CODES, SD_ERROR_CODES, SdError, type SdErrorCode } from '../../../src/core/errors.ts';
import { classifyRunError, isFatal } from '../../../workers/run-errors.ts';

describe('classifyRunError', () => {
  it.each([
    ['WebGPU: Device was lost', 'device-lost'],
    ['GPUDevice lost: DeviceLost', 'device-lost'],
    ['the device is destroyed', 'device-lost'],
    ['RangeError: WebAssembly.Memory(): could not allocate memory', 'out-of-memory'],
    ['Aborted(). Build with -sASSERTIONS for more info.', 'out-of-memory'],
    ['memory access out of bounds', 'out-of-memory'],
    ['Failed to allocate a buffer of size 4294967296', 'out-of-memory'],
    ['[WebGPU] Kernel "Conv" failed: OOM', 'out-of-memory'],
    ['Cannot read properties of undefined', 'internal'],
  ] as const)('classifies %j as %s', (message, code) => {
    const e = classifyRunError(new Error(message), undefined);
    expect(e.code).toBe(code);
    expect(e.message).toContain(code === 'internal' ? `Generation failed: ${message}` : message);
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('reports a device loss the device itself announced, whatever the error says', () => {
    const e = classifyRunError(new Error('Session run failed'), 'destroyed');
    expect(e.code).toBe('device-lost');
    expect(e.message).toMatch(/^The GPU device was lost \(destroyed\)\. The worker was reset, press Generate/);
  });

  it('says what to try when memory runs out', () => {
    const e = classifyRunError(new Error('out of memory'), undefined);
    expect(e.message).toMatch(/Try a smaller width and height, fewer images per batch, or a smaller model/);
  });

  it('passes the core errors through unchanged, except internal and unsupported-model ones that name a GPU failure', () => {
    const kept = SD_ERROR_CODES.filter((c) => c !== 'internal' && c !== 'unsupported-model');
    for (const code of kept) {
      const original = new SdError(code, 'out of memory');
      expect(classifyRunError(original, undefined)).toBe(original);
    }
    const unsupported = new SdError('unsupported-model', 'Failed to allocate the UNet');
    expect(classifyRunError(unsupported, undefined).code).toBe('out-of-memory');
    const plain = new SdError('unsupported-model', 'The UNet declares a float16 input');
    expect(classifyRunError(plain, undefined)).toBe(plain);
  });

  it('turns values that are not errors into internal errors with their text', () => {
    const e = classifyRunError('something odd', undefined);
    expect([e.code, e.message]).toEqual(['internal', 'Generation failed: something odd']);
  });
});

describe('isFatal', () => {
  it('is true exactly for the fatal codes the page restarts the worker on', () => {
    const fatal = SD_ERROR_CODES.filter((code) => isFatal(new SdError(code, '')));
    expect(new Set(fatal)).toEqual(new Set<SdErrorCode>(FATAL_ERROR_CODES));
    expect(new Set(fatal)).toEqual(new Set(['device-lost', 'out-of-memory', 'internal']));
  });
});
