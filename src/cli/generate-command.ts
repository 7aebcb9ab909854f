import { existsSync, statSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { resourceUsage } from 'node:process';
import { SdError } from '../core/errors.ts';
import { defaultSizeOf } from '../core/models/default-size.ts';
import { loadModel, type LoadedModel } from '../core/models/load-model.ts';
import { generate, type GeneratedImage } from '../core/pipeline/generate.ts';
import { infotextOf } from '../core/pipeline/infotext-of.ts';
import type { GenerateRequest } from '../core/pipeline/request.ts';
import { decodePng, encodePng } from '../core/png/png.ts';
import { parseInfotext, type InfotextParams } from '../core/png/infotext.ts';
import { missingInfotextMessage, readImageMetadata } from '../core/png/image-metadata.ts';
import { SAMPLING_TEXT_KEY, samplingOfInfotext, type InfotextSampling } from '../core/png/infotext-sampling.ts';
import { readPngText } from '../core/png/png.ts';
import { parseSeed, randomSeed } from '../core/rng/seed.ts';
import { numberArg, parseArgs, requiredArg, stringArg, type ParsedArgs } from './args.ts';
import { BUNDLED_MERGES } from './bundled.ts';
import { openCliLoras, takeLoraArgs } from './cli-loras.ts';
import {
  CONTROLNET_OPTIONS,
  openCliControlNet,
  takeControlNetUnits,
  restoredControlNet,
  wantsControlNet,
  type CliControlNet,
  type RestoredControlNet,
} from './cli-controlnet.ts';
import { loadControlNet, type LoadedControlNet } from '../core/models/load-controlnet.ts';
import { openCliModel } from './open-model.ts';
import { createNodeRuntime, type NodeBackend } from '../platform/ort/node-runtime.ts';

const VALUED = [
  'model',
  'prompt',
  'negative-prompt',
  'sampler',
  'steps',
  'cfg',
  'seed',
  'width',
  'height',
  'init-image',
  'strength',
  'batch-size',
  'out',
  'rng',
  'from-png',
  'prompt-syntax',
  'backend',
  'config',
  'prediction-type',
  'sampling',
  'ensd',
  'lora-dir',
  ...CONTROLNET_OPTIONS,
];
const FLAGS = ['bench'];

async function readPngFile(path: string, what: string): Promise<ReturnType<typeof decodePng>> {
  if (!existsSync(path)) throw new SdError('missing-file', `${what} ${path} does not exist.`);
  return decodePng(new Uint8Array(await readFile(path)));
}

/** Output file for image i: FILE.png for one image, FILE-1.png, FILE-2.png, ... for a batch. */
export function outputPath(out: string, index: number, count: number): string {
  return count === 1 ? out : out.replace(/\.png$/i, `-${index + 1}.png`);
}

/** What `--from-png` restores: the parameters, and the ControlNet unit when a ControlNet is given. */
interface Restored {
  params: Partial<InfotextParams>;
  controlNet?: RestoredControlNet;
}

/** The keys of a restored ControlNet unit (`ControlNet 0`, the old `ControlNet` and `ControlNet Weight`, …). */
function isKeyOf(unit: RestoredControlNet, key: string): boolean {
  const m = /^ControlNet(?:[- ](\d+))?(?: |$)/.exec(key);
  return m !== null && Number(m[1] ?? 0) === unit.index;
}

/**
 * Parameters restored from an image's A1111 infotext (PNG, JPEG or WebP), and with `hasControlNet` its
 * ControlNet unit, reported to stderr.
 */
async function fromPng(path: string, hasControlNet: boolean): Promise<Restored> {
  if (!existsSync(path)) throw new SdError('missing-file', `--from-png file ${path} does not exist.`);
  const meta = readImageMetadata(new Uint8Array(await readFile(path)));
  if (meta.parameters === undefined) throw new SdError('bad-infotext', missingInfotextMessage(path, meta));
  const { params, ignored, problems } = parseInfotext(meta.parameters);
  process.stderr.write(`Restored from ${path}: ${Object.keys(params).join(', ')}\n`);
  const controlNet = hasControlNet ? restoredControlNet(meta.parameters, path) : undefined;
  const notRestored = controlNet === undefined ? ignored : ignored.filter((key) => !isKeyOf(controlNet, key));
  if (notRestored.length > 0) process.stderr.write(`Ignored (not supported here): ${notRestored.join(', ')}\n`);
  // a sampler problem depends on the sampling mode: samplingOf reports it
  for (const problem of problems.filter((p) => !p.startsWith('Sampler '))) process.stderr.write(`${problem}\n`);
  return { params, ...(controlNet === undefined ? {} : { controlNet }) };
}

/** What an image's infotext says about sampling, and the diffusers-mode sampler problem it has (if any). */
interface RestoredSampling extends InfotextSampling {
  diffusersProblems: string[];
}

async function samplingFromPng(path: string): Promise<RestoredSampling> {
  const bytes = new Uint8Array(await readFile(path));
  const meta = readImageMetadata(bytes);
  const text = meta.parameters ?? '';
  const marker = meta.format === 'png' ? readPngText(bytes)[SAMPLING_TEXT_KEY] : undefined;
  const diffusersProblems = parseInfotext(text).problems.filter((p) => p.startsWith('Sampler '));
  return { ...samplingOfInfotext(text, marker), diffusersProblems };
}

/**
 * The sampling mode: `--sampling`, else the restored image's, else diffusers. The sampler and ENSD come
 * from the arguments, then from the image (in a1111 mode its A1111 names). Reports the image's sampler
 * problems for that mode.
 */
function samplingOf(
  args: ParsedArgs,
  restored: Partial<InfotextParams>,
  image: RestoredSampling | undefined,
): Pick<GenerateRequest, 'sampling' | 'sampler' | 'etaNoiseSeedDelta'> {
  const given = stringArg(args, 'sampling');
  if (given !== undefined && given !== 'a1111' && given !== 'diffusers') {
    throw new SdError('bad-argument', `--sampling "${given}" is not allowed. Expected one of: a1111, diffusers.`);
  }
  const sampling = given ?? image?.sampling ?? 'diffusers';
  if (given === undefined && image) process.stderr.write(`sampling: ${sampling} (${image.reason})\n`);
  const isA1111 = sampling === 'a1111';
  const explicit = stringArg(args, 'sampler');
  if (explicit === undefined)
    for (const problem of (isA1111 ? image?.problems : image?.diffusersProblems) ?? [])
      process.stderr.write(`${problem}\n`);
  const ensd = numberArg(args, 'ensd', true) ?? (isA1111 ? image?.etaNoiseSeedDelta : undefined);
  const sampler = explicit ?? (isA1111 ? image?.sampler : restored.sampler) ?? null;
  return { sampling, sampler, ...(ensd === undefined ? {} : { etaNoiseSeedDelta: ensd }) };
}

/**
 * The request from the arguments; what they leave out comes from the PNG (`--from-png`), then from
 * the settings the model suggests (turbo models without a scheduler config: 1 step, CFG 0), then defaults.
 */
async function buildRequest(
  args: ParsedArgs,
  restored: Partial<InfotextParams>,
  model: Pick<LoadedModel, 'family' | 'suggested'>,
  restoredSampling?: RestoredSampling,
): Promise<GenerateRequest> {
  const prompt = stringArg(args, 'prompt') ?? restored.prompt;
  if (prompt === undefined)
    throw new SdError('bad-argument', 'Missing --prompt: the text to generate from (or --from-png FILE).');
  const seedText = stringArg(args, 'seed');
  const seed =
    seedText !== undefined ? (seedText === '-1' ? randomSeed() : parseSeed(seedText)) : (restored.seed ?? randomSeed());
  const rngText = (stringArg(args, 'rng') ?? restored.rng ?? 'cpu').toLowerCase();
  if (rngText !== 'cpu' && rngText !== 'gpu' && rngText !== 'nv') {
    throw new SdError('bad-argument', `--rng "${rngText}" is not allowed. Expected one of: cpu, gpu.`);
  }
  const syntax = stringArg(args, 'prompt-syntax') ?? 'a1111';
  if (syntax !== 'a1111' && syntax !== 'diffusers') {
    throw new SdError('bad-argument', `--prompt-syntax "${syntax}" is not allowed. Expected one of: a1111, diffusers.`);
  }
  const initPath = stringArg(args, 'init-image');
  const init = initPath === undefined ? undefined : await readPngFile(initPath, '--init-image');
  const size = defaultSizeOf(model.family);
  return {
    prompt,
    negativePrompt: stringArg(args, 'negative-prompt') ?? restored.negativePrompt ?? '',
    ...samplingOf(args, restored, restoredSampling),
    steps: numberArg(args, 'steps', true) ?? restored.steps ?? model.suggested?.steps ?? 20,
    cfgScale: numberArg(args, 'cfg', false) ?? restored.cfgScale ?? model.suggested?.cfgScale ?? 7,
    seed,
    width: numberArg(args, 'width', true) ?? restored.width ?? init?.width ?? size,
    height: numberArg(args, 'height', true) ?? restored.height ?? init?.height ?? size,
    batchSize: numberArg(args, 'batch-size', true) ?? 1,
    rng: rngText === 'cpu' ? 'cpu' : 'gpu',
    promptSyntax: syntax,
    initImage: init && { rgb: init.rgb, width: init.width, height: init.height },
    denoisingStrength: numberArg(args, 'strength', false) ?? (init ? (restored.denoisingStrength ?? 0.75) : undefined),
  };
}

function checkOutput(out: string): void {
  if (!/\.png$/i.test(out)) throw new SdError('bad-argument', `--out ${out} must end in .png.`);
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new SdError('bad-argument', `--out ${out}: folder ${dir} does not exist. Create it first.`);
}

/** Writes atomically (temporary file, then rename) so a failure never leaves half a PNG. */
async function writePng(path: string, image: GeneratedImage, infotext: string, sampling: string): Promise<void> {
  const tmp = `${path}.partial`;
  // the sampling chunk tells our images from A1111's, whose infotext may look the same
  const text = { parameters: infotext, [SAMPLING_TEXT_KEY]: sampling };
  await writeFile(tmp, encodePng(image.rgb, image.width, image.height, text));
  await rename(tmp, path);
}

/** `generate`: txt2img or img2img from the command line, PNGs with A1111 infotext. */
export async function generateCommand(argv: readonly string[]): Promise<void> {
  // --lora repeats: taken out before the one-value-per-name parse
  const { loras: loraArgs, rest: withoutLoras } = takeLoraArgs(argv);
  // so do --controlnet units (Multi-ControlNet): each with its own options
  const { units: unitArgv, rest } = takeControlNetUnits(withoutLoras);
  const args = parseArgs(rest, 'generate', VALUED, FLAGS);
  const unitArgs = unitArgv.map((u) => parseArgs(u, 'generate', CONTROLNET_OPTIONS));
  const modelPath = requiredArg(
    args,
    'model',
    'a model: a diffusers folder (ONNX or safetensors weights) or a .safetensors checkpoint',
  );
  const out = requiredArg(args, 'out', 'the PNG file to write');
  checkOutput(out);
  const fromPngPath = stringArg(args, 'from-png');
  const hasControlNet = unitArgs.length > 0 ? unitArgs.every((u) => wantsControlNet(u)) : wantsControlNet(args);
  const { params: restored, controlNet: restoredUnit } = fromPngPath
    ? await fromPng(fromPngPath, hasControlNet)
    : { params: {}, controlNet: undefined };
  const backend = (stringArg(args, 'backend') ?? 'cpu') as NodeBackend;
  const loras = await openCliLoras(
    stringArg(args, 'prompt') ?? restored.prompt ?? '',
    stringArg(args, 'lora-dir'),
    loraArgs,
  );
  const opened = await openCliModel(modelPath, {
    config: stringArg(args, 'config'),
    predictionType: stringArg(args, 'prediction-type'),
    loras: loras.set,
    controlResiduals: hasControlNet,
  }).catch(async (e: unknown) => {
    await loras.close();
    throw e;
  });
  if (opened.description !== undefined) process.stderr.write(`model: ${opened.description}\n`);
  // the ControlNets are checked against the model before anything is loaded; a PNG's unit fills the first
  const controls: CliControlNet[] = [];
  const closeControls = async (): Promise<void> => {
    for (const c of controls) await c.close();
  };
  for (const [i, unit] of unitArgs.entries()) {
    const control = await openCliControlNet(unit, await opened.baseUnet!(), i === 0 ? restoredUnit : undefined).catch(
      async (e: unknown) => {
        await closeControls();
        await opened.close();
        await loras.close();
        throw e;
      },
    );
    controls.push(control);
    process.stderr.write(`controlnet${unitArgs.length > 1 ? ` ${i}` : ''}: ${control.opened.description}\n`);
  }
  const files = opened.files;
  const runtime = await createNodeRuntime(backend);
  const loadStart = performance.now();
  const controlSessions: LoadedControlNet[] = [];
  const releaseSessions = async (): Promise<void> => {
    for (const session of controlSessions) await session.release();
  };
  const model = await loadModel(files, runtime, { fallbackMerges: () => readFile(BUNDLED_MERGES, 'utf8') })
    .then(async (m) => {
      if (controls.length === 0) return m;
      try {
        for (const c of controls) controlSessions.push(await loadControlNet(c.opened, runtime, c.name));
      } catch (e) {
        await releaseSessions();
        await m.release();
        throw e;
      }
      return { ...m, controlNets: controlSessions };
    })
    .catch(async (e: unknown) => {
      await opened.close();
      await loras.close();
      await closeControls();
      throw e;
    });
  const sessionMs = performance.now() - loadStart;
  for (const line of model.assumptions) process.stderr.write(`assumed: ${line}\n`);
  try {
    // every LoRA found its place once the text encoders and the UNet are built (loadModel built them)
    for (const warning of loras.set.check()) process.stderr.write(`warning: ${warning}\n`);
    const built = await buildRequest(
      args,
      restored,
      model,
      fromPngPath ? await samplingFromPng(fromPngPath) : undefined,
    );
    const request = {
      ...built,
      prompt: built.prompt + loras.promptSuffix,
      ...(controls.length === 0 ? {} : { controlNets: controls.map((c) => c.unit) }),
    };
    const written: string[] = [];
    const { timings } = await generate(model, runtime, request, {
      onProgress(p) {
        if (p.kind === 'denoise') process.stderr.write(`\rimage ${p.image + 1}/${p.images} step ${p.step}/${p.steps}`);
        else if (p.kind === 'decode') process.stderr.write('\n');
      },
      async onImage(image) {
        const path = outputPath(out, image.index, request.batchSize);
        const infotext = infotextOf(request, image, {
          name: opened.name,
          schedulerConfig: model.schedulerConfig,
          loraHashes: loras.hashes,
          ...(controls.length === 0 ? {} : { controlNets: controls.map((c) => c.infotext) }),
        });
        written.push(path);
        await writePng(path, image, infotext, request.sampling ?? 'diffusers');
      },
    });
    for (const path of written) process.stderr.write(`wrote ${path}\n`);
    if (args.has('bench')) {
      const steps = timings.unetStepMs;
      const unetMs = steps.reduce((a, b) => a + b, 0);
      const modelMs = timings.textEncoderMs + unetMs + timings.vaeDecodeMs + timings.vaeEncodeMs;
      // writing the PNG is the CLI's work, not the pipeline's
      const pipelineMs = timings.totalMs - timings.callbackMs;
      process.stdout.write(
        JSON.stringify({
          runtime: runtime.name,
          sessionCreateMs: round(sessionMs),
          textEncoderMs: round(timings.textEncoderMs),
          unetStepMs: steps.map(round),
          unetTotalMs: round(unetMs),
          schedulerMs: round(timings.schedulerMs),
          vaeEncodeMs: round(timings.vaeEncodeMs),
          vaeDecodeMs: round(timings.vaeDecodeMs),
          pngWriteMs: round(timings.callbackMs),
          totalMs: round(timings.totalMs),
          overheadPercent: round((100 * (pipelineMs - modelMs)) / pipelineMs),
          peakRssMiB: round(resourceUsage().maxRSS / 1024),
        }) + '\n',
      );
    }
  } finally {
    await model.release();
    await releaseSessions();
    await closeControls();
    await opened.close();
    await loras.close();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
