import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { compareImages, runCli, TOLERANCE } from './cases.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const CASES = resolve(SINGLE_FILE, 'a1111-cases');
const outDir = mkdtempSync(join(tmpdir(), 'sd-oracle-a1k-'));

/** An AUTOMATIC1111 case: its PNG holds the infotext; the JSON the settings and the σ sequence. */
interface A1111Case {
  id: string;
  seed: number;
  width: number;
  height: number;
}

const cases = readdirSync(CASES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(resolve(CASES, f), 'utf8')) as A1111Case);

describe('AUTOMATIC1111 PNGs regenerated through --from-png in a1111 sampling mode', () => {
  it('finds the cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
  describe.each(cases)('$id', (c) => {
    it(`matches A1111 within ${TOLERANCE.mean} mean / ${TOLERANCE.max} max levels`, async () => {
      const png = resolve(CASES, `${c.id}.png`);
      const out = join(outDir, `${c.id}.png`);
      await runCli([
        'generate',
        ...['--from-png', png, '--model', resolve(SINGLE_FILE, 'tiny-sd15.safetensors')],
        ...['--config', resolve(SINGLE_FILE, 'tiny-sd15-diffusers'), '--sampling', 'a1111', '--out', out],
      ]);
      const ours = decodePng(new Uint8Array(readFileSync(out)));
      const ref = decodePng(new Uint8Array(readFileSync(png)));
      expect([ours.width, ours.height]).toEqual([c.width, c.height]);
      const diff = compareImages(ours.rgb, ref.rgb);
      console.log(`${c.id}: mean ${diff.mean.toFixed(4)} max ${diff.max} levels`);
      expect(diff.mean, `mean abs diff (max ${diff.max})`).toBeLessThanOrEqual(TOLERANCE.mean);
      expect(diff.max, 'max abs diff').toBeLessThanOrEqual(TOLERANCE.max);
      expect(ours.text['parameters']).toContain(`Seed: ${c.seed}`);
      expect(ours.text['parameters']).toContain('Sampling: a1111');
    });
  });

  it('an A1111 PNG selects a1111 without --sampling, and our a1111 PNG regenerates the same image', async () => {
    const c = cases[0]!;
    const first = join(outDir, 'auto.png');
    const { stderr } = await runCli([
      'generate',
      ...['--from-png', resolve(CASES, `${c.id}.png`), '--model', resolve(SINGLE_FILE, 'tiny-sd15.safetensors')],
      ...['--config', resolve(SINGLE_FILE, 'tiny-sd15-diffusers'), '--out', first],
    ]);
    expect(stderr).toMatch(/sampling: a1111 \(the infotext comes from AUTOMATIC1111 v1\./);
    const again = join(outDir, 'again.png');
    await runCli([
      'generate',
      ...['--from-png', first, '--model', resolve(SINGLE_FILE, 'tiny-sd15.safetensors')],
      ...['--config', resolve(SINGLE_FILE, 'tiny-sd15-diffusers'), '--out', again],
    ]);
    const a = decodePng(new Uint8Array(readFileSync(first)));
    const b = decodePng(new Uint8Array(readFileSync(again)));
    expect(b.rgb).toEqual(a.rgb);
  });
});
