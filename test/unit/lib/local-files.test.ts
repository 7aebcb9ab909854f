import { describe, expect, it } from 'vitest';
import {
  entriesFromDataTransfer,
  entriesFromDirectoryHandle,
  entriesFromFileList,
  folderName,
  type DirectoryHandleLike,
} from '../../../src/lib/local-files.ts';

function picked(path: string, body = 'x'): File {
  const file = new File([body], path.split('/').at(-1) as string);
  Object.defineProperty(file, 'webkitRelativePath', { value: path });
  return file;
}

/** A fake tree: folder name → children (a string is a file's contents). */
type Tree = { [name: string]: string | Tree };

function fakeHandle(name: string, tree: Tree): DirectoryHandleLike {
  return {
    kind: 'directory',
    name,
    async *values() {
      for (const [child, value] of Object.entries(tree)) {
        if (typeof value === 'string')
          yield { kind: 'file', name: child, getFile: async () => new File([value], child) };
        else yield fakeHandle(child, value);
      }
    },
  };
}

/** A dropped entry as Chromium gives it, with readEntries answering `batch` entries per call as it does (about 100). */
function fakeEntry(name: string, value: string | Tree, batch: number): FileSystemEntry {
  if (typeof value === 'string') {
    return {
      name,
      isFile: true,
      isDirectory: false,
      file: (ok: (f: File) => void) => ok(new File([value], name)),
    } as never;
  }
  const children = Object.entries(value).map(([n, v]) => fakeEntry(n, v, batch));
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      let at = 0;
      return {
        readEntries: (ok: (entries: FileSystemEntry[]) => void) => {
          const next = children.slice(at, at + batch);
          at += batch;
          setTimeout(() => ok(next));
        },
      };
    },
  } as never;
}

const MODEL: Tree = {
  'model_index.json': '{}',
  unet: { 'model.onnx': 'u', 'weights.pb': 'w' },
  text_encoder: { 'model.onnx': 't' },
  vae_decoder: { 'model.onnx': 'v' },
};

const paths = (entries: { path: string }[]) => entries.map((e) => e.path).sort();

describe('picked and dropped model folders', () => {
  it('turns picked files into entries rooted at the picked folder', () => {
    const file = picked('sd-turbo/model_index.json', '{}');
    const entries = entriesFromFileList([file]);
    expect(entries).toEqual([{ path: 'sd-turbo/model_index.json', file }]);
    expect(folderName(entries)).toBe('sd-turbo');
  });

  it('names a pick by its folder, a single file by its name, and anything else by the fallback', () => {
    expect(folderName([{ path: 'model.safetensors', file: new Blob() }])).toBe('model.safetensors');
    expect(
      folderName([
        { path: 'a.onnx', file: new Blob() },
        { path: 'b.onnx', file: new Blob() },
      ]),
    ).toBe('local model');
    expect(folderName([], 'nothing')).toBe('nothing');
    // a File picked without a folder has an empty webkitRelativePath: its name is the path
    expect(entriesFromFileList([new File(['x'], 'model.safetensors')])[0]?.path).toBe('model.safetensors');
  });

  it('walks a directory handle from showDirectoryPicker(), paths starting with the folder name', async () => {
    const entries = await entriesFromDirectoryHandle(fakeHandle('tiny-sd15', MODEL));
    expect(paths(entries)).toEqual([
      'tiny-sd15/model_index.json',
      'tiny-sd15/text_encoder/model.onnx',
      'tiny-sd15/unet/model.onnx',
      'tiny-sd15/unet/weights.pb',
      'tiny-sd15/vae_decoder/model.onnx',
    ]);
    expect(await entries.find((e) => e.path.endsWith('weights.pb'))?.file.text()).toBe('w');
  });

  it('reads every entry of a dropped folder, however few readEntries gives per call', async () => {
    const item = { webkitGetAsEntry: () => fakeEntry('tiny-sd15', MODEL, 1) };
    const notAFile = { webkitGetAsEntry: () => null };
    const entries = await entriesFromDataTransfer({ items: [item, notAFile] as unknown as DataTransferItemList });
    expect(paths(entries)).toEqual(paths(await entriesFromDirectoryHandle(fakeHandle('tiny-sd15', MODEL))));
  });
});
