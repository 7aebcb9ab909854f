import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { compareImages, runCli, TOLERANCE } from './cases.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const REFERENCE = resolve(import.meta.dirname, 'references', 'cn-sd15-canny96x64-euler-12.png');

// A control image of another size than the generation is resized as diffusers' control image
// processor does (Pillow's LANCZOS); see references/README.md for how the reference was made.
describe('a ControlNet control image of another size', () => {
  it('gives diffusers image (96x64 edge map, 64x64 generation)', async () => {
    const control = resolve(SINGLE_FILE, 'canny', 'canny-100-200.png');
    expect([decodePng(new Uint8Array(readFileSync(control))).width]).toEqual([96]);
    const out = join(mkdtempSync(join(tmpdir(), 'sd-oracle-cn-resize-')), 'out.png');
    await runCli([
      'generate',
      ...['--model', resolve(SINGLE_FILE, 'tiny-sd15.safetensors')],
      ...['--config', resolve(SINGLE_FILE, 'tiny-sd15-diffusers')],
      ...['--controlnet', resolve(SINGLE_FILE, 'tiny-controlnet.safetensors')],
      ...['--controlnet-config', resolve(SINGLE_FILE, 'tiny-controlnet-diffusers')],
      ...['--control-image', control],
      ...['--prompt', 'a watercolor painting of a lighthouse in a storm', '--sampler', 'Euler'],
      ...['--steps', '12', '--cfg', '7', '--seed', '42', '--width', '64', '--height', '64'],
      ...['--rng', 'cpu', '--prompt-syntax', 'diffusers', '--out', out],
    ]);
    const diff = compareImages(
      decodePng(new Uint8Array(readFileSync(out))).rgb,
      decodePng(new Uint8Array(readFileSync(REFERENCE))).rgb,
    );
    console.log(`cn-sd15-canny96x64-euler-12: mean ${diff.mean.toFixed(4)} max ${diff.max} levels`);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
  });
});
