// Safetensors models in headless Chromium on WebGPU (SwiftShader, no shader-f16: float32 graphs
// with float16 weights widened at load): the tiny SD 1.x checkpoint handed to the page's file
// input with its diffusers folder picked as the config, read by slices in the worker, must give
// the reference image sf-sd15-euler-12; the same model as a diffusers safetensors folder,
// downloaded from the Hub-like server, must give sf-sd15-euler-12-folder.
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { compareImages, TOLERANCE, type ReferenceCase } from '../oracle/cases.ts';
import { ModelServer } from '../unit/store/model-server.ts';
import { launchBrowser } from './harness/browser.ts';
import { buildSite } from './harness/build-site.ts';
import { newestPng, resultCount, shareLink, waitForResults } from './harness/page-actions.ts';
import { startStaticServer, type StaticServer } from './harness/static-server.ts';

const RUN_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;
const SINGLE = resolve(FIXTURES, 'single-file');
const CASES = resolve(SINGLE, 'cases');

const loadCase = (id: string): ReferenceCase =>
  JSON.parse(readFileSync(resolve(CASES, `${id}.json`), 'utf8')) as ReferenceCase;
const casePng = (id: string) => decodePng(new Uint8Array(readFileSync(resolve(CASES, `${id}.png`))));

let dist: string;
let server: StaticServer;
const hub = new ModelServer();
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let appUrl: string;
const log: string[] = [];
const figures: Record<string, number> = {};

async function generate(p: Page): Promise<Uint8Array> {
  const before = await resultCount(p);
  await p.getByTestId('generate').click();
  await waitForResults(p, before + 1, RUN_TIMEOUT_MS);
  return newestPng(p);
}

function expectCase(png: Uint8Array, id: string): void {
  const diff = compareImages(decodePng(png).rgb, casePng(id).rgb);
  figures[`${id}.mean`] = diff.mean;
  figures[`${id}.max`] = diff.max;
  expect(diff.mean, `${id} mean`).toBeLessThanOrEqual(TOLERANCE.mean);
  expect(diff.max, `${id} max`).toBeLessThanOrEqual(TOLERANCE.max);
}

describe('safetensors models in headless Chromium', () => {
  beforeAll(async () => {
    dist = await buildSite();
    server = await startStaticServer({ '/app/': dist });
    await hub.start();
    appUrl = `${server.origin}/app/`;
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
    await hub.stop();
    if (dist) rmSync(dist, { recursive: true, force: true });
    console.log(`e2e figures: ${JSON.stringify(figures)}`);
    if (log.length > 0) console.log(`browser console:\n${log.slice(-40).join('\n')}`);
  });

  it(
    'generates sf-sd15-euler-12 from a .safetensors file handed to the page, with its config folder',
    async () => {
      const c = loadCase('sf-sd15-euler-12');
      await page.goto(shareLink(appUrl, c, '/nowhere/'));
      await page.getByTestId('config-input').setInputFiles(resolve(SINGLE, 'tiny-sd15-diffusers'));
      await expect.poll(() => page.getByTestId('config-name').innerText()).toMatch(/config: tiny-sd15-diffusers/);
      await page.getByTestId('file-input').setInputFiles(resolve(SINGLE, 'tiny-sd15.safetensors'));
      const status = page.getByTestId('local-model');
      await expect
        .poll(() => status.innerText(), { timeout: 30_000 })
        .toMatch(/^Reading tiny-sd15\.safetensors \(1 files,/);
      expect(await page.getByTestId('model').inputValue()).toBe('local:tiny-sd15.safetensors');
      const t = Date.now();
      const png = await generate(page);
      figures['singleFileRunMs'] = Date.now() - t;
      expect(await page.getByTestId('model-memory').innerText()).toMatch(
        /single-file SD 1\.x checkpoint.*converted to float32/,
      );
      expectCase(png, 'sf-sd15-euler-12');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'downloads the diffusers safetensors folder from the Hub-like server and generates sf-sd15-euler-12-folder',
    async () => {
      const c = loadCase('sf-sd15-euler-12-folder');
      const link = new URL(shareLink(appUrl, c, ''));
      link.searchParams.set('model', 'test/sf-sd15-diffusers');
      link.searchParams.set('hf_endpoint', hub.baseUrl);
      await page.goto(link.href);
      const png = await generate(page);
      expect(await page.getByTestId('model-memory').innerText()).toMatch(/diffusers safetensors folder/);
      expect(hub.log.some((r) => r.url.includes('/resolve/main/unet/diffusion_pytorch_model.safetensors'))).toBe(true);
      expect(hub.log.some((r) => r.url.includes('.bin'))).toBe(false);
      expectCase(png, 'sf-sd15-euler-12-folder');
    },
    TEST_TIMEOUT_MS,
  );
});
