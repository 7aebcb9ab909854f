// The page end to end in a real headless Chromium: the production build served from a sub-path by a
// plain static server, WebGPU on the SwiftShader adapter, share links for public reference cases,
// the WASM fallback, cancel, recovery after a lost device, and a reload with the network off.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/core/png/png.ts';
import { countPromptTokens } from '../../src/core/prompt/chunk-prompt.ts';
import { ClipTokenizer } from '../../src/core/tokenizer/clip-tokenizer.ts';
import { MODELS } from '../fixtures.ts';
import { referencePng, runCli, type ReferenceCase } from '../oracle/cases.ts';
import {
  longestTask,
  newestPng,
  observeLongTasks,
  pageNow,
  resultCount,
  shareLink,
  waitForResults,
  waitForServiceWorker,
  waitForStep,
} from './harness/page-actions.ts';
import { expectWithinTolerance, readPngFile, referenceCase } from './harness/references.ts';
import { useSession } from './harness/session.ts';

/** Waiting for one run on SwiftShader (shader compilation makes a fresh worker's first run slow). */
const RUN_TIMEOUT_MS = 180_000;
/** A test's own limit: its waits time out first, with the page's state in the message. */
const TEST_TIMEOUT_MS = 240_000;
/** The spec's bound for main-thread blocking while the worker denoises. */
const MAX_MAIN_THREAD_TASK_MS = 50;

interface Run {
  png: Uint8Array;
  runMs: number;
  /** Longest main-thread task while the worker denoised (from the first step to the image). */
  denoiseTask: { durationMs: number; stage: string };
  /** Longest main-thread task from the click to the image (loading and encoding too). */
  runTask: { durationMs: number; stage: string };
}

/** Clicks Generate, waits for one more image, and returns it with the main thread's longest tasks. */
async function generateOnce(p: Page, { hasSteps = true } = {}): Promise<Run> {
  const before = await resultCount(p);
  const start = Date.now();
  const clickedAt = await pageNow(p);
  await p.getByTestId('generate').click();
  // a one-step run can pass its only step faster than the page is polled
  if (hasSteps) await waitForStep(p, 1, RUN_TIMEOUT_MS);
  const denoiseFrom = await pageNow(p);
  await waitForResults(p, before + 1, RUN_TIMEOUT_MS);
  const to = await pageNow(p);
  return {
    png: await newestPng(p),
    runMs: Date.now() - start,
    denoiseTask: await longestTask(p, denoiseFrom, to),
    runTask: await longestTask(p, clickedAt, to),
  };
}

async function backendOf(p: Page): Promise<{ backend: string; text: string }> {
  const el = p.getByTestId('backend');
  return { backend: (await el.getAttribute('data-backend')) ?? '', text: await el.innerText() };
}

describe('the page in headless Chromium', () => {
  const session = useSession({ routes: { '/models/': MODELS }, prepareContext: observeLongTasks });

  /** Opens the share link of the reference case `id`, its model served under /models/. */
  async function openCase(id: string, appUrl = session.appUrl): Promise<ReferenceCase> {
    const c = referenceCase(id);
    await session.page.goto(shareLink(appUrl, c, '/models/'));
    return c;
  }

  function expectReference(png: Uint8Array, c: ReferenceCase): void {
    const ours = decodePng(png);
    const ref = referencePng(c);
    expect([ours.width, ours.height]).toEqual([ref.width, ref.height]);
    expectWithinTolerance(ours.rgb, ref.rgb, c.id, session.figures);
    expect(ours.text['parameters']).toContain(`Seed: ${c.seed}`);
  }

  it(
    'generates sd15-eulera-10 from a share link on WebGPU (SwiftShader) without blocking the main thread',
    async () => {
      const { page } = session;
      const c = await openCase('sd15-eulera-10');
      const run = await generateOnce(page);
      session.figures['sd15WebgpuFirstRunMs'] = run.runMs;
      session.figures['sd15LongestTaskWhileDenoisingMs'] = run.denoiseTask.durationMs;
      session.figures['sd15LongestTaskWholeRunMs'] = run.runTask.durationMs;
      if (run.runTask.durationMs > 0)
        session.log.push(`[longtask] ${run.runTask.durationMs} ms at "${run.runTask.stage}"`);
      expect((await backendOf(page)).backend).toBe('webgpu');
      await expect(page.getByTestId('adapter').innerText()).resolves.toContain('swiftshader');
      // the latents stayed on the GPU between steps: no latent-sized read reached the CPU
      const loop = page.getByTestId('loop');
      expect([await loop.getAttribute('data-loop'), await loop.getAttribute('data-latent-reads')]).toEqual([
        'device',
        '0',
      ]);
      expectReference(run.png, c);
      expect(
        run.denoiseTask.durationMs,
        `longest main-thread task while denoising (ms), at "${run.denoiseTask.stage}"`,
      ).toBeLessThanOrEqual(MAX_MAIN_THREAD_TASK_MS);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'restores every setting from a PNG the CLI wrote and regenerates that image',
    async () => {
      const { page } = session;
      const cliPng = join(session.tempDir, 'cli.png');
      await runCli([
        'generate',
        '--model',
        resolve(MODELS, 'tiny-sd15'),
        '--prompt',
        'a (red:1.3) fox in the snow',
        '--negative-prompt',
        'blurry',
        '--sampler',
        'DPM++ 2M Karras',
        '--steps',
        '6',
        '--cfg',
        '6',
        '--seed',
        '31337',
        '--width',
        '64',
        '--height',
        '64',
        '--out',
        cliPng,
      ]);
      // start from another case's link: the model stays, every other setting comes from the PNG
      await openCase('sd15-eulera-10');
      await page.getByTestId('restore-png').setInputFiles(cliPng);
      await expect
        .poll(() => page.getByTestId('restore-message').innerText(), { timeout: 10_000 })
        .toMatch(
          /^Restored prompt, negative, sampler, steps, cfg, seed, width, height, rng .*Ignored: Model \(tiny-sd15/,
        );
      const run = await generateOnce(page);
      const ours = decodePng(run.png);
      expectWithinTolerance(ours.rgb, readPngFile(cliPng).rgb, 'cli-png', session.figures);
      expect(ours.text['parameters']).toContain('Seed: 31337');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'counts prompt tokens live, in 75-token chunks past the first',
    async () => {
      const { page } = session;
      const c = await openCase('a1-long-2chunks');
      const tokenizer = ClipTokenizer.fromMerges(
        readFileSync(resolve(import.meta.dirname, '../../public/clip/merges.txt'), 'utf8'),
      );
      const counters = page.getByTestId('token-count');
      for (const [index, text] of [c.prompt, c.negative_prompt].entries()) {
        const expected = countPromptTokens(tokenizer, text);
        // the case's conditioning spans cond_tokens / 77 chunks, so the counter's limit says as many
        if (index === 0)
          expect(expected.limit / 75).toBe((c as ReferenceCase & { cond_tokens: number }).cond_tokens / 77);
        await expect
          .poll(() => counters.nth(index).innerText(), { timeout: 30_000 })
          .toBe(`${expected.tokens}/${expected.limit}`);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "opens with the default preset's steps and CFG, and reports an unknown sampler or model from a link as text",
    async () => {
      const { page } = session;
      await page.goto(session.appUrl);
      await expect.poll(() => page.getByTestId('steps').inputValue(), { timeout: 30_000 }).toBe('1');
      expect(await page.getByTestId('cfg').inputValue()).toBe('0');
      await page.goto(
        `${session.appUrl}?${new URLSearchParams({ model: 'javascript:alert(1)', sampler: '<b>x</b>', steps: '3' })}`,
      );
      await expect
        .poll(() => page.getByTestId('model').inputValue(), { timeout: 30_000 })
        .toBe('schmuell/sd-turbo-ort-web');
      // the link's steps win over the preset's, its CFG comes from the preset
      expect([await page.getByTestId('steps').inputValue(), await page.getByTestId('cfg').inputValue()]).toEqual([
        '3',
        '0',
      ]);
      // the sampler is checked once the worker has named its samplers; both lines are text, never markup
      await expect.poll(() => page.getByText('sampler=<b>x</b> ignored').count(), { timeout: 30_000 }).toBe(1);
      expect(await page.getByText('model=javascript:alert(1) ignored').count()).toBe(1);
      expect(await page.locator('main b').count()).toBe(0);
      expect(await page.getByTestId('sampler').inputValue()).toBe('');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'falls back to WASM for tiny-sd-turbo (float16 tensors, no shader-f16) and says why',
    async () => {
      const { page } = session;
      const c = await openCase('turbo-1step');
      const run = await generateOnce(page, { hasSteps: false });
      session.figures['turboWasmRunMs'] = run.runMs;
      session.figures['turboLongestTaskWholeRunMs'] = run.runTask.durationMs;
      const backend = await backendOf(page);
      expect(backend.backend).toBe('wasm');
      expect(backend.text).toMatch(/float16.*shader-f16/);
      expectReference(run.png, c);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'cancels within one denoising step, then generates again with the same model',
    async () => {
      const { page } = session;
      const c = await openCase('a1-weights');
      await page.getByTestId('generate').click();
      await waitForStep(page, 2, RUN_TIMEOUT_MS);
      const progress = page.getByTestId('progress');
      const stepAtCancel = Number(await progress.getAttribute('data-step'));
      const lastStep = { value: stepAtCancel };
      // follow the progress until the job ends, to see how far it went after the click
      const follow = page.evaluate(
        () =>
          new Promise<number>((done) => {
            let last = 0;
            const timer = setInterval(() => {
              const el = document.querySelector('[data-testid="progress"]');
              if (el) last = Math.max(last, Number(el.getAttribute('data-step') ?? 0));
              if (document.querySelector('[data-testid="notice"]')) {
                clearInterval(timer);
                done(last);
              }
            }, 10);
          }),
      );
      const t = Date.now();
      await page.getByTestId('cancel').click();
      lastStep.value = await follow;
      session.figures['cancelLatencyMs'] = Date.now() - t;
      await expect(page.getByTestId('notice').innerText()).resolves.toMatch(/Cancelled/);
      expect(lastStep.value, 'steps run after cancel').toBeLessThanOrEqual(stepAtCancel + 1);
      expect(await resultCount(page)).toBe(0);

      const run = await generateOnce(page);
      session.figures['a1WeightsAfterCancelRunMs'] = run.runMs;
      expectReference(run.png, c);
    },
    TEST_TIMEOUT_MS * 2,
  );

  it(
    'reports a lost GPU device, recovers without a reload and generates again',
    async () => {
      const { page } = session;
      const c = await openCase('sd15-eulera-10');
      await page.getByTestId('generate').click();
      await waitForStep(page, 1, RUN_TIMEOUT_MS);
      await page.evaluate(() => window.sdWeb?.loseDevice());
      const error = page.getByTestId('error');
      await error.waitFor({ timeout: RUN_TIMEOUT_MS });
      expect(await error.getAttribute('data-code')).toBe('device-lost');
      await expect(error.innerText()).resolves.toMatch(/try again/i);

      const run = await generateOnce(page);
      session.figures['sd15AfterDeviceLossRunMs'] = run.runMs;
      expect((await backendOf(page)).backend).toBe('webgpu');
      expectReference(run.png, c);
    },
    TEST_TIMEOUT_MS * 2,
  );

  it(
    'uses WASM threads when the page is cross-origin isolated',
    async () => {
      const { page } = session;
      // a second origin whose server sends COOP/COEP, as a host (or a service worker) can
      const isolated = await session.startServer({
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      try {
        const c = await openCase('turbo-1step', `${isolated.origin}/app/`);
        const run = await generateOnce(page, { hasSteps: false });
        session.figures['turboWasmIsolatedRunMs'] = run.runMs;
        expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
        const threads = Math.min(4, await page.evaluate(() => navigator.hardwareConcurrency));
        await expect(page.getByTestId('wasm-threads').innerText()).resolves.toBe(`WASM threads: ${threads}`);
        expect((await backendOf(page)).backend).toBe('wasm');
        expectReference(run.png, c);
      } finally {
        await isolated.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reloads with the network off and generates from the stored model',
    async () => {
      const { page } = session;
      const c = await openCase('sd15-eulera-10');
      // the service worker has cached the app shell once it is active
      await waitForServiceWorker(page, RUN_TIMEOUT_MS);
      const { server, context } = session;
      server.setOffline(true);
      await context.setOffline(true);
      try {
        const requestsBefore = server.requests.length;
        await page.reload();
        expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
        const run = await generateOnce(page);
        session.figures['sd15OfflineRunMs'] = run.runMs;
        expectReference(run.png, c);
        expect(server.requests.length, 'requests that reached the server while offline').toBe(requestsBefore);
      } finally {
        await context.setOffline(false);
        server.setOffline(false);
      }
    },
    TEST_TIMEOUT_MS,
  );
});
