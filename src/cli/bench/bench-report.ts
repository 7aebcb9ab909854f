import type { BenchBackend } from './bench-runtime.ts';
import type { AdapterSummary } from '../../platform/webgpu/gpu-device.ts';
import type { GpuBufferTracker } from '../../platform/webgpu/gpu-buffer-tracker.ts';
import type { RunSample } from './measure-run.ts';
import { round2, summarize, type Summary } from './stats.ts';

/** Time to open the model once: file reads and session creation, ms. */
export interface LoadSample {
  readFilesMs: number;
  sessionCreateMs: number;
}

/** Everything `npm run bench` prints, as one JSON object. Times in ms, sizes in MiB. */
export interface BenchReport {
  /** `pipeline`: a full model folder; `graphs`: bare UNet (and VAE) graphs with stand-ins for the rest. */
  mode: 'pipeline' | 'graphs';
  model: string;
  /** Components replaced by stand-ins (no real work): their stage times are ~0. */
  stubbed: string[];
  runtime: string;
  backend: BenchBackend;
  /** WebGPU adapter; null on CPU backends. */
  adapter: AdapterSummary | null;
  config: {
    steps: number;
    size: number;
    /** The CFG batch asked for (`--cfg-batch`): 2 = classifier-free guidance. */
    cfgBatch: number;
    cfgScale: number;
    sampler: string;
    runs: number;
    warmup: number;
    /** UNet steps (model calls, as the scheduler counts them) per image: PNDM makes steps + 1. */
    unetStepsPerRun: number;
    /** [batch, 4, size/8, size/8] as the UNet is fed. */
    latentShape: number[];
  };
  /** Each stage over the measured runs; `unetStepMs` and `unetRunMs` pool every step of every run. */
  stages: {
    readFilesMs: Summary;
    sessionCreateMs: Summary;
    /** Warm-up generations on a fresh session: first-call work (kernel compilation, allocation) included. */
    warmupTotalMs: Summary;
    textEncoderMs: Summary;
    /** One UNet step as the pipeline sees it: inputs built, model run, output read, guidance applied. */
    unetStepMs: Summary;
    /** Inside the UNet session's `run` only. */
    unetRunMs: Summary;
    /** Scheduler steps and input scaling, per run. */
    schedulerMs: Summary;
    /** Per run: UNet step time outside `run` (tensor creation, output copy, CFG combination). */
    guidanceAndIoMs: Summary;
    schedulerAndGuidanceMs: Summary;
    vaeDecodeMs: Summary;
    /** One generation, session creation excluded. */
    totalMs: Summary;
  };
  overhead: {
    /** Scheduler + guidance + UNet I/O as a share of the run (target: under 5% of a 20-step run). */
    schedulerAndGuidancePercent: Summary;
    /** Everything outside any session's `run` as a share of the run. */
    outsideModelPercent: Summary;
  };
  /** Observed by wrapping the sessions, over the measured runs. */
  reads: {
    /** true when outputs live on a GPU until read (WebGPU): then every host read is a GPU→CPU transfer. */
    isDeviceResident: boolean;
    unetCallsPerStep: number;
    /** UNet outputs that reached host memory, per step. */
    unetOutputReadsPerStep: number;
    /** The same, counted only where they cross from a GPU (0 on CPU backends). */
    gpuToCpuReadsPerStep: number;
  };
  /** The same UNet graph alone in a tight loop; null when skipped (--bare-calls 0). */
  bareUnet: {
    /** UNet batch of the loop (the pipeline's batch per call). */
    batch: number;
    callMs: Summary;
    /** Median pipeline step vs. median bare call(s) per step, percent (target: within 10). */
    stepVsBarePercent: number;
  } | null;
  memory: {
    /** Peak resident set of the process (includes onnxruntime's CPU copies of weights). */
    peakRssMiB: number;
    /** WebGPU: peak bytes of live GPU buffers created through the device; null elsewhere. */
    gpuBuffersPeakMiB: number | null;
    gpuBuffersCreated: number | null;
  };
}

const MIB = 1024 * 1024;
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const perStep = (samples: readonly RunSample[], pick: (s: RunSample) => number[]): number => {
  const all = samples.flatMap(pick);
  return all.length === 0 ? 0 : round2(sum(all) / all.length);
};

/** The per-stage part of the report from the measured runs. */
export function stageSummaries(
  loads: readonly LoadSample[],
  warmups: readonly RunSample[],
  runs: readonly RunSample[],
): BenchReport['stages'] {
  const ioMs = runs.map((r) => sum(r.unetStepMs) - sum(r.unetRunMs));
  return {
    readFilesMs: summarize(loads.map((l) => l.readFilesMs)),
    sessionCreateMs: summarize(loads.map((l) => l.sessionCreateMs)),
    warmupTotalMs: summarize(warmups.map((r) => r.totalMs)),
    textEncoderMs: summarize(runs.map((r) => r.textEncoderMs)),
    unetStepMs: summarize(runs.flatMap((r) => r.unetStepMs)),
    unetRunMs: summarize(runs.flatMap((r) => r.unetRunMs)),
    schedulerMs: summarize(runs.map((r) => r.schedulerMs)),
    guidanceAndIoMs: summarize(ioMs),
    schedulerAndGuidanceMs: summarize(runs.map((r, i) => r.schedulerMs + (ioMs[i] as number))),
    vaeDecodeMs: summarize(runs.map((r) => r.vaeDecodeMs)),
    totalMs: summarize(runs.map((r) => r.totalMs)),
  };
}

/** Overhead shares of each run, percent. */
export function overheadSummaries(runs: readonly RunSample[]): BenchReport['overhead'] {
  return {
    schedulerAndGuidancePercent: summarize(
      runs.map((r) => (100 * (r.schedulerMs + sum(r.unetStepMs) - sum(r.unetRunMs))) / r.totalMs),
    ),
    outsideModelPercent: summarize(runs.map((r) => (100 * (r.totalMs - r.modelRunMs)) / r.totalMs)),
  };
}

/** Reads of UNet outputs per step, as the wrapped sessions counted them. */
export function readCounts(runs: readonly RunSample[], isDeviceResident: boolean): BenchReport['reads'] {
  const reads = perStep(runs, (r) => r.unetHostReads);
  return {
    isDeviceResident,
    unetCallsPerStep: perStep(runs, (r) => r.unetCalls),
    unetOutputReadsPerStep: reads,
    gpuToCpuReadsPerStep: isDeviceResident ? reads : 0,
  };
}

/** The bare-loop comparison: the median step against the bare call(s) it makes. */
export function bareComparison(
  batch: number,
  callMs: readonly number[],
  stepMs: Summary,
  callsPerStep: number,
): BenchReport['bareUnet'] {
  const calls = summarize(callMs);
  const floor = calls.median * Math.max(1, callsPerStep);
  return { batch, callMs: calls, stepVsBarePercent: floor > 0 ? round2((100 * stepMs.median) / floor - 100) : 0 };
}

/** Peak memory now: process RSS, and the GPU buffers when a tracker is given. */
export function memoryReport(gpuBuffers: GpuBufferTracker | undefined, maxRssKiB: number): BenchReport['memory'] {
  return {
    peakRssMiB: round2(maxRssKiB / 1024),
    gpuBuffersPeakMiB: gpuBuffers ? round2(gpuBuffers.peakBytes / MIB) : null,
    gpuBuffersCreated: gpuBuffers ? gpuBuffers.created : null,
  };
}
