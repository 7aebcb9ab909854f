/**
 * Spread of one measured quantity over repeated runs, in the unit of the samples (milliseconds
 * unless the field name says otherwise), rounded to 0.01.
 */
export interface Summary {
  /** Number of samples. */
  n: number;
  median: number;
  min: number;
  max: number;
  /** 90th percentile, linear between the two nearest ranks (numpy's default `percentile`). */
  p90: number;
  mean: number;
  /** Population standard deviation (numpy's `std` with ddof=0); 0 for a single sample. */
  stddev: number;
}

/** Rounds to 0.01, enough for milliseconds and percentages and short in JSON. */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Percentile `q` in [0, 100] of ascending `sorted`, interpolating linearly between ranks. */
function percentile(sorted: readonly number[], q: number): number {
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (pos - lo);
}

/**
 * Median, extremes, p90, mean and standard deviation of `samples`. An empty list gives `n: 0` and
 * zeros elsewhere, so a stage that did not run (no VAE encode in txt2img) still has the same shape.
 */
export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  if (n === 0) return { n: 0, median: 0, min: 0, max: 0, p90: 0, mean: 0, stddev: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((s, x) => s + x, 0) / n;
  const variance = samples.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
  return {
    n,
    median: round2(percentile(sorted, 50)),
    min: round2(sorted[0] as number),
    max: round2(sorted[n - 1] as number),
    p90: round2(percentile(sorted, 90)),
    mean: round2(mean),
    stddev: round2(Math.sqrt(variance)),
  };
}
