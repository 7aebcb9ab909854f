import type { LocalFile } from '../../workers/api.ts';

/**
 * Turns what the page receives when the user picks or drops a model folder into the worker's
 * {@link LocalFile} list (path inside what was picked + File), for `openLocalModel`. Files travel
 * to the worker as references: nothing is read here.
 */

/** Files of `<input type="file" webkitdirectory>`: paths from `webkitRelativePath` ("sd15/unet/model.onnx"). */
export function entriesFromFileList(files: FileList | readonly File[]): LocalFile[] {
  return Array.from(files, (file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/**
 * What was picked, as people see it: the folder's name (the first segment of the paths), the
 * file's name when one file was picked, else `fallback`.
 */
export function folderName(entries: readonly LocalFile[], fallback = 'local model'): string {
  const first = entries[0]?.path.split('/');
  if (first && first.length > 1) return first[0] as string;
  return entries.length === 1 && first ? (first[0] as string) : fallback;
}

/** Minimal shape of a File System Access directory handle (its async iteration is not in lib DOM without DOM.AsyncIterable). */
export interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  values(): AsyncIterable<
    DirectoryHandleLike | { readonly kind: 'file'; readonly name: string; getFile(): Promise<File> }
  >;
}

/** Every file under a handle from `showDirectoryPicker()` (Chromium), recursively, paths starting with its name. */
export async function entriesFromDirectoryHandle(handle: DirectoryHandleLike): Promise<LocalFile[]> {
  const entries: LocalFile[] = [];
  const walk = async (dir: DirectoryHandleLike, prefix: string): Promise<void> => {
    for await (const child of dir.values()) {
      if (child.kind === 'file') entries.push({ path: prefix + child.name, file: await child.getFile() });
      else await walk(child, `${prefix}${child.name}/`);
    }
  };
  await walk(handle, `${handle.name}/`);
  return entries;
}

function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  // readEntries returns at most about 100 entries per call: read until it returns none
  return new Promise((resolve, reject) => {
    const all: FileSystemEntry[] = [];
    const next = (): void =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

/**
 * Every file of what was dropped on the page (a folder, or files), recursively. Call it inside the
 * drop handler: the items are read before its first await, as browsers empty them afterwards.
 */
export async function entriesFromDataTransfer(data: Pick<DataTransfer, 'items'>): Promise<LocalFile[]> {
  const entries: LocalFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      entries.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      for (const child of await readAllEntries((entry as FileSystemDirectoryEntry).createReader()))
        await walk(child, `${prefix}${entry.name}/`);
    }
  };
  const roots = Array.from(data.items, (item) => item.webkitGetAsEntry()).filter(
    (e): e is FileSystemEntry => e !== null,
  );
  for (const root of roots) await walk(root, '');
  return entries;
}
