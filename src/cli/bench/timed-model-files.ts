import { resolve } from 'node:path';
import type { ModelFiles } from '../../core/models/model-files.ts';
import { now } from '../../core/pipeline/timings.ts';
import { folderModelFiles } from '../fs-model-files.ts';
import { readLargeFile } from '../large-file-reader.ts';

/** A model folder whose reads are timed, so the benchmark can tell disk time from session creation. */
export interface TimedModelFiles extends ModelFiles {
  readonly name: string;
  /** Wall time spent in `readBytes`, ms, since creation or the last reset. */
  readMs: number;
}

/** `folderModelFiles` with large-file reads (over 2 GiB) and a read timer. */
export function timedModelFiles(dir: string): TimedModelFiles {
  const folder = folderModelFiles(dir);
  const files: TimedModelFiles = {
    ...folder,
    readMs: 0,
    async readBytes(path) {
      const start = now();
      try {
        return await readLargeFile(resolve(folder.label, path));
      } finally {
        files.readMs += now() - start;
      }
    },
  };
  return files;
}
