// ControlNet in headless Chromium on WebGPU (SwiftShader): the tiny SD 1.x checkpoint opened with its
// config folder, tiny-controlnet.safetensors added in the ControlNet panel (kept in the browser's
// ControlNet store), the case's control image given to Unit 0 with the preprocessor "none": the image
// must match cn-sd15-circles-euler-12 and carry A1111's `ControlNet 0` infotext. The panel's Canny
// preview must equal cv2.Canny on the canny fixtures, and an enabled unit without its image must say so.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { compareImages, type ReferenceCase } from '../oracle/cases.ts';
import {
  addControlNet,
  controlPreview,
  enableControlNet,
  errorOrState,
  generateImage,
  openCheckpoint,
  shareLink,
} from './harness/page-actions.ts';
import { expectWithinTolerance, readCase, readPngFile } from './harness/references.ts';
import { useSession } from './harness/session.ts';

const RUN_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;
const SINGLE = resolve(FIXTURES, 'single-file');
const CASES = resolve(SINGLE, 'controlnet-cases');
const CANNY = resolve(SINGLE, 'canny');
const CASE_ID = 'cn-sd15-circles-euler-12';

interface ControlNetCase extends ReferenceCase {
  controlnet: string;
  control_weight: number;
  control_start: number;
  control_end: number;
  control_image: string;
}

const CASE = readCase<ControlNetCase>(CASES, CASE_ID);
/** Pixels of the Canny preview that may differ from cv2.Canny's. */
const CANNY_TOLERANCE = 0.01;

/** The first test's image, restored from in a later one. */
let generated: Uint8Array | undefined;

describe('ControlNet in headless Chromium', () => {
  const session = useSession();

  it(
    `generates ${CASE_ID} with a ControlNet added in the panel and writes ControlNet 0 into the infotext`,
    async () => {
      const { page } = session;
      await page.goto(shareLink(session.appUrl, CASE, '/nowhere/'));
      await openCheckpoint(page, resolve(SINGLE, `${CASE.model}.safetensors`), resolve(SINGLE, 'tiny-sd15-diffusers'));
      await enableControlNet(page);
      await addControlNet(page, resolve(SINGLE, `${CASE.controlnet}.safetensors`), CASE.controlnet);
      // what was just added is selected
      expect(await page.getByLabel('ControlNet model', { exact: true }).inputValue()).toBe(CASE.controlnet);
      await page.getByLabel('Preprocessor', { exact: true }).selectOption('none');
      await page.getByRole('spinbutton', { name: 'Control Weight' }).fill(String(CASE.control_weight));
      await page.getByRole('spinbutton', { name: 'Starting Control Step' }).fill(String(CASE.control_start));
      await page.getByRole('spinbutton', { name: 'Ending Control Step' }).fill(String(CASE.control_end));
      const preview = decodePng(await controlPreview(page, 'none', resolve(CASES, CASE.control_image)));
      const control = readPngFile(resolve(CASES, CASE.control_image));
      expect(compareImages(preview.rgb, control.rgb).max).toBe(0);
      // the link carries the unit, not its image
      const link = new URL(page.url()).searchParams;
      expect(['cn', 'cn_pre', 'cn_weight', 'cn_start', 'cn_end'].map((name) => link.get(name))).toEqual([
        CASE.controlnet,
        'none',
        String(CASE.control_weight),
        String(CASE.control_start),
        String(CASE.control_end),
      ]);

      const t = Date.now();
      generated = await generateImage(page, RUN_TIMEOUT_MS);
      const png = decodePng(generated);
      session.figures['controlNetRunMs'] = Date.now() - t;
      expect(await page.getByTestId('backend').getAttribute('data-backend')).toBe('webgpu');
      expectWithinTolerance(png.rgb, readPngFile(resolve(CASES, `${CASE_ID}.png`)).rgb, CASE_ID, session.figures);
      expect(png.text['parameters']).toMatch(
        new RegExp(
          `ControlNet 0: "Module: none, Model: ${CASE.controlnet}, Weight: 1\\.0, .*Guidance Start: 0\\.0, Guidance End: 1\\.0`,
        ),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it.each(['canny-100-200', 'canny-50-120'])(
    "previews Canny as cv2.Canny does on %s, following the panel's thresholds",
    async (id) => {
      const { page } = session;
      const c = readCase<{ low_threshold: number; high_threshold: number }>(CANNY, id);
      await page.getByTestId('control-image').setInputFiles(resolve(CANNY, `${id}.input.png`));
      await page.getByLabel('Preprocessor', { exact: true }).selectOption('canny');
      await page.getByRole('spinbutton', { name: 'Low Threshold' }).fill(String(c.low_threshold));
      await page.getByRole('spinbutton', { name: 'High Threshold' }).fill(String(c.high_threshold));
      const preview = decodePng(await controlPreview(page, `canny:${c.low_threshold}:${c.high_threshold}`));
      const expected = readPngFile(resolve(CANNY, `${id}.png`));
      expect([preview.width, preview.height]).toEqual([expected.width, expected.height]);
      let differ = 0;
      for (let i = 0; i < expected.width * expected.height; i++)
        if (preview.rgb[i * 3] !== expected.rgb[i * 3]) differ++;
      session.figures[`${id}.differ`] = differ;
      expect(differ / (expected.width * expected.height)).toBeLessThanOrEqual(CANNY_TOLERANCE);
    },
    60_000,
  );

  it('says what an enabled unit lacks before generating; stores a diffusers ControlNet folder under its name and deletes it', async () => {
    const { page } = session;
    await page.getByTestId('controlnet-panel').getByRole('button', { name: 'Remove' }).click();
    await page.getByTestId('generate').click();
    const error = page.getByTestId('error');
    await expect
      .poll(() => errorOrState(page))
      .toMatch(/ControlNet Unit 0 is enabled but lacks a control image: add it in the ControlNet panel/);
    expect(await error.getAttribute('data-code')).toBe('bad-argument');

    await addControlNet(page, resolve(SINGLE, 'tiny-controlnet-diffusers'), 'tiny-controlnet-diffusers', true);
    expect(await page.getByLabel('ControlNet model', { exact: true }).inputValue()).toBe('tiny-controlnet-diffusers');
    expect(await page.getByTestId('controlnet-list').innerText()).toMatch(/tiny-controlnet-diffusers\s.*·/);
    // deleting asks for a second click, and unselects what it deletes
    const list = page.getByTestId('controlnet-list');
    await list.getByRole('button', { name: 'Delete tiny-controlnet-diffusers' }).click();
    await list.getByRole('button', { name: 'Really delete tiny-controlnet-diffusers?' }).click();
    await expect.poll(() => list.innerText()).not.toContain('tiny-controlnet-diffusers');
    expect(await page.getByLabel('ControlNet model', { exact: true }).inputValue()).toBe('');
    await page.getByLabel('ControlNet model', { exact: true }).selectOption(CASE.controlnet);
  }, 60_000);

  it("restores Unit 0 but its image from the generated PNG's ControlNet 0", async () => {
    if (!generated) throw new Error('the first test generated no image');
    const { page } = session;
    await page.getByRole('spinbutton', { name: 'Control Weight' }).fill('1.5');
    await page.getByLabel('Preprocessor', { exact: true }).selectOption('invert');
    await page.getByRole('checkbox', { name: 'Enable ControlNet Unit 0' }).uncheck();
    await page.getByTestId('restore-png').setInputFiles({
      name: 'generated.png',
      mimeType: 'image/png',
      buffer: Buffer.from(generated),
    });
    const message = page.getByTestId('restore-message');
    await expect
      .poll(() => message.innerText())
      .toContain(`ControlNet Unit 0 enabled: ${CASE.controlnet}, none, weight 1; give it the control image.`);
    // the key is restored, so not listed as ignored
    expect(await message.innerText()).not.toContain('ControlNet 0');
    expect(await page.getByRole('checkbox', { name: 'Enable ControlNet Unit 0' }).isChecked()).toBe(true);
    expect(await page.getByLabel('ControlNet model', { exact: true }).inputValue()).toBe(CASE.controlnet);
    expect(await page.getByLabel('Preprocessor', { exact: true }).inputValue()).toBe('none');
    expect(await page.getByRole('spinbutton', { name: 'Control Weight' }).inputValue()).toBe('1');
  }, 30_000);

  it("shows the link's ControlNet as not stored, and the worker's error naming it when generating", async () => {
    const { page } = session;
    const link = new URL(shareLink(session.appUrl, CASE, '/nowhere/'));
    link.searchParams.set('cn', 'no-such-controlnet');
    link.searchParams.set('cn_pre', 'canny:50:120');
    await page.goto(link.href);
    expect(await page.getByRole('checkbox', { name: 'Enable ControlNet Unit 0' }).isChecked()).toBe(true);
    expect(await page.getByLabel('ControlNet model', { exact: true }).inputValue()).toBe('no-such-controlnet');
    expect(await page.getByTestId('controlnet-missing').innerText()).toMatch(/no-such-controlnet is not stored/);
    expect(await page.getByRole('spinbutton', { name: 'Low Threshold' }).inputValue()).toBe('50');
    await controlPreview(page, 'canny:50:120', resolve(CASES, CASE.control_image));
    await page.getByTestId('generate').click();
    const error = page.getByTestId('error');
    await expect
      .poll(() => errorOrState(page), { timeout: 60_000 })
      .toMatch(/Unknown ControlNet "no-such-controlnet".*ControlNet panel/s);
    expect(await error.getAttribute('data-code')).toBe('missing-file');
  }, 90_000);
});
