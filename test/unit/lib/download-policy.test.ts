import { describe, expect, it } from 'vitest';
import { downloadPolicyFromQuery } from '../../../src/lib/download-policy.ts';

describe('download policy from the page address', () => {
  it('reads stall_ms and retries', () => {
    expect(downloadPolicyFromQuery('?model=x&stall_ms=1500&retries=0')).toEqual({
      policy: { stallTimeoutMs: 1500, maxRetries: 0 },
      problems: [],
    });
  });

  it('leaves the defaults when neither is given', () => {
    expect(downloadPolicyFromQuery('?model=x')).toEqual({ policy: undefined, problems: [] });
  });

  it('ignores values it cannot use, saying what is allowed', () => {
    const { policy, problems } = downloadPolicyFromQuery('?stall_ms=0&retries=many');
    expect(policy).toBeUndefined();
    expect(problems).toEqual([
      'stall_ms=0 ignored: expected a whole number of milliseconds, at least 1 (the default is 30000).',
      'retries=many ignored: expected a whole number from 0 to 100 (the default is 5).',
    ]);
  });
});
