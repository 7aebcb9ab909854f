import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { caseAsMade, compareImages, FIXTURE_CORRECTIONS, runCli, TOLERANCE, type ReferenceCase } from './cases.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const CASES = resolve(SINGLE_FILE, 'cases');
const outDir = mkdtempSync(join(tmpdir(), 'sd-oracle-sf-'));

/** Cases another issue covers, with the reason: listed, not silently skipped. */
const OUT_OF_SCOPE: Record<string, string> = {};

const cases = readdirSync(CASES)
  .filter((f) => f.startsWith('sf-') && f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(resolve(CASES, f), 'utf8')) as ReferenceCase);

/** The LoRA folder for cases whose prompt carries `<lora:NAME:…>` tags (the fixtures' own). */
function loraArgs(c: ReferenceCase): string[] {
  return c.prompt.includes('<lora:') ? ['--lora-dir', SINGLE_FILE] : [];
}

/**
 * The model arguments of a case: `-folder` cases open the diffusers safetensors folder, the others
 * the single file with that folder as its config (the tiny models are not standard sizes).
 */
function modelArgs(c: ReferenceCase): string[] {
  if (c.model.endsWith('-diffusers')) return ['--model', resolve(SINGLE_FILE, c.model)];
  return [
    '--model',
    resolve(SINGLE_FILE, `${c.model}.safetensors`),
    '--config',
    resolve(SINGLE_FILE, `${c.model}-diffusers`),
  ];
}

function cliArgs(c: ReferenceCase, out: string): string[] {
  return [
    'generate',
    ...modelArgs(c),
    ...loraArgs(c),
    ...['--prompt', c.prompt, '--negative-prompt', c.negative_prompt, '--sampler', c.sampler ?? 'Euler'],
    ...['--steps', String(c.steps), '--cfg', String(c.cfg), '--seed', String(c.seed)],
    ...['--width', String(c.width), '--height', String(c.height), '--rng', 'cpu', '--prompt-syntax', 'diffusers'],
    ...['--out', out],
  ];
}

describe('single-file and safetensors-folder reference cases through the CLI', () => {
  it('finds the cases; those another issue covers are named here with the reason (OUT_OF_SCOPE)', () => {
    expect(cases.length).toBeGreaterThanOrEqual(7);
    const ids = cases.map((c) => c.id);
    for (const id of Object.keys(OUT_OF_SCOPE)) expect(ids).toContain(id);
  });
  describe.each(cases.filter((c) => !(c.id in OUT_OF_SCOPE)))('$id', (c) => {
    const title = `matches diffusers within ${TOLERANCE.mean} mean / ${TOLERANCE.max} max levels`;
    const correction = FIXTURE_CORRECTIONS[c.id];
    const check = async (settings: ReferenceCase, name: string): Promise<void> => {
      const out = join(outDir, `${name}.png`);
      await runCli(cliArgs(settings, out));
      const ours = decodePng(new Uint8Array(readFileSync(out)));
      const ref = decodePng(new Uint8Array(readFileSync(resolve(CASES, `${c.id}.png`))));
      expect([ours.width, ours.height]).toEqual([ref.width, ref.height]);
      const diff = compareImages(ours.rgb, ref.rgb);
      console.log(`${name}: mean ${diff.mean.toFixed(4)} max ${diff.max} levels`);
      expect(diff.mean, `mean abs diff (max ${diff.max})`).toBeLessThanOrEqual(TOLERANCE.mean);
      expect(diff.max, 'max abs diff').toBeLessThanOrEqual(TOLERANCE.max);
      expect(ours.text['parameters']).toContain(`Seed: ${c.seed}`);
    };
    if (correction === undefined) {
      it(title, () => check(c, c.id));
    } else {
      it(`${title} with the sampler the reference was made with, ${correction.sampler}`, () =>
        check(caseAsMade(c), `${c.id}-as-made`));
      it.fails(`${title} with the sampler its JSON declares (known to differ: ${correction.evidence})`, () =>
        check(c, c.id),
      );
    }
  });
});
