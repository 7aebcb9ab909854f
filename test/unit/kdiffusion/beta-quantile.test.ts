import { describe, expect, it } from 'vitest';
import { betaQuantile, logGamma, regularizedIncompleteBeta } from '../../../src/core/kdiffusion/beta-quantile.ts';

describe('logGamma', () => {
  it('matches factorials and Γ(1/2) = √π', () => {
    for (const [x, factorial] of [
      [1, 1],
      [2, 1],
      [5, 24],
      [11, 3628800],
    ] as const)
      expect(logGamma(x)).toBeCloseTo(Math.log(factorial), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
    expect(logGamma(0.1)).toBeCloseTo(Math.log(9.513507698668732), 12);
  });
});

describe('regularizedIncompleteBeta', () => {
  it('has the closed forms of Beta(1, 1), Beta(2, 1) and Beta(1, 3)', () => {
    for (const x of [0.01, 0.2, 0.5, 0.77, 0.999]) {
      expect(regularizedIncompleteBeta(x, 1, 1)).toBeCloseTo(x, 14);
      expect(regularizedIncompleteBeta(x, 2, 1)).toBeCloseTo(x * x, 14);
      expect(regularizedIncompleteBeta(x, 1, 3)).toBeCloseTo(1 - (1 - x) ** 3, 14);
    }
  });

  it('is symmetric for a = b and 0 / 1 at the ends', () => {
    for (const x of [0.05, 0.3, 0.49]) {
      expect(regularizedIncompleteBeta(x, 0.6, 0.6) + regularizedIncompleteBeta(1 - x, 0.6, 0.6)).toBeCloseTo(1, 14);
    }
    expect(regularizedIncompleteBeta(0, 0.6, 0.6)).toBe(0);
    expect(regularizedIncompleteBeta(1, 0.6, 0.6)).toBe(1);
    expect(regularizedIncompleteBeta(0.5, 0.6, 0.6)).toBeCloseTo(0.5, 14);
  });
});

describe('betaQuantile', () => {
  it('inverts the closed forms (to the conditioning of p near 1)', () => {
    for (const p of [0.001, 0.25, 0.5, 0.9, 0.999999]) {
      expect(betaQuantile(p, 1, 1)).toBeCloseTo(p, 14);
      expect(betaQuantile(p, 2, 1)).toBeCloseTo(Math.sqrt(p), 14);
      expect(betaQuantile(p, 1, 2)).toBeCloseTo(1 - Math.sqrt(1 - p), 12);
    }
  });

  it('equals scipy.stats.beta.ppf for the Beta schedule shape', () => {
    // scipy 1.17: beta.ppf(p, 0.6, 0.6)
    expect(betaQuantile(0.75, 0.6, 0.6)).toBeCloseTo(0.824319621347305, 12);
    expect(betaQuantile(0.25, 0.6, 0.6)).toBeCloseTo(1 - 0.824319621347305, 12);
    expect(betaQuantile(0.5, 0.6, 0.6)).toBeCloseTo(0.5, 14);
  });

  it('reaches the tails of shapes below 1, where the density is unbounded', () => {
    const q = betaQuantile(1e-12, 0.3, 0.9);
    expect(q).toBeGreaterThan(0);
    expect(regularizedIncompleteBeta(q, 0.3, 0.9) / 1e-12).toBeCloseTo(1, 10);
    expect(betaQuantile(0, 0.6, 0.6)).toBe(0);
    expect(betaQuantile(1, 0.6, 0.6)).toBe(1);
  });
});
