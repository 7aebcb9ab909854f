// ControlNets through the worker's service and its real model host, in Node: fake-indexeddb stands in
// for IndexedDB (the ControlNet store and the model store), onnxruntime-node for onnxruntime-web, and
// fixture files opened as Blobs for the files a picker gives.
import 'fake-indexeddb/auto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Float16Array } from '@petamoriken/float16';
import { decodePng, readPngText } from '../../../src/core/png/png.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { createBrowserModelStore } from '../../../src/platform/store/browser-platform.ts';
import { createIdbKeyValueStore } from '../../../src/platform/store/idb-kv.ts';
import type { ControlNetUnitOptions, GenerateOptions, JobEvent, LocalFile } from '../../../workers/api.ts';
import type { RuntimeSource, ScanState } from '../../../workers/backend-runtimes.ts';
import { CONTROLNET_STORE_DB, controlNetNameOfUrl } from '../../../workers/controlnet-host.ts';
import { DiffusionService } from '../../../workers/diffusion-service.ts';
import { ModelHost } from '../../../workers/model-host.ts';
import {
  compareImages,
  CONTROLNET_CASES_DIR,
  readControlNetCase,
  runCli,
  TOLERANCE,
  type ControlNetCase,
} from '../../oracle/cases.ts';
import { FIXTURES, MODELS } from '../../fixtures.ts';
import { buildSafetensors, type TestTensor } from '../safetensors/safetensors-fixture.ts';
import { nodeRuntime } from '../pipeline/fixture-models.ts';
import { picked, pickedFile, rejection } from './picked-files.ts';
import type { Runtime } from '../../../src/core/runtime/runtime.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const CASES = CONTROLNET_CASES_DIR;
const CANNY = resolve(SINGLE_FILE, 'canny');
const MERGES = resolve(import.meta.dirname, '../../../public/clip/merges.txt');

/** onnxruntime-node on the CPU in place of the worker's WebGPU / WASM choice. */
class NodeRuntimes implements RuntimeSource {
  readonly deviceLostReason = undefined;
  async describeDevice() {
    return { adapter: null, unavailableReason: 'Node', isCrossOriginIsolated: false, wasmThreads: 1 };
  }
  async adapterFor() {
    return undefined;
  }
  async load<T>(_preference: string, _label: string, load: (runtime: Runtime, scan: ScanState) => Promise<T>) {
    const runtime = await nodeRuntime();
    const scan: ScanState = { component: 'model', hasFloat16: false };
    const value = await load(runtime, scan);
    return { value, runtime, choice: { backend: 'wasm' as const, reason: 'Node test (onnxruntime-node)' }, scan };
  }
  async deviceLoss() {
    return undefined;
  }
  dropLostDevice(): void {}
  loseDevice(): void {}
}

/** The ControlNet file with every float32 tensor stored as float16, as most downloads are. */
function float16Copy(path: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(readFileSync(path));
  return SafetensorsFile.open(bytesByteSource(bytes), path).then((file) => {
    const tensors: Record<string, TestTensor> = {};
    for (const t of file.tensors.values()) {
      const data = bytes.slice(t.offset, t.offset + t.byteLength);
      tensors[t.name] =
        t.dtype === 'F32'
          ? {
              dtype: 'F16',
              shape: [...t.shape],
              bytes: new Uint8Array(new Float16Array(new Float32Array(data.buffer)).buffer),
            }
          : { dtype: t.dtype, shape: [...t.shape], bytes: data };
    }
    return buildSafetensors(tensors);
  });
}

function png(path: string): { bytes: Uint8Array; type: string } {
  return { bytes: new Uint8Array(readFileSync(path)), type: 'image/png' };
}

let server: Server;
let siteRoot: string;
let host: ModelHost;
let service: DiffusionService;
let sd15: LocalFile[];
let sd15Config: LocalFile[];
let jobs = 0;

/** A job on the tiny SD 1.x single file (with its diffusers folder as config) with `units`, settings from `c`. */
function caseJob(
  c: ControlNetCase,
  units: ControlNetUnitOptions[],
  model = 'local:tiny-sd15.safetensors',
): GenerateOptions {
  return {
    jobId: `cn-${++jobs}`,
    model,
    localFiles: sd15,
    configFiles: sd15Config,
    backend: 'wasm',
    request: {
      prompt: c.prompt,
      negativePrompt: c.negative_prompt,
      sampler: c.sampler,
      steps: c.steps,
      cfgScale: c.cfg,
      seed: BigInt(c.seed),
      width: c.width,
      height: c.height,
      batchSize: 1,
      rng: 'cpu',
      promptSyntax: 'diffusers',
    },
    controlNets: units,
  };
}

function caseUnit(
  c: ControlNetCase,
  model: string,
  overrides: Partial<ControlNetUnitOptions> = {},
): ControlNetUnitOptions {
  return {
    model,
    image: png(resolve(CASES, c.control_image)),
    preprocessor: 'none',
    weight: c.control_weight,
    start: c.control_start,
    end: c.control_end,
    ...overrides,
  };
}

async function run(options: GenerateOptions) {
  const events: JobEvent[] = [];
  await service.generate(options, (e) => events.push(e));
  const images = events.flatMap((e) => (e.kind === 'image' ? [e.image] : []));
  const loads = events.flatMap((e) =>
    e.kind === 'progress' && e.progress.kind === 'load' ? [e.progress.component] : [],
  );
  return { images, loads };
}

function expectCase(image: { png: Uint8Array }, id: string): { mean: number; max: number } {
  const ours = decodePng(image.png);
  const ref = decodePng(new Uint8Array(readFileSync(resolve(CASES, `${id}.png`))));
  expect([ours.width, ours.height]).toEqual([ref.width, ref.height]);
  const diff = compareImages(ours.rgb, ref.rgb);
  console.log(`${id} through the service: mean ${diff.mean.toFixed(4)} max ${diff.max} levels`);
  return diff;
}

beforeAll(async () => {
  const cnDir = resolve(SINGLE_FILE, 'tiny-controlnet-diffusers');
  // the site (CLIP merges) and a Hugging Face-like host for ControlNets added by URL
  server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/app/clip/merges.txt') res.end(readFileSync(MERGES));
    else if (url === '/hf/test/tiny-cn/resolve/main/config.json') res.end(readFileSync(join(cnDir, 'config.json')));
    else if (url === '/hf/test/tiny-cn/resolve/main/diffusion_pytorch_model.safetensors')
      res.end(readFileSync(join(cnDir, 'diffusion_pytorch_model.safetensors')));
    else if (url === '/files/tiny-controlnet.safetensors')
      res.end(readFileSync(resolve(SINGLE_FILE, 'tiny-controlnet.safetensors')));
    else res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  siteRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}/app/`;
  host = new ModelHost(siteRoot, { runtimes: new NodeRuntimes() });
  service = new DiffusionService(siteRoot, host);
  sd15 = [await pickedFile(resolve(SINGLE_FILE, 'tiny-sd15.safetensors'))];
  sd15Config = await picked(resolve(SINGLE_FILE, 'tiny-sd15-diffusers'));
});

afterAll(async () => {
  await host.discard();
  await new Promise<void>((done) => server.close(() => done()));
});

describe('ControlNet store through the service', () => {
  it('refuses files that are no ControlNet, naming the file and what was expected, and stores nothing', async () => {
    const checkpoint = await rejection(
      service.addControlNet({ files: [await pickedFile(resolve(SINGLE_FILE, 'tiny-sd15.safetensors'))] }),
    );
    expect(checkpoint.code).toBe('unsupported-model');
    expect(checkpoint.message).toMatch(
      /^"tiny-sd15\.safetensors" holds no ControlNet: found neither "controlnet_cond_embedding\.conv_in\.weight".*It looks like a Stable Diffusion model/,
    );
    const lora = await rejection(
      service.addControlNet({ files: [await pickedFile(resolve(SINGLE_FILE, 'tiny-sd15-lora.safetensors'))] }),
    );
    expect(lora.message).toMatch(
      /"tiny-sd15-lora\.safetensors" holds no ControlNet.*It looks like a LoRA: add it in the LoRA panel/,
    );
    const text = await rejection(service.addControlNet({ files: [{ path: 'notes.txt', file: new Blob(['x']) }] }));
    expect(text).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/^No \.safetensors file among notes\.txt: expected a ControlNet/) as unknown,
    });
    expect(await service.listControlNets()).toEqual([]);
  });

  it('keeps a ControlNet 1.0 file, a diffusers folder and one by URL, each described', async () => {
    const file = await service.addControlNet({
      files: [await pickedFile(resolve(SINGLE_FILE, 'tiny-controlnet.safetensors'))],
    });
    expect(file).toMatchObject({ name: 'tiny-controlnet', hasConfig: false });
    expect(file.description).toBe('ControlNet 1.0 file (control_model. keys), float32');
    const folder = await service.addControlNet({
      files: await picked(resolve(SINGLE_FILE, 'tiny-controlnet-diffusers')),
    });
    expect(folder).toMatchObject({ name: 'tiny-controlnet-diffusers', hasConfig: true });
    expect(folder.description).toBe('diffusers ControlNet folder, float32');
    const byUrl = await service.addControlNet({
      url: `${siteRoot}../hf/test/tiny-cn/resolve/main/diffusion_pytorch_model.safetensors`,
    });
    expect(byUrl).toMatchObject({ name: 'tiny-cn', hasConfig: true });
    const single = await service.addControlNet({ url: `${siteRoot}../files/tiny-controlnet.safetensors` });
    expect(single).toMatchObject({ name: 'tiny-controlnet', hasConfig: false });
    expect((await service.listControlNets()).map((c) => c.name)).toEqual([
      'tiny-cn',
      'tiny-controlnet',
      'tiny-controlnet-diffusers',
    ]);
    await service.deleteControlNet({ name: 'tiny-cn' });
    expect((await service.listControlNets()).map((c) => c.name)).not.toContain('tiny-cn');
  });

  it('names a diffusers folder by its folder, or on the Hub by its repository', () => {
    expect(
      controlNetNameOfUrl(
        'https://huggingface.co/lllyasviel/control_v11p_sd15_canny/resolve/main/diffusion_pytorch_model.fp16.safetensors',
      ),
    ).toBe('control_v11p_sd15_canny');
    expect(controlNetNameOfUrl('https://example.com/cn/canny-sd15/diffusion_pytorch_model.safetensors')).toBe(
      'canny-sd15',
    );
  });
});

describe('generating with a ControlNet through the service', () => {
  it('gives the pixels of StableDiffusionControlNetPipeline, with the unit in the infotext', async () => {
    await service.addControlNet({ files: [await pickedFile(resolve(SINGLE_FILE, 'tiny-controlnet.safetensors'))] });
    const c = readControlNetCase('cn-sd15-circles-euler-12');
    const first = await run(caseJob(c, [caseUnit(c, 'tiny-controlnet')]));
    const diff = expectCase(first.images[0]!, c.id);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
    expect(first.loads).toContain('ControlNet tiny-controlnet');
    const infotext = first.images[0]!.infotext;
    expect(readPngText(first.images[0]!.png).parameters).toBe(infotext);
    expect(infotext).toMatch(
      /ControlNet 0: "Module: none, Model: tiny-controlnet, Weight: 1\.0, .*Guidance Start: 0\.0, Guidance End: 1\.0/,
    );
    // the next job reuses the model and the ControlNet's session
    const again = await run(caseJob(c, [caseUnit(c, 'tiny-controlnet')]));
    expect(again.loads).toEqual([]);
    expect(decodePng(again.images[0]!.png).rgb).toEqual(decodePng(first.images[0]!.png).rgb);
  });

  it('passes the weight and the window on (a diffusers folder with its config)', async () => {
    await service.addControlNet({ files: await picked(resolve(SINGLE_FILE, 'tiny-controlnet-diffusers')) });
    const c = readControlNetCase('cn-sd15-lines-w0.6-end0.5-dpmpp2mk-10');
    const { images } = await run(caseJob(c, [caseUnit(c, 'tiny-controlnet-diffusers')]));
    const diff = expectCase(images[0]!, c.id);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
    expect(images[0]!.infotext).toMatch(/Weight: 0\.6, .*Guidance End: 0\.5/);
  });

  it('loads a replaced ControlNet again, and releases the session of one a job leaves out', async () => {
    const c = { ...readControlNetCase('cn-sd15-circles-euler-12'), steps: 2 };
    const loadsOf = async (name: string) => (await run(caseJob(c, [caseUnit(c, name)]))).loads;
    // the last job used the diffusers folder only
    expect(await loadsOf('tiny-controlnet')).toEqual(['ControlNet tiny-controlnet']);
    expect(await loadsOf('tiny-controlnet')).toEqual([]);
    await service.addControlNet({ files: [await pickedFile(resolve(SINGLE_FILE, 'tiny-controlnet.safetensors'))] });
    expect(await loadsOf('tiny-controlnet')).toEqual(['ControlNet tiny-controlnet']);
    expect(await loadsOf('tiny-controlnet-diffusers')).toEqual(['ControlNet tiny-controlnet-diffusers']);
  });

  it('runs a float16 ControlNet, keeping its widened weights under its entry', async () => {
    const bytes = await float16Copy(resolve(SINGLE_FILE, 'tiny-controlnet.safetensors'));
    const added = await service.addControlNet({
      files: [{ path: 'tiny-controlnet-fp16.safetensors', file: new Blob([bytes as Uint8Array<ArrayBuffer>]) }],
    });
    expect(added.description).toBe('ControlNet 1.0 file (control_model. keys), float16');
    const c = readControlNetCase('cn-sd15-circles-euler-12');
    const { images } = await run(caseJob(c, [caseUnit(c, 'tiny-controlnet-fp16')]));
    // float16 weights round the ControlNet's residuals a little: within the reference tolerance, not equal
    const diff = expectCase(images[0]!, c.id);
    expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
    const stored = await createBrowserModelStore({ kv: createIdbKeyValueStore(CONTROLNET_STORE_DB) }).list();
    const entry = stored.find((m) => m.id === 'controlnet:tiny-controlnet-fp16');
    expect(entry?.convertedBytes).toBeGreaterThan(bytes.length);
    expect((await service.listControlNets()).find((e) => e.name === 'tiny-controlnet-fp16')?.sizeBytes).toBe(
      bytes.length,
    );
  });

  it('refuses an unknown ControlNet naming it and the stored ones', async () => {
    const c = readControlNetCase('cn-sd15-circles-euler-12');
    const e = await rejection(run(caseJob(c, [caseUnit(c, 'canny-xl')])));
    expect(e.code).toBe('missing-file');
    expect(e.message).toMatch(
      /^Unknown ControlNet "canny-xl": this browser has no ControlNet of that name\. Add the file in the ControlNet panel \(stored ControlNets: .*tiny-controlnet.*\)/,
    );
  });

  it('refuses an ONNX export: ControlNet needs a safetensors model', async () => {
    const c = readControlNetCase('cn-sd15-circles-euler-12');
    const job = {
      ...caseJob(c, [caseUnit(c, 'tiny-controlnet')], 'local:tiny-sd15'),
      localFiles: await picked(resolve(MODELS, 'tiny-sd15')),
    };
    delete job.configFiles;
    const e = await rejection(run(job));
    expect(e.code).toBe('unsupported-model');
    expect(e.message).toMatch(
      /^ControlNet needs a safetensors checkpoint or diffusers safetensors folder: tiny-sd15 is an ONNX export/,
    );
  });

  it('lets the core refuse a bad weight or window, and the preprocessor an unknown spec', async () => {
    const c = readControlNetCase('cn-sd15-circles-euler-12');
    const weight = await rejection(run(caseJob(c, [caseUnit(c, 'tiny-controlnet', { weight: 12 })])));
    expect(weight).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/^ControlNet 0 weight 12 is not allowed: use a number from 0 to 10/) as unknown,
    });
    const window = await rejection(run(caseJob(c, [caseUnit(c, 'tiny-controlnet', { start: 0.6, end: 0.4 })])));
    expect(window.message).toMatch(/^ControlNet 0 start 0\.6 and end 0\.4 are not allowed/);
    const spec = await rejection(run(caseJob(c, [caseUnit(c, 'tiny-controlnet', { preprocessor: 'depth' })])));
    expect(spec).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/^Unknown preprocessor "depth"/) as unknown,
    });
  });

  it('refuses an SD 1.x ControlNet for an SDXL model, naming the first tensor that differs', async () => {
    const c = readControlNetCase('cn-sd15-circles-euler-12');
    const job = {
      ...caseJob(c, [caseUnit(c, 'tiny-controlnet')], 'local:tiny-sdxl.safetensors'),
      localFiles: [await pickedFile(resolve(SINGLE_FILE, 'tiny-sdxl.safetensors'))],
      configFiles: await picked(resolve(SINGLE_FILE, 'tiny-sdxl-diffusers')),
    };
    const e = await rejection(run(job));
    expect(e.code).toBe('unsupported-model');
    expect(e.message).toMatch(
      /^The ControlNet tiny-controlnet does not fit the loaded model: this model's UNet needs a tensor "control_model\.label_emb/,
    );
  });

  it('refuses to delete a ControlNet while a job runs, then deletes it', async () => {
    const c = readControlNetCase('cn-sd15-circles-euler-12');
    const job = run(caseJob(c, [caseUnit(c, 'tiny-controlnet')]));
    const busy = await rejection(service.deleteControlNet({ name: 'tiny-controlnet' }));
    expect(busy.code).toBe('busy');
    await job;
    await service.deleteControlNet({ name: 'tiny-controlnet' });
    const gone = await rejection(run(caseJob(c, [caseUnit(c, 'tiny-controlnet')])));
    expect(gone.message).toMatch(/^Unknown ControlNet "tiny-controlnet"/);
  });
});

describe('preprocessControlImage', () => {
  it("gives the CLI's Canny edge map as a PNG", async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sd-cn-preview-')), 'edges.png');
    const input = resolve(CANNY, 'canny-100-200.input.png');
    await runCli(['preprocess', 'canny', '--low', '100', '--high', '200', '--in', input, '--out', out]);
    const preview = await service.preprocessControlImage({ image: png(input), preprocessor: 'canny:100:200' });
    const cli = decodePng(new Uint8Array(readFileSync(out)));
    expect([preview.width, preview.height]).toEqual([cli.width, cli.height]);
    expect(decodePng(preview.png).rgb).toEqual(cli.rgb);
  });

  it("refuses an unknown spec with the preprocessor's message", async () => {
    const e = await rejection(
      service.preprocessControlImage({ image: png(resolve(CANNY, 'canny-100-200.input.png')), preprocessor: 'hed' }),
    );
    expect(e).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/^Unknown preprocessor "hed"/) as unknown,
    });
  });
});
