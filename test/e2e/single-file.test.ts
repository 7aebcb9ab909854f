// Safetensors models in headless Chromium on WebGPU (SwiftShader, no shader-f16: float32 graphs
// with float16 weights widened at load): the tiny SD 1.x checkpoint handed to the page's file
// input with its diffusers folder picked as the config, read by slices in the worker, must give
// the reference image sf-sd15-euler-12; the same model as a diffusers safetensors folder,
// downloaded from the Hub-like server, must give sf-sd15-euler-12-folder.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { ModelServer } from '../unit/store/model-server.ts';
import { generateImage, openCheckpoint, shareLink } from './harness/page-actions.ts';
import { expectWithinTolerance, readCase, readPngFile } from './harness/references.ts';
import { useSession } from './harness/session.ts';

const RUN_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;
const SINGLE = resolve(FIXTURES, 'single-file');
const CASES = resolve(SINGLE, 'cases');

const hub = new ModelServer();

describe('safetensors models in headless Chromium', () => {
  const session = useSession({ sideServers: [hub] });

  function expectCase(png: Uint8Array, id: string): void {
    expectWithinTolerance(decodePng(png).rgb, readPngFile(resolve(CASES, `${id}.png`)).rgb, id, session.figures);
  }

  it(
    'generates sf-sd15-euler-12 from a .safetensors file handed to the page, with its config folder',
    async () => {
      const { page } = session;
      const c = readCase(CASES, 'sf-sd15-euler-12');
      await page.goto(shareLink(session.appUrl, c, '/nowhere/'));
      await openCheckpoint(page, resolve(SINGLE, 'tiny-sd15.safetensors'), resolve(SINGLE, 'tiny-sd15-diffusers'));
      await expect
        .poll(() => page.getByTestId('local-model').innerText(), { timeout: 30_000 })
        .toMatch(/^Reading tiny-sd15\.safetensors \(1 files,/);
      expect(await page.getByTestId('model').inputValue()).toBe('local:tiny-sd15.safetensors');
      const t = Date.now();
      const png = await generateImage(page, RUN_TIMEOUT_MS);
      session.figures['singleFileRunMs'] = Date.now() - t;
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
      const { page } = session;
      const c = readCase(CASES, 'sf-sd15-euler-12-folder');
      const link = new URL(shareLink(session.appUrl, c, ''));
      link.searchParams.set('model', 'test/sf-sd15-diffusers');
      link.searchParams.set('hf_endpoint', hub.baseUrl);
      await page.goto(link.href);
      const png = await generateImage(page, RUN_TIMEOUT_MS);
      expect(await page.getByTestId('model-memory').innerText()).toMatch(/diffusers safetensors folder/);
      expect(hub.log.some((r) => r.url.includes('/resolve/main/unet/diffusion_pytorch_model.safetensors'))).toBe(true);
      expect(hub.log.some((r) => r.url.includes('.bin'))).toBe(false);
      expectCase(png, 'sf-sd15-euler-12-folder');
    },
    TEST_TIMEOUT_MS,
  );
});
