import type { DownloadPolicy } from '../../workers/api.ts';

/**
 * The download policy a page address asks for: `?stall_ms=N` (close a download connection that
 * sends nothing for N ms; default 30 000) and `?retries=N` (attempts without progress after the
 * first; default 5). Meant for tests and slow links. Returns the policy and a sentence per value it
 * ignored.
 */
export function downloadPolicyFromQuery(search: string): { policy: DownloadPolicy | undefined; problems: string[] } {
  const query = new URLSearchParams(search);
  const policy: DownloadPolicy = {};
  const problems: string[] = [];
  const stall = query.get('stall_ms');
  if (stall !== null) {
    if (/^\d+$/.test(stall) && Number(stall) >= 1) policy.stallTimeoutMs = Number(stall);
    else
      problems.push(
        `stall_ms=${stall} ignored: expected a whole number of milliseconds, at least 1 (the default is 30000).`,
      );
  }
  const retries = query.get('retries');
  if (retries !== null) {
    if (/^\d+$/.test(retries) && Number(retries) <= 100) policy.maxRetries = Number(retries);
    else problems.push(`retries=${retries} ignored: expected a whole number from 0 to 100 (the default is 5).`);
  }
  return { policy: Object.keys(policy).length > 0 ? policy : undefined, problems };
}
