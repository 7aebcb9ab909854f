import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { loadFixture } from '../pipeline/fixture-models.ts';

// Expected values are the contracts the fixtures README lists for each model folder.
describe('loadModel on the fixture models', () => {
  it('tiny-sd15: SD 1.x, one encoder padding with <|endoftext|>, float32 [batch] timestep', async () => {
    const m = await loadFixture('tiny-sd15');
    try {
      expect(m.family).toBe('sd1');
      expect(m.textEncoders).toHaveLength(1);
      expect(m.textEncoders[0]!.padId).toBe(49407);
      expect(m.textEncoders[0]!.contract.inputIds.type).toBe('int32');
      expect(m.unet.contract.timestep.type).toBe('float32');
      expect(m.unet.contract.timestep.shape).toHaveLength(1);
      expect(m.unet.contract.textEmbeds).toBeUndefined();
      expect(m.unet.contract.timestepCond).toBeUndefined();
      expect(m.scalingFactor).toBe(0.18215);
      expect(m.forceZerosForEmptyPrompt).toBe(false);
      expect(m.schedulerConfig['_class_name']).toBe('PNDMScheduler');
      const encoder = await m.vaeEncoder();
      expect(encoder.contract.output.name).toBe('latent_sample');
      expect(encoder.contract.isParameters).toBe(false);
    } finally {
      await m.release();
    }
  });

  it('tiny-sd-turbo: float16 inputs, int64 timestep, "!" padding', async () => {
    const m = await loadFixture('tiny-sd-turbo');
    try {
      expect(m.family).toBe('sd2');
      expect(m.textEncoders[0]!.padId).toBe(0);
      expect(m.unet.contract.timestep.type).toBe('int64');
      expect(m.unet.contract.sample.type).toBe('float16');
      expect(m.unet.contract.encoderHiddenStates.type).toBe('float16');
      expect(m.vaeDecoder.contract.input.type).toBe('float16');
    } finally {
      await m.release();
    }
  });

  it('tiny-sdxl: two encoders with hidden states, added conditioning, SDXL latent scale', async () => {
    const m = await loadFixture('tiny-sdxl');
    try {
      expect(m.family).toBe('sdxl');
      expect(m.textEncoders.map((e) => e.padId)).toEqual([49407, 0]);
      expect(m.textEncoders.map((e) => e.contract.hiddenStates.map((h) => h.name))).toEqual([
        ['hidden_states.0', 'hidden_states.1', 'hidden_states.2'],
        ['hidden_states.0', 'hidden_states.1', 'hidden_states.2', 'hidden_states.3'],
      ]);
      // the pooled output SDXL needs is the projection of text_encoder_2
      expect(m.textEncoders[1]!.contract.pooled?.name).toBe('text_embeds');
      expect(m.unet.contract.textEmbeds?.shape[1]).toBe(32);
      expect(m.unet.contract.timeIds?.shape[1]).toBe(6);
      expect(m.unet.contract.hiddenSize).toBe(64);
      expect(m.scalingFactor).toBe(0.13025);
      expect(m.forceZerosForEmptyPrompt).toBe(true);
      expect(m.requiresAestheticsScore).toBe(false);
    } finally {
      await m.release();
    }
  });

  it('an SDXL folder without text_encoder (refiner layout) loads with text_encoder_2 alone', async () => {
    const m = await loadFixture(
      'tiny-sdxl',
      (path) => path.startsWith('text_encoder/') || path.startsWith('tokenizer/'),
    );
    try {
      expect(m.family).toBe('sdxl');
      expect(m.textEncoders).toHaveLength(1);
      expect(m.textEncoders[0]!.padId).toBe(0);
      expect(m.textEncoders[0]!.contract.pooled?.name).toBe('text_embeds');
    } finally {
      await m.release();
    }
  });

  it('a missing UNet is a missing-file error naming the path', async () => {
    const error = await loadFixture('tiny-sd15', (path) => path.startsWith('unet/')).catch((e: unknown) => e);
    expect(isSdError(error, 'missing-file')).toBe(true);
    expect((error as Error).message).toContain('unet/model.onnx');
  });
});
