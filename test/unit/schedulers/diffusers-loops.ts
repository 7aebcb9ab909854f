/**
 * The deterministic fixtures of diffusers' own scheduler unit tests (tests/schedulers/test_schedulers.py,
 * `SchedulerCommonTest`): `dummy_sample_deter` / `dummy_noise_deter` of shape [4, 3, 8, 8] and the dummy
 * model `sample * t / (t + 1)`, run through `full_loop`. The expected means and sums they assert are
 * quoted next to each use, from the diffusers 0.27 test files.
 */
import type { Scheduler } from '../../../src/core/schedulers/scheduler.ts';

const f32 = Math.fround;
export const DUMMY_SHAPE: readonly number[] = [4, 3, 8, 8];

/** torch.arange(768) (flipped for the noise) laid out as (3, 8, 8, 4), / 768, permuted to (4, 3, 8, 8). */
export function dummyDeter(flip = false): Float32Array {
  const out = new Float32Array(768);
  for (let b = 0; b < 4; b++)
    for (let c = 0; c < 3; c++)
      for (let h = 0; h < 8; h++)
        for (let w = 0; w < 8; w++) {
          const flat = c * 256 + h * 32 + w * 4 + b;
          out[((b * 3 + c) * 8 + h) * 8 + w] = f32((flip ? 767 - flat : flat) / 768);
        }
  return out;
}

const noRandom = {
  randn(): Float32Array {
    throw new Error('these loops are deterministic');
  },
};

/**
 * diffusers' `full_loop` (and `test_full_loop_with_noise` when `noiseAt` is given: `add_noise` at that
 * index, then the remaining steps). Returns [sum |x|, mean |x|].
 */
export function dummyLoop(scheduler: Scheduler, from = 0, noiseAt?: number): [number, number] {
  let x = dummyDeter();
  if (noiseAt !== undefined) x = scheduler.addNoise(x, dummyDeter(true), noiseAt);
  for (let i = from; i < scheduler.timesteps.length; i++) {
    const t = scheduler.timesteps[i] as number;
    const output = x.map((v) => f32(f32(v * t) / (t + 1)));
    x = scheduler.step({ modelOutput: output, stepIndex: i, sample: x, shape: DUMMY_SHAPE, rng: noRandom }).prevSample;
  }
  let sum = 0;
  for (const v of x) sum += Math.abs(v);
  return [sum, sum / x.length];
}

/** The linear-beta config of diffusers' scheduler tests. */
export const TEST_BETAS = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };
