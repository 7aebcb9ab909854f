/**
 * Which config options make each scheduler's step nonlinear in the latents, by diffusers class name, as
 * each class declares them in its static `nonlinearOptions` (with the class default). The device loop
 * runs only linear steps and looks these up before it plans.
 */
import type { NonlinearOptions } from './config.ts';
import { DDIMScheduler } from './ddim.ts';
import { DDPMScheduler } from './ddpm.ts';
import { DEISMultistepScheduler } from './deis-multistep.ts';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep.ts';
import { DPMSolverSinglestepScheduler } from './dpm-solver-singlestep.ts';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete.ts';
import { EulerDiscreteScheduler } from './euler-discrete.ts';
import { HeunDiscreteScheduler } from './heun-discrete.ts';
import { KDPM2AncestralDiscreteScheduler } from './kdpm2-ancestral-discrete.ts';
import { KDPM2DiscreteScheduler } from './kdpm2-discrete.ts';
import { LCMScheduler } from './lcm.ts';
import { LMSDiscreteScheduler } from './lms-discrete.ts';
import { PNDMScheduler } from './pndm.ts';
import { UniPCMultistepScheduler } from './unipc-multistep.ts';

/** Each implemented class's declared nonlinear options (class names as `scheduler_config.json` writes them). */
export const NONLINEAR_OPTIONS: Readonly<Record<string, NonlinearOptions>> = {
  DDIMScheduler: DDIMScheduler.nonlinearOptions,
  DDPMScheduler: DDPMScheduler.nonlinearOptions,
  DEISMultistepScheduler: DEISMultistepScheduler.nonlinearOptions,
  DPMSolverMultistepScheduler: DPMSolverMultistepScheduler.nonlinearOptions,
  DPMSolverSinglestepScheduler: DPMSolverSinglestepScheduler.nonlinearOptions,
  EulerAncestralDiscreteScheduler: EulerAncestralDiscreteScheduler.nonlinearOptions,
  EulerDiscreteScheduler: EulerDiscreteScheduler.nonlinearOptions,
  HeunDiscreteScheduler: HeunDiscreteScheduler.nonlinearOptions,
  KDPM2AncestralDiscreteScheduler: KDPM2AncestralDiscreteScheduler.nonlinearOptions,
  KDPM2DiscreteScheduler: KDPM2DiscreteScheduler.nonlinearOptions,
  LCMScheduler: LCMScheduler.nonlinearOptions,
  LMSDiscreteScheduler: LMSDiscreteScheduler.nonlinearOptions,
  PNDMScheduler: PNDMScheduler.nonlinearOptions,
  UniPCMultistepScheduler: UniPCMultistepScheduler.nonlinearOptions,
};
