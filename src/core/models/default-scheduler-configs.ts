/**
 * The scheduler_config.json each family ships with, used for models that come without one (the
 * onnxruntime web sample's SD-Turbo has no scheduler folder). Values as in the reference
 * repositories: SD 1.5, SD 2.1-base, SDXL base 1.0, and SD-Turbo / SDXL-Turbo run the way their
 * model cards and the web demos do (ancestral Euler, trailing spacing, so that one step starts at t = 999).
 */
import type { RawSchedulerConfig } from '../schedulers/scheduler.ts';

/** Shared by every Stable Diffusion family: the training noise schedule. */
const SCALED_LINEAR = {
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  trained_betas: null,
  steps_offset: 1,
  prediction_type: 'epsilon',
} as const;

/** PLMS as SD 1.5 and SD 2.1-base ship it: no Runge-Kutta warm-up steps. */
const PNDM_WITHOUT_WARM_UP = {
  _class_name: 'PNDMScheduler',
  ...SCALED_LINEAR,
  clip_sample: false,
  set_alpha_to_one: false,
  skip_prk_steps: true,
} as const;

/** A family's standard scheduler, with the short description the assumption line shows. */
export interface DefaultScheduler {
  config: RawSchedulerConfig;
  /** e.g. "PNDM, epsilon prediction". */
  description: string;
  /** What the default may get wrong, said with it. */
  caveat?: string;
}

export const DEFAULT_SCHEDULERS = {
  /** stable-diffusion-v1-5: PNDM (PLMS) without Runge-Kutta warm-up steps. */
  sd1: {
    config: PNDM_WITHOUT_WARM_UP,
    description: 'PNDM, epsilon prediction',
  },
  /** stable-diffusion-2-1-base (512 px, epsilon); the 768 px SD 2.x models predict v and need their own config. */
  sd2: {
    config: PNDM_WITHOUT_WARM_UP,
    description: 'PNDM, epsilon prediction',
    caveat: 'a 768 px v-prediction model needs its own scheduler_config.json',
  },
  /** stable-diffusion-xl-base-1.0. */
  sdxl: {
    config: {
      _class_name: 'EulerDiscreteScheduler',
      ...SCALED_LINEAR,
      interpolation_type: 'linear',
      timestep_spacing: 'leading',
      use_karras_sigmas: false,
    },
    description: 'Euler, leading spacing',
  },
  /** SD-Turbo and SDXL-Turbo: one step from t = 999. */
  turbo: {
    config: { _class_name: 'EulerAncestralDiscreteScheduler', ...SCALED_LINEAR, timestep_spacing: 'trailing' },
    description: 'Euler a, trailing spacing',
  },
} as const satisfies Record<string, DefaultScheduler>;
