import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectGraphFolders, explicitGraphFolders } from '../../../../src/cli/bench/graph-folders.ts';
import { readLargeFile } from '../../../../src/cli/large-file-reader.ts';
import { MODELS } from '../../../fixtures.ts';

const SD15 = resolve(MODELS, 'tiny-sd15');

describe('detectGraphFolders', () => {
  it('treats a diffusers folder as a pipeline', () => {
    expect(detectGraphFolders(SD15)).toBeUndefined();
  });

  it('finds unet and vae decoder graphs by folder name, as laid out in shared/bench', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-graphs-'));
    symlinkSync(resolve(SD15, 'unet'), join(dir, 'sd15-unet'));
    symlinkSync(resolve(SD15, 'vae_decoder'), join(dir, 'sd15-vae-decoder'));
    mkdirSync(join(dir, 'notes'));
    expect(detectGraphFolders(dir)).toEqual({ unetDir: join(dir, 'sd15-unet'), vaeDir: join(dir, 'sd15-vae-decoder') });
  });

  it('accepts a UNet alone and names what it found when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-graphs-'));
    symlinkSync(resolve(SD15, 'vae_decoder'), join(dir, 'vae_decoder'));
    expect(() => detectGraphFolders(dir)).toThrow(/nor a UNet graph folder .*found vae_decoder/);
    symlinkSync(resolve(SD15, 'unet'), join(dir, 'unet'));
    expect(detectGraphFolders(dir)).toEqual({ unetDir: join(dir, 'unet'), vaeDir: join(dir, 'vae_decoder') });
    expect(explicitGraphFolders(join(dir, 'unet'), undefined)).toEqual({
      unetDir: join(dir, 'unet'),
      vaeDir: undefined,
    });
    expect(() => explicitGraphFolders(dir, undefined)).toThrow(/--unet .*: no model\.onnx there/);
  });
});

describe('readLargeFile', () => {
  it('reads a file in pieces into one array equal to the file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sd-read-')), 'f.bin');
    writeFileSync(
      path,
      Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255),
    );
    const expected = new Uint8Array(readFileSync(path));
    expect(await readLargeFile(path, 64)).toEqual(expected);
    expect(await readLargeFile(path)).toEqual(expected);
  });
});
