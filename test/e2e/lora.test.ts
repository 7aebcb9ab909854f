// LoRA in headless Chromium: tiny-sd15-lora.safetensors added in the LoRA panel (kept in the
// browser's LoRA store), the prompt of sf-sd15-lora-0.8-euler-10 with its <lora:…:0.8> tag, on the
// tiny SD 1.x checkpoint opened with its config folder, with the sampler the case's PNG was made with
// (Euler Karras, not the "Euler" its JSON declares: FIXTURE_CORRECTIONS in test/oracle/cases.ts). The
// image is compared with the case's PNG; other multipliers with the CLI's image for the same settings
// (--lora-dir). A tag naming no stored LoRA shows its error.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { FIXTURES } from '../fixtures.ts';
import { caseAsMade, runCli } from '../oracle/cases.ts';
import { errorOrState, generateImage, openCheckpoint, shareLink } from './harness/page-actions.ts';
import { expectWithinTolerance, readCase, readPngFile } from './harness/references.ts';
import { useSession } from './harness/session.ts';

const RUN_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;
const SINGLE = resolve(FIXTURES, 'single-file');
const CASE = caseAsMade(readCase(resolve(SINGLE, 'cases'), 'sf-sd15-lora-0.8-euler-10'));
const REFERENCE_PNG = resolve(SINGLE, 'cases', 'sf-sd15-lora-0.8-euler-10.png');

describe('LoRA in headless Chromium', () => {
  const session = useSession();

  /** The CLI's image for the case's settings (with `prompt`), the LoRA found through --lora-dir. */
  async function cliImage(prompt = CASE.prompt): Promise<Uint8Array> {
    const out = join(session.tempDir, `cli-${prompt.length}-${prompt.slice(-6, -1)}.png`);
    await runCli([
      'generate',
      ...['--model', resolve(SINGLE, 'tiny-sd15.safetensors'), '--config', resolve(SINGLE, 'tiny-sd15-diffusers')],
      ...['--lora-dir', SINGLE, '--prompt', prompt, '--negative-prompt', CASE.negative_prompt],
      ...['--sampler', CASE.sampler ?? 'Euler', '--steps', String(CASE.steps), '--cfg', String(CASE.cfg)],
      ...['--seed', String(CASE.seed), '--width', String(CASE.width), '--height', String(CASE.height)],
      ...['--rng', 'cpu', '--prompt-syntax', 'diffusers', '--out', out],
    ]);
    return readPngFile(out).rgb;
  }

  it(
    'merges a LoRA added in the LoRA panel and gives the reference image of sf-sd15-lora-0.8-euler-10',
    async () => {
      const { page } = session;
      const expected = readPngFile(REFERENCE_PNG).rgb;
      await page.goto(shareLink(session.appUrl, CASE, '/nowhere/'));
      await openCheckpoint(page, resolve(SINGLE, 'tiny-sd15.safetensors'), resolve(SINGLE, 'tiny-sd15-diffusers'));
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
      const png = decodePng(await generateImage(page, RUN_TIMEOUT_MS));
      expectWithinTolerance(png.rgb, expected, 'lora', session.figures);
      expect(png.text['parameters']).toMatch(/Lora hashes: "?tiny-sd15-lora: [0-9a-f]{12}/);
      // the count of merged modules shows once a model applied it
      await expect.poll(() => page.getByTestId('lora-list').innerText()).toMatch(/\d+\/\d+ modules matched/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    're-merges with a new multiplier on the loaded model and matches the CLI at 0.5',
    async () => {
      const { page } = session;
      const prompt = CASE.prompt.replace(':0.8>', ':0.5>');
      const expected = cliImage(prompt);
      await page.getByTestId('prompt').fill(prompt);
      const png = decodePng(await generateImage(page, RUN_TIMEOUT_MS));
      expectWithinTolerance(png.rgb, await expected, 'lora0.5', session.figures);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'completes and inserts stored names; names a LoRA the browser does not have and says to add it in the LoRA panel',
    async () => {
      const { page } = session;
      const error = page.getByTestId('error');
      await page.getByTestId('prompt').fill('a lighthouse <lora:no-such-lora:0.5>');
      await page.getByTestId('generate').click();
      await expect
        .poll(() => errorOrState(page), { timeout: 60_000 })
        .toMatch(/Unknown LoRA "no-such-lora".*LoRA panel/s);
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
      await page.goto(shareLink(session.appUrl, CASE, '/nowhere/'));
      expect(await page.getByTestId('prompt').inputValue()).toBe(CASE.prompt);
      await page.getByTestId('generate').click();
      await expect
        .poll(() => errorOrState(page), { timeout: 60_000 })
        .toMatch(/Unknown LoRA "tiny-sd15-lora".*tiny-sd15-lora\.safetensors.*LoRA panel/s);
    },
    TEST_TIMEOUT_MS,
  );
});
