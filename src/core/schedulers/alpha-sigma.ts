/**
 * The VP (variance-preserving) coefficients of a noise level, x_t = alpha_t * x0 + sigma_t * noise with
 * alpha_t² + sigma_t² = 1, from either of the two ways diffusers 0.27.2 holds a noise level: the cumulative
 * alpha_bar of the alpha-based schedulers, or the Karras-style sigma = sqrt((1 - alpha_bar) / alpha_bar) of
 * the DPM-Solver family.
 */

/** VP coefficients of a noise level: x_t = alpha * x0 + sigma * noise, with alpha² + sigma² = 1. */
export interface AlphaSigma {
  alpha: number;
  sigma: number;
  /** Half log-SNR, log(alpha) - log(sigma); +Infinity at sigma = 0. */
  lambda: number;
}

/** alpha = sqrt(alpha_bar), sigma = sqrt(1 - alpha_bar): the coefficients at a training timestep (DDPM, LCM). */
export function alphaSigmaFromAlphaBar(alphaBar: number): AlphaSigma {
  const alpha = Math.sqrt(alphaBar);
  const sigma = Math.sqrt(1 - alphaBar);
  return { alpha, sigma, lambda: Math.log(alpha) - Math.log(sigma) };
}

/** diffusers' `_sigma_to_alpha_sigma_t`: the coefficients of a Karras-style sigma (the DPM-Solver family). */
export function alphaSigmaFromKarrasSigma(karrasSigma: number): AlphaSigma {
  const alpha = 1 / Math.sqrt(karrasSigma * karrasSigma + 1);
  const sigma = karrasSigma * alpha;
  return { alpha, sigma, lambda: Math.log(alpha) - Math.log(sigma) };
}
