// What the worker's tests hand it as the user's files, and how they catch its refusals.
import { openAsBlob, readdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { expect } from 'vitest';
import { SdError } from '../../../src/core/errors.ts';
import type { LocalFile } from '../../../workers/api.ts';

/** What picking `dir` gives: every file under it, paths starting with the folder's name. */
export async function picked(dir: string): Promise<LocalFile[]> {
  const root = join(dir, '..');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return Promise.all(
    files.map(async (e) => ({
      path: relative(root, join(e.parentPath, e.name)),
      file: await openAsBlob(join(e.parentPath, e.name)),
    })),
  );
}

/** What picking or dropping one file gives: its own name and its contents. */
export async function pickedFile(path: string): Promise<LocalFile> {
  return { path: basename(path), file: await openAsBlob(path) };
}

/** The SdError `promise` rejects with (fails when it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<SdError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(SdError);
    return e as SdError;
  }
  throw new Error('resolved');
}
