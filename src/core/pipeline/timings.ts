/** Wall-clock timings of one generation, per stage, in milliseconds. */
export interface StageTimings {
  textEncoderMs: number;
  /** One entry per UNet model call (a CFG call with batch 2, or two calls of batch 1, counts once). */
  unetStepMs: number[];
  /** Scheduler, guidance and tensor conversion work between model calls. */
  schedulerMs: number;
  vaeEncodeMs: number;
  vaeDecodeMs: number;
  /** Time spent in the caller's `onImage` hook (e.g. the CLI encoding and writing a PNG): not pipeline work. */
  callbackMs: number;
  totalMs: number;
}

export function emptyTimings(): StageTimings {
  return {
    textEncoderMs: 0,
    unetStepMs: [],
    schedulerMs: 0,
    vaeEncodeMs: 0,
    vaeDecodeMs: 0,
    callbackMs: 0,
    totalMs: 0,
  };
}

/** A monotonic clock in ms; `performance.now` exists in browsers, workers and Node. */
export function now(): number {
  return (globalThis as unknown as { performance: { now(): number } }).performance.now();
}
