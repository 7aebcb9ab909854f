import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../../src/core/models/load-model.ts';
import { encodePrompt, zerosLike } from '../../../src/core/pipeline/conditioning.ts';
import { readReferenceJson } from '../../fixtures.ts';
import { loadFixture, nodeRuntime } from './fixture-models.ts';

interface A1Case {
  prompt: string;
  negative_prompt: string;
  cond_tokens: number;
  uncond_tokens: number;
}

function mean(values: Float32Array, from = 0, to = values.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += values[i] as number;
  return sum / (to - from);
}

describe('encodePrompt on tiny-sd15', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await loadFixture('tiny-sd15');
  });
  afterAll(async () => {
    await model.release();
  });

  it('gives the token counts of the A1111 reference case (chunks of 77)', async () => {
    const c = readReferenceJson<A1Case>('cases/a1-long-2chunks.json');
    const rt = await nodeRuntime();
    const cond = await encodePrompt(model, rt, c.prompt, 'a1111');
    const uncond = await encodePrompt(model, rt, c.negative_prompt, 'a1111');
    expect([cond.tokens, uncond.tokens]).toEqual([c.cond_tokens, c.uncond_tokens]);
    expect(cond.hidden.length).toBe(cond.tokens * cond.hiddenSize);
    expect(cond.pooled).toBeUndefined();
    // diffusers' own handling truncates to one chunk
    expect((await encodePrompt(model, rt, c.prompt, 'diffusers')).tokens).toBe(77);
  });

  it('A1111 emphasis scales the weighted token, then restores the chunk mean', async () => {
    const rt = await nodeRuntime();
    // same token ids; only the multipliers differ
    const plain = await encodePrompt(model, rt, 'a red apple', 'a1111');
    const weighted = await encodePrompt(model, rt, 'a (red:1.5) apple', 'a1111');
    const size = plain.hiddenSize;
    expect(mean(weighted.hidden)).toBeCloseTo(mean(plain.hidden), 6);
    const ratio = (token: number): number => {
      const at = token * size;
      return (weighted.hidden[at] as number) / (plain.hidden[at] as number);
    };
    // token 0 is the start token, 2 is "red": the weighted one is 1.5 times the common rescale
    expect(ratio(2) / ratio(0)).toBeCloseTo(1.5, 4);
    expect(ratio(3)).toBeCloseTo(ratio(0), 5);
  });
});

describe('encodePrompt on tiny-sdxl', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await loadFixture('tiny-sdxl');
  });
  afterAll(async () => {
    await model.release();
  });

  it('concatenates both encoders (32 + 32 features) and pools from text_encoder_2', async () => {
    const c = await encodePrompt(model, await nodeRuntime(), 'a cat BREAK on a mat', 'a1111');
    expect(c.hiddenSize).toBe(64);
    expect(c.tokens).toBe(154);
    expect(c.pooled).toHaveLength(32);
    const z = zerosLike(c);
    expect([z.tokens, z.hiddenSize, z.hidden.length, z.pooled?.length]).toEqual([154, 64, c.hidden.length, 32]);
    expect(z.hidden.every((v) => v === 0) && z.pooled!.every((v) => v === 0)).toBe(true);
  });

  it('conditions on the penultimate hidden state, not last_hidden_state', async () => {
    const rt = await nodeRuntime();
    const c = await encodePrompt(model, rt, 'a cat', 'diffusers');
    const encoder = model.textEncoders[0]!;
    const ids = encoder.tokenizer.tokenize77('a cat', encoder.padId);
    const out = await encoder.session.run({ input_ids: rt.tensor('int32', ids, [1, 77]) }, [
      'hidden_states.1',
      'last_hidden_state',
    ]);
    const penultimate = out['hidden_states.1']!.data as Float32Array;
    const last = out['last_hidden_state']!.data as Float32Array;
    const first = c.hidden.subarray(0, 32);
    expect(Array.from(first)).toEqual(Array.from(penultimate.subarray(0, 32)));
    expect(Array.from(first)).not.toEqual(Array.from(last.subarray(0, 32)));
  });
});
