import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { compareImages, runCli, TOLERANCE } from './cases.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const REFERENCES = resolve(import.meta.dirname, 'references');
const REFERENCE = resolve(REFERENCES, 'cn-sd15-canny96x64-euler-12.png');

// A control image of another size than the generation is resized as diffusers' control image
// processor does (Pillow's LANCZOS); see references/README.md for how the reference was made.
describe('ControlNet cases computed here (references/README.md)', () => {
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

  it('two ControlNets at once (a 1.0 file and a diffusers folder, own weights and windows) give diffusers image', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sd-oracle-cn-multi-')), 'out.png');
    const cases = resolve(SINGLE_FILE, 'controlnet-cases');
    await runCli([
      'generate',
      ...['--model', resolve(SINGLE_FILE, 'tiny-sd15.safetensors')],
      ...['--config', resolve(SINGLE_FILE, 'tiny-sd15-diffusers')],
      ...['--prompt', 'a watercolor painting of a lighthouse in a storm', '--sampler', 'Euler'],
      ...['--steps', '10', '--cfg', '7', '--seed', '7', '--width', '64', '--height', '64'],
      ...['--rng', 'cpu', '--prompt-syntax', 'diffusers', '--out', out],
      ...['--controlnet', resolve(SINGLE_FILE, 'tiny-controlnet.safetensors')],
      ...['--control-image', resolve(cases, 'cn-sd15-circles-euler-12.control.png'), '--control-weight', '0.7'],
      ...['--controlnet', resolve(SINGLE_FILE, 'tiny-controlnet-diffusers')],
      ...['--control-image', resolve(cases, 'cn-sd15-lines-w0.6-end0.5-dpmpp2mk-10.control.png')],
      ...['--control-weight', '0.5', '--control-start', '0.2', '--control-end', '0.8'],
    ]);
    const png = decodePng(new Uint8Array(readFileSync(out)));
    const diff = compareImages(
      png.rgb,
      decodePng(new Uint8Array(readFileSync(resolve(REFERENCES, 'cn-sd15-multi-euler-10.png')))).rgb,
    );
    console.log(`cn-sd15-multi-euler-10: mean ${diff.mean.toFixed(4)} max ${diff.max} levels`);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
    expect(png.text['parameters']).toMatch(/ControlNet 0: "Module: none, Model: tiny-controlnet, Weight: 0\.7,/);
    expect(png.text['parameters']).toMatch(
      /ControlNet 1: "Module: none, Model: tiny-controlnet-diffusers, Weight: 0\.5,.*Guidance Start: 0\.2, Guidance End: 0\.8,/,
    );
  });

  it('an SDXL ControlNet from a diffusers folder gives diffusers image', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sd-oracle-cn-sdxl-')), 'out.png');
    await runCli([
      'generate',
      ...['--model', resolve(SINGLE_FILE, 'tiny-sdxl.safetensors')],
      ...['--config', resolve(SINGLE_FILE, 'tiny-sdxl-diffusers')],
      ...['--controlnet', resolve(REFERENCES, 'tiny-sdxl-controlnet')],
      ...['--control-image', resolve(SINGLE_FILE, 'controlnet-cases', 'cn-sd15-circles-euler-12.control.png')],
      ...['--control-weight', '0.8'],
      ...['--prompt', 'a watercolor painting of a lighthouse in a storm', '--sampler', 'Euler'],
      ...['--steps', '8', '--cfg', '5', '--seed', '3', '--width', '64', '--height', '64'],
      ...['--rng', 'cpu', '--prompt-syntax', 'diffusers', '--out', out],
    ]);
    const diff = compareImages(
      decodePng(new Uint8Array(readFileSync(out))).rgb,
      decodePng(new Uint8Array(readFileSync(resolve(REFERENCES, 'cn-sdxl-circles-w0.8-euler-8.png')))).rgb,
    );
    console.log(`cn-sdxl-circles-w0.8-euler-8: mean ${diff.mean.toFixed(4)} max ${diff.max} levels`);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
  });
});
