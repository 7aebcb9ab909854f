// LoRA in headless Chromium: tiny-sd15-lora.safetensors added in the LoRA panel (kept in the
// browser's LoRA store), the prompt of sf-sd15-lora-0.8-euler-10 with its <lora:…:0.8> tag, on the
// tiny SD 1.x checkpoint opened with its config folder, with the sampler the case's PNG was made with
// (Euler Karras, not the "Euler" its JSON declares: FIXTURE_CORRECTIONS in test/oracle/cases.ts). The
// image is compared with the case's PNG; other multipliers with the CLI's image for the same settings
// (--lora-dir). A tag naming no stored LoRA shows its error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { caseAsMade, compareImages, runCli, TOLERANCE, type ReferenceCase } from '../oracle/cases.ts';
import { launchBrowser } from './harness/browser.ts';
import { buildSite } from './harness/build-site.ts';
import { newestPng, pageState, resultCount, shareLink, waitForResults } from './harness/page-actions.ts';
import { startStaticServer, type StaticServer } from './harness/static-server.ts';

const RUN_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;
const SINGLE = resolve(FIXTURES, 'single-file');
const CASE = caseAsMade(
  JSON.parse(readFileSync(resolve(SINGLE, 'cases', 'sf-sd15-lora-0.8-euler-10.json'), 'utf8')) as ReferenceCase,
);
const REFERENCE_PNG = resolve(SINGLE, 'cases', 'sf-sd15-lora-0.8-euler-10.png');

let dist: string;
let outDir: string;
let server: StaticServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let appUrl: string;
const log: string[] = [];
const figures: Record<string, number> = {};

/** The CLI's image for the case's settings (with `prompt`), the LoRA found through --lora-dir. */
async function cliImage(prompt = CASE.prompt): Promise<Uint8Array> {
  const out = join(outDir, `cli-${prompt.length}-${prompt.slice(-6, -1)}.png`);
  await runCli([
    'generate',
    ...['--model', resolve(SINGLE, 'tiny-sd15.safetensors'), '--config', resolve(SINGLE, 'tiny-sd15-diffusers')],
    ...['--lora-dir', SINGLE, '--prompt', prompt, '--negative-prompt', CASE.negative_prompt],
    ...['--sampler', CASE.sampler ?? 'Euler', '--steps', String(CASE.steps), '--cfg', String(CASE.cfg)],
    ...['--seed', String(CASE.seed), '--width', String(CASE.width), '--height', String(CASE.height)],
    ...['--rng', 'cpu', '--prompt-syntax', 'diffusers', '--out', out],
  ]);
  return decodePng(new Uint8Array(readFileSync(out))).rgb;
}

function expectClose(ours: Uint8Array, expected: Uint8Array, id: string): void {
  const diff = compareImages(ours, expected);
  figures[`${id}.mean`] = diff.mean;
  figures[`${id}.max`] = diff.max;
  expect(diff.mean, `${id} mean`).toBeLessThanOrEqual(TOLERANCE.mean);
  expect(diff.max, `${id} max`).toBeLessThanOrEqual(TOLERANCE.max);
}

describe('LoRA in headless Chromium', () => {
  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'sd-lora-e2e-'));
    dist = await buildSite();
    server = await startStaticServer({ '/app/': dist });
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
    if (dist) rmSync(dist, { recursive: true, force: true });
    if (outDir) rmSync(outDir, { recursive: true, force: true });
    console.log(`e2e figures: ${JSON.stringify(figures)}`);
    if (log.length > 0) console.log(`browser console:\n${log.slice(-40).join('\n')}`);
  });

  it(
    'merges a LoRA added in the LoRA panel and gives the reference image of sf-sd15-lora-0.8-euler-10',
    async () => {
      const expected = decodePng(new Uint8Array(readFileSync(REFERENCE_PNG))).rgb;
      await page.goto(shareLink(appUrl, CASE, '/nowhere/'));
      await page.getByTestId('config-input').setInputFiles(resolve(SINGLE, 'tiny-sd15-diffusers'));
      await expect.poll(() => page.getByTestId('config-name').innerText()).toMatch(/config: tiny-sd15-diffusers/);
      await page.getByTestId('file-input').setInputFiles(resolve(SINGLE, 'tiny-sd15.safetensors'));
      await expect
        .poll(() => page.getByTestId('local-model').innerText(), { timeout: 30_000 })
        .toMatch(/^Reading tiny-sd15\.safetensors/);
      await page.getByTestId('lora-input').setInputFiles(resolve(SINGLE, 'tiny-sd15-lora.safetensors'));
      await expect
        .poll(
          () =>
            page
              .getByTestId('lora-list')
              .innerText()
              .catch(() => ''),
          { timeout: 30_000 },
        )
        .toMatch(/tiny-sd15-lora/);
      expect(await page.getByTestId('prompt').inputValue()).toBe(CASE.prompt);
      const before = await resultCount(page);
      await page.getByTestId('generate').click();
      await waitForResults(page, before + 1, RUN_TIMEOUT_MS);
      const png = decodePng(await newestPng(page));
      expectClose(png.rgb, expected, 'lora');
      expect(png.text['parameters']).toMatch(/Lora hashes: "?tiny-sd15-lora: [0-9a-f]{12}/);
      // the count of merged modules shows once a model applied it
      await expect.poll(() => page.getByTestId('lora-list').innerText()).toMatch(/\d+\/\d+ modules matched/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    're-merges with a new multiplier on the loaded model and matches the CLI at 0.5',
    async () => {
      const prompt = CASE.prompt.replace(':0.8>', ':0.5>');
      const expected = cliImage(prompt);
      await page.getByTestId('prompt').fill(prompt);
      const before = await resultCount(page);
      await page.getByTestId('generate').click();
      await waitForResults(page, before + 1, RUN_TIMEOUT_MS);
      expectClose(decodePng(await newestPng(page)).rgb, await expected, 'lora0.5');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'completes and inserts stored names; names a LoRA the browser does not have and says to add it in the LoRA panel',
    async () => {
      const error = page.getByTestId('error');
      const errorText = async (): Promise<string> => ((await error.count()) > 0 ? error.innerText() : pageState(page));
      await page.getByTestId('prompt').fill('a lighthouse <lora:no-such-lora:0.5>');
      await page.getByTestId('generate').click();
      await expect.poll(errorText, { timeout: 60_000 }).toMatch(/Unknown LoRA "no-such-lora".*LoRA panel/s);
      expect(await error.getAttribute('data-code')).toBe('missing-file');
      // a stored name completes after <lora: in the prompt, and a click on it in the panel appends its tag
      const prompt = page.getByTestId('prompt');
      await prompt.fill('');
      await prompt.pressSequentially('a lighthouse <lora:tiny');
      await page.getByTestId('lora-completion').getByRole('button', { name: 'tiny-sd15-lora' }).click();
      expect(await prompt.inputValue()).toBe('a lighthouse <lora:tiny-sd15-lora:1>');
      await prompt.fill('a lighthouse');
      await page.getByTestId('lora-list').getByRole('button', { name: 'tiny-sd15-lora' }).click();
      expect(await prompt.inputValue()).toBe('a lighthouse <lora:tiny-sd15-lora:1>');
      // a visitor without the LoRA: delete it (the second click confirms), then open the case's share link
      const remove = page.getByTestId('lora-list').getByRole('button', { name: 'Delete' });
      await remove.click();
      await page.getByTestId('lora-list').getByRole('button', { name: 'Really delete?' }).click();
      await expect.poll(() => page.getByTestId('lora-list').count()).toBe(0);
      await page.goto(shareLink(appUrl, CASE, '/nowhere/'));
      expect(await page.getByTestId('prompt').inputValue()).toBe(CASE.prompt);
      await page.getByTestId('generate').click();
      await expect
        .poll(errorText, { timeout: 60_000 })
        .toMatch(/Unknown LoRA "tiny-sd15-lora".*tiny-sd15-lora\.safetensors.*LoRA panel/s);
    },
    TEST_TIMEOUT_MS,
  );
});
