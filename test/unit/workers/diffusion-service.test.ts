// The service in Node: the worker's DiffusionService with a model host that loads the fixture models
// from disk on onnxruntime-node (the browser's host needs IndexedDB and onnxruntime-web). Generation,
// infotext, queueing, cancelling, the store guards and the fatal-error path all run for real.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdError } from '../../../src/core/errors.ts';
import { kSamplerNames } from '../../../src/core/kdiffusion/k-samplers.ts';
import { defaultSizeOf } from '../../../src/core/models/default-size.ts';
import type { LoadedModel } from '../../../src/core/models/load-model.ts';
import { generate } from '../../../src/core/pipeline/generate.ts';
import { infotextOf } from '../../../src/core/pipeline/infotext-of.ts';
import type { GenerateRequest } from '../../../src/core/pipeline/request.ts';
import { decodePng, readPngText } from '../../../src/core/png/png.ts';
import { countPromptTokens } from '../../../src/core/prompt/chunk-prompt.ts';
import { SAMPLER_NAMES, schedulerClassName } from '../../../src/core/schedulers/registry.ts';
import { ClipTokenizer } from '../../../src/core/tokenizer/clip-tokenizer.ts';
import type { GenerateOptions, JobEvent, ModelSummary } from '../../../workers/api.ts';
import { DiffusionService, type ServiceHost } from '../../../workers/diffusion-service.ts';
import type { ActiveModel } from '../../../workers/model-host.ts';
import { loadFixture, nodeRuntime } from '../pipeline/fixture-models.ts';
import { rejection } from './picked-files.ts';

const MERGES = resolve(import.meta.dirname, '../../../public/clip/merges.txt');

/** Loads fixture models by name on onnxruntime-node; records what the service asks of it. */
class FixtureHost implements ServiceHost {
  readonly calls: string[] = [];
  /** When set, `acquire` fails with it (what a broken heap or device throws). */
  failure: unknown;
  #models = new Map<string, Promise<LoadedModel>>();

  async describeDevice() {
    return { adapter: null, unavailableReason: 'Node', isCrossOriginIsolated: false, wasmThreads: 1 };
  }
  modelIdOf(request: { model: string }): string {
    return request.model;
  }
  async acquire(request: { model: string; backend: string }): Promise<ActiveModel> {
    this.calls.push(`acquire ${request.model}`);
    if (this.failure !== undefined) throw this.failure;
    let loading = this.#models.get(request.model);
    if (!loading) {
      loading = loadFixture(request.model);
      this.#models.set(request.model, loading);
    }
    const model = await loading;
    const summary: ModelSummary = {
      label: `test/${model.label}`,
      family: model.family,
      scheduler: schedulerClassName(model.schedulerConfig),
      defaultSize: defaultSizeOf(model.family),
      hasFloat16: false,
      backend: { backend: 'wasm', reason: 'Node test host (onnxruntime-node)' },
      assumptions: [...model.assumptions],
    };
    return { model, runtime: await nodeRuntime(), summary };
  }
  async deviceLoss(): Promise<string | undefined> {
    return undefined;
  }
  async discard(): Promise<void> {
    this.calls.push('discard');
  }
  loseDevice(): void {
    this.calls.push('loseDevice');
  }
  async storeReport() {
    return { models: [], storedBytes: 0 };
  }
  async deleteModel(modelId: string): Promise<void> {
    this.calls.push(`delete ${modelId}`);
  }
  async clearStore(): Promise<void> {
    this.calls.push('clear');
  }
  async openLocal(): Promise<never> {
    throw new SdError('unsupported-model', 'The Node test host opens no local files.');
  }
}

const REQUEST: GenerateOptions['request'] = {
  prompt: 'a red fox in the snow',
  negativePrompt: 'blurry',
  sampler: 'Euler',
  steps: 2,
  cfgScale: 7,
  seed: 42n,
  width: 64,
  height: 64,
  batchSize: 1,
  rng: 'cpu',
  promptSyntax: 'a1111',
};

let jobCount = 0;
function job(request: Partial<GenerateOptions['request']> = {}, model = 'tiny-sd15'): GenerateOptions {
  return { jobId: `job-${++jobCount}`, model, backend: 'wasm', request: { ...REQUEST, ...request } };
}

async function run(service: DiffusionService, options: GenerateOptions) {
  const events: JobEvent[] = [];
  const summary = await service.generate(options, (e) => events.push(e));
  return { summary, events, images: events.flatMap((e) => (e.kind === 'image' ? [e.image] : [])) };
}

let server: Server;
let siteRoot: string;

beforeAll(async () => {
  // the service fetches the bundled CLIP merges from the site, as in the browser
  server = createServer((req, res) => {
    if (req.url === '/app/clip/merges.txt') res.end(readFileSync(MERGES));
    else res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  siteRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}/app/`;
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe('DiffusionService', () => {
  it('lists the core sampler names, then the schedule variants an A1111 infotext restores to', async () => {
    const names = await new DiffusionService(siteRoot, new FixtureHost()).samplerNames();
    expect(names.slice(0, SAMPLER_NAMES.length)).toEqual([...SAMPLER_NAMES]);
    expect(names).toContain('Euler Karras');
    expect(names).toContain('Heun Karras');
    expect(names).toContain('DPM++ 2M SGM Uniform');
    expect(new Set(names).size).toBe(names.length);
  });

  it("lists a1111 mode's k-diffusion samplers with their schedule types", async () => {
    const names = await new DiffusionService(siteRoot, new FixtureHost()).samplerNames({ sampling: 'a1111' });
    expect(names).toEqual(kSamplerNames());
    expect(names).toEqual(expect.arrayContaining(['Euler a', 'DPM++ 2M Karras', 'DPM2 a Exponential']));
  });

  it('counts tokens with the merges list from the site', async () => {
    const service = new DiffusionService(siteRoot, new FixtureHost());
    const tokenizer = ClipTokenizer.fromMerges(readFileSync(MERGES, 'utf8'));
    const long = 'a (red:1.3) fox, '.repeat(20);
    for (const text of ['', 'a photo of a cat', long]) {
      expect(await service.countTokens({ text })).toEqual(countPromptTokens(tokenizer, text));
    }
    expect((await service.countTokens({ text: long })).limit).toBe(150);
    // A1111's counter leaves extra-network tags out, as the text encoder never sees them
    expect(await service.countTokens({ text: 'a photo of a cat <lora:style-x:0.8>' })).toEqual(
      countPromptTokens(tokenizer, 'a photo of a cat '),
    );
  });

  it('generates the pipeline image, as a PNG whose infotext the core builds', async () => {
    const host = new FixtureHost();
    const service = new DiffusionService(siteRoot, host);
    const options = job({ batchSize: 2 });
    const { summary, events, images } = await run(service, options);
    // this host reports no download or load progress: the model comes first, the last image's `done` last
    expect(events[0]).toMatchObject({ kind: 'model', model: { family: 'sd1', defaultSize: 512 } });
    expect(events.at(-1)).toMatchObject({ kind: 'progress', progress: { kind: 'done', image: 1, images: 2 } });
    expect(summary).toMatchObject({ jobId: options.jobId, imageCount: 2 });

    const model = await loadFixture('tiny-sd15');
    const request: GenerateRequest = { ...REQUEST, batchSize: 2 } as GenerateRequest;
    const direct = await generate(model, await nodeRuntime(), request);
    expect(images.map((i) => [i.index, i.seed, i.width, i.height])).toEqual([
      [0, '42', 64, 64],
      [1, '43', 64, 64],
    ]);
    for (const [i, image] of images.entries()) {
      const png = decodePng(image.png);
      expect(png.rgb).toEqual(direct.images[i]!.rgb);
      const expected = infotextOf(request, direct.images[i]!, {
        name: 'tiny-sd15',
        schedulerConfig: model.schedulerConfig,
      });
      expect(image.infotext).toBe(expected);
      expect(readPngText(image.png).parameters).toBe(expected);
      // the mode that regenerates it, as the CLI writes it: our infotext alone looks like A1111's
      expect(readPngText(image.png).sampling).toBe('diffusers');
    }
    expect(images[1]!.infotext).toMatch(/Steps: 2, Sampler: Euler, .*CFG scale: 7, Seed: 43, Size: 64x64, /);
    expect(images[1]!.infotext).toMatch(/Model: tiny-sd15, Batch size: 2, Batch pos: 1, RNG: CPU$/);
  });

  it("uses the model's natural size for a null width and height, and its scheduler class as the sampler", async () => {
    const service = new DiffusionService(siteRoot, new FixtureHost());
    const { images } = await run(service, job({ width: null, height: null, sampler: null, steps: 1 }));
    expect([images[0]!.width, images[0]!.height]).toEqual([512, 512]);
    expect(images[0]!.infotext).toContain('Sampler: PNDMScheduler, Schedule type: Automatic');
    expect(images[0]!.infotext).toContain('Size: 512x512');
  });

  it('runs jobs one at a time in arrival order', async () => {
    const service = new DiffusionService(siteRoot, new FixtureHost());
    const order: string[] = [];
    const first = job({ steps: 1 });
    const second = job({ steps: 1, seed: 7n });
    await Promise.all(
      [first, second].map((o) =>
        service.generate(o, (e) => {
          if (e.kind === 'image') order.push(o.jobId);
        }),
      ),
    );
    expect(order).toEqual([first.jobId, second.jobId]);
  });

  it('cancels a job at its next model call, and the next job still runs', async () => {
    const service = new DiffusionService(siteRoot, new FixtureHost());
    const options = job({ steps: 4 });
    const running = service.generate(options, (e) => {
      if (e.kind === 'progress' && e.progress.kind === 'denoise') void service.cancel({ jobId: options.jobId });
    });
    expect((await rejection(running)).code).toBe('cancelled');
    const { images } = await run(service, job({ steps: 1 }));
    expect(images).toHaveLength(1);
    // cancelling a job that is not running is a no-op
    await expect(service.cancel({ jobId: 'no-such-job' })).resolves.toBeUndefined();
  });

  it('refuses to delete the model a job uses, or to clear the store, until the job ends', async () => {
    const host = new FixtureHost();
    const service = new DiffusionService(siteRoot, host);
    const refusals: Promise<SdError>[] = [];
    await service.generate(job({ steps: 1 }), (e) => {
      if (e.kind === 'model' && refusals.length === 0) {
        refusals.push(rejection(service.deleteModel({ modelId: 'tiny-sd15' })), rejection(service.clearStore()));
      }
    });
    const [deleted, cleared] = await Promise.all(refusals);
    expect([deleted!.code, cleared!.code]).toEqual(['busy', 'busy']);
    expect(deleted!.message).toContain('tiny-sd15 is being downloaded or used by a generation');
    await service.deleteModel({ modelId: 'tiny-sd15' });
    await service.clearStore();
    expect(host.calls.filter((c) => !c.startsWith('acquire'))).toEqual(['delete tiny-sd15', 'clear']);
  });

  it('discards the model after a fatal error, and keeps it after a bad request', async () => {
    const host = new FixtureHost();
    const service = new DiffusionService(siteRoot, host);
    const bad = await rejection(service.generate(job({ steps: 0 }), () => undefined));
    expect(bad.code).toBe('bad-argument');
    expect(host.calls).not.toContain('discard');

    host.failure = new Error('RangeError: WebAssembly.Memory(): could not allocate memory');
    const oom = await rejection(service.generate(job(), () => undefined));
    expect(oom.code).toBe('out-of-memory');
    expect(host.calls.at(-1)).toBe('discard');

    host.failure = undefined;
    const { images } = await run(service, job({ steps: 1 }));
    expect(images).toHaveLength(1);
  });
});
