import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { controlNetsOfFiles } from '../../../src/lib/controlnet-files.ts';

const entry = (path: string) => ({ path, file: new Blob([path]) });
const paths = (groups: ReturnType<typeof controlNetsOfFiles>) =>
  groups.map((g) => ({ name: g.name, paths: g.files.map((f) => f.path) }));

function refusal(entries: ReturnType<typeof entry>[]): string {
  try {
    controlNetsOfFiles(entries);
  } catch (e) {
    expect(isSdError(e, 'bad-argument')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('not refused');
}

describe('ControlNets of picked or dropped files', () => {
  it('makes each loose .safetensors file one ControlNet, named by the worker after the file', () => {
    expect(paths(controlNetsOfFiles([entry('a.safetensors'), entry('B.SAFETENSORS')]))).toEqual([
      { name: undefined, paths: ['a.safetensors'] },
      { name: undefined, paths: ['B.SAFETENSORS'] },
    ]);
  });

  it('puts a loose config.json with the one .safetensors file picked beside it', () => {
    expect(paths(controlNetsOfFiles([entry('config.json'), entry('cn.safetensors')]))).toEqual([
      { name: undefined, paths: ['cn.safetensors', 'config.json'] },
    ]);
  });

  it('makes a folder one ControlNet named after it, with its weights and config only', () => {
    const folder = [
      'tiny-controlnet-diffusers/config.json',
      'tiny-controlnet-diffusers/diffusion_pytorch_model.safetensors',
      'tiny-controlnet-diffusers/README.md',
      'tiny-controlnet-diffusers/diffusion_pytorch_model.bin',
    ].map(entry);
    expect(paths(controlNetsOfFiles([...folder, entry('other.safetensors')]))).toEqual([
      {
        name: 'tiny-controlnet-diffusers',
        paths: [
          'tiny-controlnet-diffusers/config.json',
          'tiny-controlnet-diffusers/diffusion_pytorch_model.safetensors',
        ],
      },
      { name: undefined, paths: ['other.safetensors'] },
    ]);
  });

  it('refuses what forms no ControlNet, naming the files and what to pick', () => {
    expect(refusal([entry('cn.ckpt')])).toMatch(/^cn\.ckpt: not a ControlNet file\. Add a \.safetensors file/);
    expect(refusal([entry('x/config.json')])).toMatch(/^The folder x holds no \.safetensors file/);
    expect(refusal([entry('config.json')])).toMatch(/config\.json was picked with 0 \.safetensors files/);
    expect(refusal([entry('config.json'), entry('a.safetensors'), entry('b.safetensors')])).toMatch(/with 2 /);
    expect(controlNetsOfFiles([])).toEqual([]);
  });
});
