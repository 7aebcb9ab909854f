import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { validateRequest, type GenerateRequest } from '../../../src/core/pipeline/request.ts';

const base: GenerateRequest = {
  prompt: 'a cat',
  negativePrompt: '',
  sampler: null,
  steps: 20,
  cfgScale: 7,
  seed: 42n,
  width: 64,
  height: 64,
  batchSize: 1,
  rng: 'cpu',
  promptSyntax: 'a1111',
};
const init = { rgb: new Uint8Array(64 * 64 * 3), width: 64, height: 64 };

function errorOf(r: GenerateRequest): unknown {
  try {
    validateRequest(r);
    return undefined;
  } catch (e) {
    return e;
  }
}

describe('validateRequest', () => {
  it('accepts a plain txt2img and an img2img request', () => {
    expect(errorOf(base)).toBeUndefined();
    expect(errorOf({ ...base, initImage: init, denoisingStrength: 1 })).toBeUndefined();
  });

  it.each([
    ['width not a multiple of 8', { width: 100 }, 'width 100'],
    ['zero steps', { steps: 0 }, 'steps 0'],
    ['negative cfg', { cfgScale: -1 }, 'cfg -1'],
    ['batch of 0', { batchSize: 0 }, 'batch size 0'],
    ['seed past 2^64 - 1', { seed: 1n << 64n }, 'seed 18446744073709551616'],
    ['a batch whose last seed passes 2^64 - 1', { seed: (1n << 64n) - 1n, batchSize: 2 }, 'batch size 2'],
    ['strength without an init image', { denoisingStrength: 0.5 }, 'strength 0.5'],
    ['an init image without strength', { initImage: init }, 'strength undefined'],
    ['strength 0', { initImage: init, denoisingStrength: 0 }, 'strength 0'],
    ['an init image of the wrong byte length', { initImage: { ...init, width: 32 }, denoisingStrength: 0.5 }, '32x64'],
  ] as const)('refuses %s, naming the value', (_, change, named) => {
    const error = errorOf({ ...base, ...change } as GenerateRequest);
    expect(isSdError(error, 'bad-argument')).toBe(true);
    expect((error as Error).message).toContain(named);
  });
});
