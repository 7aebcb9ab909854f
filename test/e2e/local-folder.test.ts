// Models opened from the user's disk in headless Chromium: a diffusers ONNX folder picked through
// the page's webkitdirectory input, read in place (a reference case must come out), a folder that
// is not a model (its error names what was expected), and a kept copy that the store panel lists
// and that generates after a reload, without the folder.
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { MODELS } from '../fixtures.ts';
import { referencePng } from '../oracle/cases.ts';
import { generateImage, pageState, shareLink } from './harness/page-actions.ts';
import { expectWithinTolerance, referenceCase } from './harness/references.ts';
import { useSession } from './harness/session.ts';

/** One run on SwiftShader (a fresh worker compiles its shaders first). */
const RUN_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 240_000;
const FOLDER = resolve(MODELS, 'tiny-sd15');

/** Picks `folder` through the page's folder input, as "Open a folder…" does without showDirectoryPicker. */
async function pickFolder(p: Page, folder: string): Promise<void> {
  await p.getByTestId('folder-input').setInputFiles(folder);
}

describe('model folders from the disk in headless Chromium', () => {
  const session = useSession();

  it(
    'reads a picked folder in place and generates sd15-eulera-10 from it; refuses a folder that is not a model',
    async () => {
      const { page } = session;
      const c = referenceCase('sd15-eulera-10');
      // the link's model is replaced by the folder; every other setting stays
      await page.goto(shareLink(session.appUrl, c, '/nowhere/'));

      await pickFolder(page, resolve(FOLDER, 'tokenizer'));
      const error = page.getByTestId('local-error');
      await expect.poll(() => error.count(), { timeout: 30_000 }).toBe(1);
      expect(await error.getAttribute('data-code')).toBe('missing-file');
      expect(await error.innerText()).toMatch(/tokenizer has no model_index\.json and no unet\/model\.onnx/);

      await pickFolder(page, FOLDER);
      const status = page.getByTestId('local-model');
      await expect.poll(() => status.innerText(), { timeout: 30_000 }).toMatch(/^Reading tiny-sd15 \(\d+ files,/);
      expect(await page.getByTestId('model').inputValue()).toBe('local:tiny-sd15');
      expect(new URL(page.url()).searchParams.get('model')).toBe('local:tiny-sd15');
      expect(await status.innerText()).toContain('A link cannot carry a folder');

      const t = Date.now();
      const png = await generateImage(page, RUN_TIMEOUT_MS);
      session.figures['folderRunMs'] = Date.now() - t;
      const ours = decodePng(png);
      expectWithinTolerance(ours.rgb, referencePng(c).rgb, c.id, session.figures);
      expect(ours.text['parameters']).toContain('Model: tiny-sd15');
      // read in place: nothing went into the store
      expect(await page.locator('[data-testid="stored-model"][data-model-id="local:tiny-sd15"]').count()).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'keeps a copy on request, lists it in the store panel, and generates from it after a reload without the folder',
    async () => {
      const { page } = session;
      const query = new URLSearchParams({ prompt: 'a red fox', steps: '1', seed: '7', width: '64', height: '64' });
      await page.goto(`${session.appUrl}?${query.toString()}`);
      await page.getByTestId('keep-copy').check();
      await pickFolder(page, FOLDER);
      const status = page.getByTestId('local-model');
      await expect.poll(() => status.getAttribute('data-stored'), { timeout: 60_000 }).toBe('true');
      expect(await status.innerText()).toMatch(/^tiny-sd15 \(\d+ files, .*\) is kept in this browser/);
      const stored = page.locator('[data-testid="stored-model"][data-model-id="local:tiny-sd15"]');
      await expect.poll(() => stored.count(), { timeout: 10_000 }).toBe(1);
      expect(await stored.innerText()).toContain('local folder');
      // the panel's Use makes the kept copy the model again
      await page.getByTestId('model').fill('org/other');
      await stored.getByTestId('use-model').click();
      expect(await page.getByTestId('model').inputValue()).toBe('local:tiny-sd15');

      // a reload forgets the picked files: only the kept copy can answer local:tiny-sd15
      await page.reload();
      expect(await page.getByTestId('model').inputValue()).toBe('local:tiny-sd15');
      await expect
        .poll(() => page.getByTestId('local-model').innerText(), { timeout: 10_000 })
        .toContain("from someone's disk");
      const png = await generateImage(page, RUN_TIMEOUT_MS).catch(async (e: unknown) => {
        throw new Error(`${String(e)}; ${await pageState(page)}`);
      });
      expect(decodePng(png).width).toBe(64);
      await expect.poll(() => stored.innerText(), { timeout: 10_000 }).toContain('loaded');
    },
    TEST_TIMEOUT_MS,
  );
});
