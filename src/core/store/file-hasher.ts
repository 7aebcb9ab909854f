import { createSHA1, createSHA256, type IHasher } from 'hash-wasm';
import type { FileSpec, HashState } from './records.ts';

/** What a finished file hashed to: SHA-256 always, the git blob id when the file's size was known up front. */
export interface FileDigest {
  sha256: string;
  gitOid?: string;
}

/** Latin-1 bytes of an ASCII header such as "blob 123\0". */
function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Streaming SHA-256 of a file (and, for Hugging Face files outside LFS, the git blob SHA-1 that the
 * tree API lists as `oid`). The state can be saved after each stored chunk and restored later, so a
 * resumed download continues hashing where it stopped instead of re-reading what is stored.
 */
export class FileHasher {
  private constructor(
    private readonly sha256: IHasher,
    private readonly gitSha1: IHasher | undefined,
  ) {}

  /**
   * A hasher at the start of a file. `gitSizeBytes` (the file's size) enables the git blob id, whose
   * header includes the size.
   */
  static async create(gitSizeBytes?: number): Promise<FileHasher> {
    const sha256 = (await createSHA256()).init();
    let gitSha1: IHasher | undefined;
    if (gitSizeBytes !== undefined) {
      gitSha1 = (await createSHA1()).init();
      gitSha1.update(asciiBytes(`blob ${gitSizeBytes}\0`));
    }
    return new FileHasher(sha256, gitSha1);
  }

  /**
   * A hasher continuing from a saved state, or undefined when the state was saved by an
   * incompatible hash-wasm build (the caller then re-hashes the stored chunks).
   */
  static async restore(state: HashState): Promise<FileHasher | undefined> {
    try {
      const sha256 = (await createSHA256()).load(state.sha256);
      const gitSha1 = state.gitSha1 ? (await createSHA1()).load(state.gitSha1) : undefined;
      return new FileHasher(sha256, gitSha1);
    } catch {
      // hash-wasm throws when the saved state comes from another build: re-hashing is the fallback
      return undefined;
    }
  }

  update(bytes: Uint8Array): void {
    this.sha256.update(bytes);
    this.gitSha1?.update(bytes);
  }

  save(): HashState {
    const state: HashState = { sha256: this.sha256.save() };
    if (this.gitSha1) state.gitSha1 = this.gitSha1.save();
    return state;
  }

  digest(): FileDigest {
    const digest: FileDigest = { sha256: this.sha256.digest('hex') };
    if (this.gitSha1) digest.gitOid = this.gitSha1.digest('hex');
    return digest;
  }
}

/** Why a file of `sizeBytes` bytes hashing to `digest` is not the file `spec` describes; undefined when it is. */
export function describeMismatch(spec: FileSpec, sizeBytes: number, digest: FileDigest): string | undefined {
  if (spec.sizeBytes !== undefined && sizeBytes !== spec.sizeBytes)
    return `${sizeBytes} bytes instead of ${spec.sizeBytes}`;
  if (spec.sha256 !== undefined && digest.sha256 !== spec.sha256.toLowerCase())
    return `SHA-256 ${digest.sha256} instead of ${spec.sha256}`;
  if (spec.gitOid !== undefined && digest.gitOid !== undefined && digest.gitOid !== spec.gitOid.toLowerCase()) {
    return `git blob id ${digest.gitOid} instead of ${spec.gitOid}`;
  }
  return undefined;
}

/** Hashes bytes at hand and checks them against `spec`; the mismatch, if any. */
export async function checkBytes(spec: FileSpec, bytes: Uint8Array): Promise<string | undefined> {
  const hasher = await FileHasher.create(spec.gitOid !== undefined ? bytes.length : undefined);
  hasher.update(bytes);
  return describeMismatch(spec, bytes.length, hasher.digest());
}
