import { readFile } from 'node:fs/promises';
import { resourceUsage } from 'node:process';
import { SdError } from '../../core/errors.ts';
import type { LoadedModel } from '../../core/models/load-model.ts';
import { loadModel } from '../../core/models/load-model.ts';
import type { GenerateRequest } from '../../core/pipeline/request.ts';
import { schedulerClassName } from '../../core/schedulers/registry.ts';
import { BUNDLED_MERGES } from '../bundled.ts';
import { bareUnetLoop } from './bare-unet-loop.ts';
import { parseBenchOptions, type BenchOptions } from './bench-options.ts';
import {
  bareComparison,
  memoryReport,
  overheadSummaries,
  readCounts,
  stageSummaries,
  type BenchReport,
  type LoadSample,
} from './bench-report.ts';
import { createBenchRuntime, type BenchRuntime } from './bench-runtime.ts';
import { detectGraphFolders, explicitGraphFolders, type GraphFolders } from './graph-folders.ts';
import { loadGraphsModel } from './graphs-model.ts';
import { measureRun, type RunSample } from './measure-run.ts';
import { timedModelFiles } from './timed-model-files.ts';

/** Fixed so every run does the same work; the negative prompt is as long (77 tokens) so CFG batches. */
const PROMPT = 'a photograph of an astronaut riding a horse on the moon, detailed, sharp focus';
const SEED = 42n;
/** A typical guidance scale; any value above 1 makes the same work. */
const GUIDED_CFG = 7;

interface Opened {
  model: LoadedModel;
  stubbed: string[];
  load: LoadSample;
}

/** Opens the model once, timing file reads apart from session creation. */
async function open(options: BenchOptions, graphs: GraphFolders | undefined, bench: BenchRuntime): Promise<Opened> {
  const { runtime } = bench;
  runtime.createSessionMs = 0;
  const merges = () => readFile(BUNDLED_MERGES, 'utf8');
  if (graphs) {
    const g = await loadGraphsModel(graphs, runtime, await merges());
    return {
      model: g.model,
      stubbed: g.stubbed,
      load: { readFilesMs: g.readMs, sessionCreateMs: runtime.createSessionMs },
    };
  }
  const files = timedModelFiles(options.modelDir as string);
  const model = await loadModel(files, runtime, { fallbackMerges: merges });
  return { model, stubbed: [], load: { readFilesMs: files.readMs, sessionCreateMs: runtime.createSessionMs } };
}

function requestFor(options: BenchOptions): GenerateRequest {
  return {
    prompt: PROMPT,
    negativePrompt: '',
    sampler: options.sampler ?? null,
    steps: options.steps,
    cfgScale: options.cfgBatch === 2 ? GUIDED_CFG : 1,
    seed: SEED,
    width: options.size,
    height: options.size,
    batchSize: 1,
    rng: 'cpu',
    promptSyntax: 'a1111',
  };
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * Measures the pipeline stage by stage. Session creation: `warmup` + `runs` loads of the model, the
 * warm-up ones not counted (one load with --load-once and for bare graphs, whose weights take long to
 * read). Then, on the last session, `warmup` generations (reported apart: they include first-call
 * work) and `runs` measured ones, and the bare UNet loop on the same session.
 */
export async function runBench(options: BenchOptions, progress: (line: string) => void = log): Promise<BenchReport> {
  const graphs =
    options.unetDir !== undefined
      ? explicitGraphFolders(options.unetDir, options.vaeDir)
      : detectGraphFolders(options.modelDir as string);
  const bench = await createBenchRuntime(options.backend);
  const { runtime } = bench;
  const request = requestFor(options);
  const isLoadOnce = options.isLoadOnce || graphs !== undefined;
  const loads: LoadSample[] = [];
  const warmups: RunSample[] = [];
  const runs: RunSample[] = [];
  let opened: Opened | undefined;
  const label = graphs ? graphs.unetDir : options.modelDir;
  try {
    // session creation: warm-up + R loads (the first, cold, not counted), or one with --load-once
    const loadCount = isLoadOnce ? 1 : options.warmup + options.runs;
    for (let i = 0; i < loadCount; i++) {
      await opened?.model.release();
      opened = undefined;
      progress(`loading ${label} on ${runtime.name} (${i + 1}/${loadCount})`);
      opened = await open(options, graphs, bench);
      if (isLoadOnce || i >= options.warmup) loads.push(opened.load);
    }
    if (!opened) throw new SdError('internal', 'bench: no model was opened.');
    // generations on the last session: the warm-ups pay for first-call work (kernel compilation, allocation)
    for (let i = 0; i < options.warmup + options.runs; i++) {
      const isWarmup = i < options.warmup;
      progress(isWarmup ? `warm-up ${i + 1}/${options.warmup}` : `run ${i - options.warmup + 1}/${options.runs}`);
      const sample = await measureRun(opened.model, runtime, request);
      (isWarmup ? warmups : runs).push(sample);
    }
    const model = opened.model;
    const stages = stageSummaries(loads, warmups, runs);
    const reads = readCounts(runs, runtime.isDeviceResident);
    const isGuided = request.cfgScale > 1 && !model.unet.contract.timestepCond;
    const callBatch = isGuided && reads.unetCallsPerStep === 1 ? 2 : 1;
    let bareUnet: BenchReport['bareUnet'] = null;
    if (options.bareCalls > 0) {
      progress(`bare UNet loop: ${options.bareCalls} calls of batch ${callBatch}`);
      const side = options.size / 8;
      const times = await bareUnetLoop(
        model.unet,
        runtime,
        { batch: callBatch, latentHeight: side, latentWidth: side, tokens: 77 },
        1,
        options.bareCalls,
      );
      bareUnet = bareComparison(callBatch, times, stages.unetStepMs, reads.unetCallsPerStep);
    }
    return {
      mode: graphs ? 'graphs' : 'pipeline',
      model: model.label,
      stubbed: opened.stubbed,
      runtime: runtime.name,
      backend: options.backend,
      adapter: bench.adapter ?? null,
      config: {
        steps: options.steps,
        size: options.size,
        cfgBatch: options.cfgBatch,
        cfgScale: request.cfgScale,
        sampler: options.sampler ?? schedulerClassName(model.schedulerConfig),
        runs: options.runs,
        warmup: options.warmup,
        unetStepsPerRun: runs[0]?.unetStepMs.length ?? 0,
        latentShape: [callBatch, 4, options.size / 8, options.size / 8],
      },
      stages,
      overhead: overheadSummaries(runs),
      reads,
      bareUnet,
      memory: memoryReport(bench.gpuBuffers, resourceUsage().maxRSS),
    };
  } finally {
    await opened?.model.release();
    bench.close();
  }
}

/** `npm run bench`: parses the arguments, runs, and writes the report as JSON to `write` (progress lines to `progress`). */
export async function benchCommand(
  argv: readonly string[],
  write: (text: string) => void,
  progress: (line: string) => void = log,
): Promise<BenchReport> {
  const report = await runBench(parseBenchOptions(argv), progress);
  write(`${JSON.stringify(report, null, 2)}\n`);
  return report;
}
