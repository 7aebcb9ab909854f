import type { LocalFileEntry } from '../../core/store/local-source.ts';

/**
 * Turns what the page receives when the user picks or drops a model folder into the core's
 * {@link LocalFileEntry} list (path inside the folder + File). The core then reads the folder in
 * place (`localModelFiles`) or imports it into the store (`ModelStore.importFolder`).
 */

/** Files of `<input type="file" webkitdirectory>`: paths from `webkitRelativePath` ("sd15/unet/model.onnx"). */
export function entriesFromFileList(files: FileList | readonly File[]): LocalFileEntry[] {
  return Array.from(files, (file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/** The folder's name as the user sees it: the first segment of the picked paths. */
export function folderName(entries: readonly LocalFileEntry[], fallback = 'local model'): string {
  const first = entries[0]?.path.split('/');
  return first && first.length > 1 ? (first[0] as string) : fallback;
}

/** Minimal shape of a File System Access directory handle (its async iteration is not in lib DOM without DOM.AsyncIterable). */
interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  values(): AsyncIterable<
    DirectoryHandleLike | { readonly kind: 'file'; readonly name: string; getFile(): Promise<File> }
  >;
}

/** Every file under a handle from `showDirectoryPicker()` (Chromium), recursively. */
export async function entriesFromDirectoryHandle(handle: FileSystemDirectoryHandle): Promise<LocalFileEntry[]> {
  const entries: LocalFileEntry[] = [];
  const walk = async (dir: DirectoryHandleLike, prefix: string): Promise<void> => {
    for await (const child of dir.values()) {
      if (child.kind === 'file') entries.push({ path: prefix + child.name, file: await child.getFile() });
      else await walk(child, `${prefix}${child.name}/`);
    }
  };
  await walk(handle as unknown as DirectoryHandleLike, `${handle.name}/`);
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

/** Every file of a folder dropped on the page (`DataTransfer` of a drop event), recursively. */
export async function entriesFromDataTransfer(data: DataTransfer): Promise<LocalFileEntry[]> {
  const entries: LocalFileEntry[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      entries.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      for (const child of await readAllEntries((entry as FileSystemDirectoryEntry).createReader()))
        await walk(child, `${prefix}${entry.name}/`);
    }
  };
  // entries must be taken synchronously, before the drop event handler returns
  const roots = Array.from(data.items, (item) => item.webkitGetAsEntry()).filter(
    (e): e is FileSystemEntry => e !== null,
  );
  for (const root of roots) await walk(root, '');
  return entries;
}
