import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { cliArgs, compareImages, loadCases, referencePng, runCli, TOLERANCE } from './cases.ts';

const outDir = mkdtempSync(join(tmpdir(), 'sd-oracle-'));

describe('reference cases through the CLI', () => {
  const cases = loadCases();
  it('finds the reference cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  describe.each(cases)('$id', (c) => {
    it(`matches diffusers within ${TOLERANCE.mean} mean / ${TOLERANCE.max} max levels`, async () => {
      const out = join(outDir, `${c.id}.png`);
      await runCli(cliArgs(c, out));
      const ours = decodePng(new Uint8Array(readFileSync(out)));
      const ref = referencePng(c);
      expect([ours.width, ours.height]).toEqual([ref.width, ref.height]);
      const diff = compareImages(ours.rgb, ref.rgb);
      expect(diff.mean, `mean abs diff (max ${diff.max})`).toBeLessThanOrEqual(TOLERANCE.mean);
      expect(diff.max, 'max abs diff').toBeLessThanOrEqual(TOLERANCE.max);
      // the PNG carries the parameters that made it
      expect(ours.text['parameters']).toContain(`Seed: ${c.seed}`);
    });
  });
});
