import { ancestralStep, KSampler, secondOrderCalls, type KSamplerOptions } from './k-sampler.ts';

/**
 * The two-call ancestral samplers (DPM2 a, DPM++ 2S a): each step calls the model at σ_i and again at a
 * σ between σ_i and σ_down (`midSigma`), except where σ_down is 0 and one Euler call finishes the step.
 * Subclasses keep the step's first latents in `firstX` for the second call's update.
 */
export abstract class AncestralSecondOrderSampler extends KSampler {
  protected firstX: Float32Array | undefined;

  constructor(options: KSamplerOptions, midSigma: (sigma: number, down: number) => number) {
    const { sigmas } = options;
    const downOf = (i: number): number => ancestralStep(sigmas[i] as number, sigmas[i + 1] as number).down;
    super(
      options,
      secondOrderCalls(sigmas, (i) => (downOf(i) === 0 ? undefined : midSigma(sigmas[i] as number, downOf(i)))),
    );
  }
}
