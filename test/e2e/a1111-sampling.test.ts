// AUTOMATIC1111's own sampling in headless Chromium on WebGPU (SwiftShader): the tiny SD 1.x checkpoint
// opened in the page with its diffusers config folder, an A1111 PNG restored through the page's
// "Settings from an image" input (which selects a1111 sampling for it), regenerated in the browser and
// compared with the A1111 image (the public case with the fewest steps, to keep the test short).
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng, readPngText } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { generateImage, openCheckpoint } from './harness/page-actions.ts';
import { expectWithinTolerance, readPngFile } from './harness/references.ts';
import { useSession } from './harness/session.ts';

const RUN_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;
const SINGLE = resolve(FIXTURES, 'single-file');
const CASE = 'a1k-eulera-12-gpu';
const CASE_PNG = resolve(SINGLE, 'a1111-cases', `${CASE}.png`);

describe('a1111 sampling in headless Chromium', () => {
  const session = useSession();

  it(
    `regenerates the dropped A1111 PNG ${CASE} in a1111 mode`,
    async () => {
      const { page } = session;
      await page.goto(session.appUrl);
      await openCheckpoint(page, resolve(SINGLE, 'tiny-sd15.safetensors'), resolve(SINGLE, 'tiny-sd15-diffusers'));
      expect(await page.getByTestId('sampling').inputValue()).toBe('diffusers');

      await page.getByTestId('restore-png').setInputFiles(CASE_PNG);
      const message = await page.getByTestId('restore-message').innerText();
      expect(message).toMatch(/Sampling: AUTOMATIC1111 \(the infotext comes from AUTOMATIC1111 v1\.10\.1\)/);
      expect(message).toMatch(/Ignored: Model \(tiny-sd15: pick the model yourself\)/);
      expect(await page.getByTestId('sampling').inputValue()).toBe('a1111');
      expect(await page.getByTestId('sampler').inputValue()).toBe('Euler a');
      expect(await page.getByTestId('steps').inputValue()).toBe('12');
      await expect.poll(() => new URL(page.url()).searchParams.get('sampling')).toBe('a1111');
      expect(await page.getByTestId('model').inputValue()).toBe('local:tiny-sd15.safetensors');

      const t = Date.now();
      const png = await generateImage(page, RUN_TIMEOUT_MS);
      session.figures['runMs'] = Date.now() - t;
      expectWithinTolerance(decodePng(png).rgb, readPngFile(CASE_PNG).rgb, CASE, session.figures);
      // the page's own PNG says how it was made, so it restores in the same mode
      expect(await page.getByTestId('result-image').first().getAttribute('title')).toMatch(/Sampling: a1111/);
      expect(readPngText(png)['sampling']).toBe('a1111');
    },
    TEST_TIMEOUT_MS,
  );
});
