import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { compareImages, CONTROLNET_CASES_DIR, runCli, TOLERANCE, type ControlNetCase } from './cases.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const CASES = CONTROLNET_CASES_DIR;
const outDir = mkdtempSync(join(tmpdir(), 'sd-oracle-cn-'));

const cases = readdirSync(CASES)
  .filter((f) => f.startsWith('cn-') && f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(resolve(CASES, f), 'utf8')) as ControlNetCase);

function cliArgs(c: ControlNetCase, out: string): string[] {
  return [
    'generate',
    ...['--model', resolve(SINGLE_FILE, `${c.model}.safetensors`)],
    ...['--config', resolve(SINGLE_FILE, `${c.model}-diffusers`)],
    ...['--controlnet', resolve(SINGLE_FILE, `${c.controlnet}.safetensors`)],
    ...['--controlnet-config', resolve(SINGLE_FILE, `${c.controlnet}-diffusers`)],
    ...['--control-image', resolve(CASES, c.control_image)],
    ...['--control-weight', String(c.control_weight)],
    ...['--control-start', String(c.control_start), '--control-end', String(c.control_end)],
    ...['--prompt', c.prompt, '--negative-prompt', c.negative_prompt, '--sampler', c.sampler],
    ...['--steps', String(c.steps), '--cfg', String(c.cfg), '--seed', String(c.seed)],
    ...['--width', String(c.width), '--height', String(c.height), '--rng', 'cpu', '--prompt-syntax', 'diffusers'],
    ...['--out', out],
  ];
}

describe('ControlNet reference cases (StableDiffusionControlNetPipeline) through the CLI', () => {
  it('finds the public cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(2);
  });
  describe.each(cases)('$id', (c) => {
    it(`matches diffusers within ${TOLERANCE.mean} mean / ${TOLERANCE.max} max levels`, async () => {
      const out = join(outDir, `${c.id}.png`);
      await runCli(cliArgs(c, out));
      const ours = decodePng(new Uint8Array(readFileSync(out)));
      const ref = decodePng(new Uint8Array(readFileSync(resolve(CASES, `${c.id}.png`))));
      expect([ours.width, ours.height]).toEqual([ref.width, ref.height]);
      const diff = compareImages(ours.rgb, ref.rgb);
      console.log(`${c.id}: mean ${diff.mean.toFixed(4)} max ${diff.max} levels`);
      expect(diff.mean, `mean abs diff (max ${diff.max})`).toBeLessThanOrEqual(TOLERANCE.mean);
      expect(diff.max, 'max abs diff').toBeLessThanOrEqual(TOLERANCE.max);
    });
  });
});
