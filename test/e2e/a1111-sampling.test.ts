// AUTOMATIC1111's own sampling in headless Chromium on WebGPU (SwiftShader): the tiny SD 1.x checkpoint
// opened in the page with its diffusers config folder, an A1111 PNG restored through the page's
// "Settings from an image" input (which selects a1111 sampling for it), regenerated in the browser and
// compared with the A1111 image (the public case with the fewest steps, to keep the test short).
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng, readPngText } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { compareImages, TOLERANCE } from '../oracle/cases.ts';
import { launchBrowser } from './harness/browser.ts';
import { buildSite } from './harness/build-site.ts';
import { newestPng, resultCount, waitForResults } from './harness/page-actions.ts';
import { startStaticServer, type StaticServer } from './harness/static-server.ts';

const RUN_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;
const SINGLE = resolve(FIXTURES, 'single-file');
const CASE = 'a1k-eulera-12-gpu';
const CASE_PNG = resolve(SINGLE, 'a1111-cases', `${CASE}.png`);

let dist: string;
let server: StaticServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
const log: string[] = [];
const figures: Record<string, number> = {};

describe('a1111 sampling in headless Chromium', () => {
  beforeAll(async () => {
    dist = await buildSite();
    server = await startStaticServer({ '/app/': dist });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log.push(`[${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dist) rmSync(dist, { recursive: true, force: true });
    console.log(`e2e figures: ${JSON.stringify(figures)}`);
    if (log.length > 0) console.log(`browser console:\n${log.slice(-40).join('\n')}`);
  });

  it(
    `regenerates the dropped A1111 PNG ${CASE} in a1111 mode`,
    async () => {
      await page.goto(`${server.origin}/app/`);
      await page.getByTestId('config-input').setInputFiles(resolve(SINGLE, 'tiny-sd15-diffusers'));
      await expect.poll(() => page.getByTestId('config-name').innerText()).toMatch(/config: tiny-sd15-diffusers/);
      await page.getByTestId('file-input').setInputFiles(resolve(SINGLE, 'tiny-sd15.safetensors'));
      await expect
        .poll(() => page.getByTestId('local-model').innerText(), { timeout: 30_000 })
        .toMatch(/^Reading tiny-sd15\.safetensors/);
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
      await page.getByTestId('generate').click();
      await waitForResults(page, (await resultCount(page)) + 1, RUN_TIMEOUT_MS);
      figures['runMs'] = Date.now() - t;
      const png = await newestPng(page);
      const diff = compareImages(decodePng(png).rgb, decodePng(new Uint8Array(readFileSync(CASE_PNG))).rgb);
      figures[`${CASE}.mean`] = diff.mean;
      figures[`${CASE}.max`] = diff.max;
      expect(diff.mean, `${CASE} mean`).toBeLessThanOrEqual(TOLERANCE.mean);
      expect(diff.max, `${CASE} max`).toBeLessThanOrEqual(TOLERANCE.max);
      // the page's own PNG says how it was made, so it restores in the same mode
      expect(await page.getByTestId('result-image').first().getAttribute('title')).toMatch(/Sampling: a1111/);
      expect(readPngText(png)['sampling']).toBe('a1111');
    },
    TEST_TIMEOUT_MS,
  );
});
