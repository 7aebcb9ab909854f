import { describe, expect, it } from 'vitest';
import { summarize } from '../../../../src/cli/bench/stats.ts';

describe('summarize', () => {
  // expected values are numpy's median, percentile(q=90, linear), mean and std (ddof=0) of the same lists
  it.each([
    [[1, 2, 3, 4], { median: 2.5, p90: 3.7, mean: 2.5, stddev: 1.12 }],
    [[3, 1, 2], { median: 2, p90: 2.8, mean: 2, stddev: 0.82 }],
    [[10, 0, 7, 7, 2, 9, 1], { median: 7, p90: 9.4, mean: 5.14, stddev: 3.76 }],
    [[5], { median: 5, p90: 5, mean: 5, stddev: 0 }],
  ])('%j', (samples, expected) => {
    const s = summarize(samples);
    expect(s).toMatchObject({ n: samples.length, min: Math.min(...samples), max: Math.max(...samples), ...expected });
  });

  it("does not reorder the caller's array", () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('gives the same shape, all zeros, for no samples', () => {
    expect(summarize([])).toEqual({ n: 0, median: 0, min: 0, max: 0, p90: 0, mean: 0, stddev: 0 });
  });
});
