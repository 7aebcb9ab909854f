import { formatBytes } from '../io/format-bytes.ts';
import { SdError } from '../errors.ts';
import type { StorageManagerLike } from './platform.ts';

/** A stored model, as named in a quota message. */
export interface StoredModelSize {
  label: string;
  sizeBytes: number;
}

/**
 * Refuses a download that cannot fit before it starts, instead of failing half way: compares the
 * bytes still needed with what `storage.estimate()` says is left, and names the stored models
 * that could be deleted (`others` is asked only when the download does not fit). Browsers report the quota loosely (Chrome pads usage, Safari may
 * report less than it allows), so this is a check against the estimate, not a guarantee.
 */
export async function checkQuota(
  storage: StorageManagerLike | undefined,
  neededBytes: number,
  label: string,
  others: () => Promise<readonly StoredModelSize[]>,
): Promise<void> {
  if (!storage || neededBytes <= 0) return;
  const { usage, quota } = await storage.estimate();
  if (quota === undefined) return;
  const availableBytes = Math.max(0, quota - (usage ?? 0));
  if (neededBytes <= availableBytes) return;
  const deletable = (await others())
    .filter((m) => m.sizeBytes > 0)
    .sort((a, b) => b.sizeBytes - a.sizeBytes)
    .map((m) => `${m.label} (${formatBytes(m.sizeBytes)})`);
  const advice =
    deletable.length > 0
      ? `Delete stored models you no longer need: ${deletable.join(', ')}; or free disk space, then try again.`
      : 'Free disk space (browsers give a site a share of the free disk) or choose a smaller model, then try again.';
  throw new SdError(
    'quota',
    `${label} needs ${formatBytes(neededBytes)} more storage, but this browser allows only ${formatBytes(availableBytes)} more for this site (quota ${formatBytes(quota)}, in use ${formatBytes(usage ?? 0)}). ${advice}`,
  );
}

/**
 * Asks the browser to keep this site's data under storage pressure (best effort: browsers may
 * decline or ask the user). Returns whether the storage is persistent now.
 */
export async function requestPersistence(storage: StorageManagerLike | undefined): Promise<boolean> {
  if (!storage?.persist) return false;
  try {
    if (storage.persisted && (await storage.persisted())) return true;
    return await storage.persist();
  } catch {
    // persist() throws in some embedded contexts; eviction then stays possible and is repaired at load
    return false;
  }
}
