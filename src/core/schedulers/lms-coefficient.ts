/** Gauss-Legendre nodes and weights on [-1, 1] with 4 points: exact for polynomials up to degree 7. */
const GL_NODES = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
const GL_WEIGHTS = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

/**
 * The linear multistep coefficient of both LMS samplers (diffusers' `get_lms_coefficient`, k-diffusion's
 * `linear_multistep_coeff`): the integral from σ_t to σ_(t+1) of the Lagrange basis polynomial that is 1 at
 * σ_(t-current) and 0 at the other σ_(t-k), k < order. Both libraries integrate with scipy's adaptive
 * quadrature; the integrand is a polynomial of degree order - 1 ≤ 3, so 4-point Gauss-Legendre is exact.
 * @param sigmaAt σ by schedule index
 */
export function lmsCoefficient(sigmaAt: (i: number) => number, order: number, t: number, current: number): number {
  const basis = (tau: number): number => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k !== current) prod *= (tau - sigmaAt(t - k)) / (sigmaAt(t - current) - sigmaAt(t - k));
    }
    return prod;
  };
  const a = sigmaAt(t);
  const b = sigmaAt(t + 1);
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let i = 0; i < GL_NODES.length; i++)
    sum += (GL_WEIGHTS[i] as number) * basis(mid + half * (GL_NODES[i] as number));
  return sum * half;
}
