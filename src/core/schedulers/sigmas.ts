/**
 * Sigma math shared by the k-diffusion-style schedulers (Karras et al. 2022 notation:
 * sigma = sqrt((1 - alpha_bar) / alpha_bar)).
 */

/** sigma for each training timestep, from alphas_cumprod, in float32 as diffusers computes it. */
export function trainSigmas(alphasCumprod: Float64Array): Float64Array {
  return alphasCumprod.map((a) => Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a) / a))));
}

/** np.interp(x, xp, fp) for ascending xp. */
export function interp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>): number {
  const n = xp.length;
  if (x <= (xp[0] as number)) return fp[0] as number;
  if (x >= (xp[n - 1] as number)) return fp[n - 1] as number;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((xp[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  const x0 = xp[lo] as number;
  const x1 = xp[hi] as number;
  const y0 = fp[lo] as number;
  const y1 = fp[hi] as number;
  return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
}

/**
 * Karras et al. (2022) eq. 5 noise levels: `count` sigmas from sigmaMax down to sigmaMin with rho = 7.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, count: number, rho = 7): Float64Array {
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const ramp = count === 1 ? 0 : i / (count - 1);
    out[i] = (maxInv + ramp * (minInv - maxInv)) ** rho;
  }
  return out;
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose sigma equals `sigma`, by linear
 * interpolation in log-sigma between the two neighbouring training timesteps.
 * @param logSigmas log of the training sigmas, ascending with t
 */
export function sigmaToTimestep(sigma: number, logSigmas: ArrayLike<number>): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const n = logSigmas.length;
  // index of the last training log-sigma <= logSigma (0 when none), capped so that low+1 exists
  let low = 0;
  for (let i = 0; i < n; i++) if (logSigma - (logSigmas[i] as number) >= 0) low = i;
  low = Math.min(low, n - 2);
  const lo = logSigmas[low] as number;
  const hi = logSigmas[low + 1] as number;
  const w = Math.min(Math.max((lo - logSigma) / (lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}
