/**
 * The denoising loop as linear algebra over "sources", worked out before any model call.
 *
 * Guidance and every scheduler step compute each element of their outputs from the same element of
 * their inputs (latents, model outputs, noise) with scalar coefficients that do not depend on the
 * values: they are linear maps, applied elementwise. So running the real scheduler code on
 * coefficient vectors instead of latents, where a source is the unit vector e_j, yields the
 * coefficient vector of every array the loop makes: the latents of each call, the x0 estimates, the
 * final latents. The device loop then only materialises `Σ_j c_j · source_j` where the values live.
 * The same walk over random values (`linearity.ts`) checks that a scheduler really is linear.
 */
import { SdError } from '../errors.ts';
import type { RandomSource } from '../rng/random-source.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import { guide } from './guidance.ts';
import { startLatents } from './loop-context.ts';

/** Where one source of a plan comes from. Sources are numbered in the order the loop makes them. */
export type PlanSource =
  /** An array drawn before the loop: txt2img [noise]; img2img [init latents, noise]. */
  | { kind: 'start'; index: number }
  /** Batch item `half` of the model output of call `call` (0-based from the begin index); 0 is the unconditional side when guided. */
  | { kind: 'output'; call: number; half: number }
  /** A noise draw the scheduler makes during call `call`, of `shape`, in drawing order. */
  | { kind: 'draw'; call: number; shape: readonly number[] };

/** One model call of a plan. Coefficient vectors are Float32Array [sources.length]. */
export interface PlannedCall {
  stepIndex: number;
  timestep: number;
  /** The latents the model is called on, before input scaling. */
  sample: Float32Array;
  /** The scheduler's `scaleModelInput` for this call. */
  inputScale: number;
  /** What a preview of this call shows: the scheduler's x0 estimate, else the new latents. */
  preview: Float32Array;
  /** Sources no later combination (sample, preview, final) reads: they can be freed after this call. */
  dead: number[];
}

export interface LinearPlan {
  sources: PlanSource[];
  calls: PlannedCall[];
  /** The latents after the last call. */
  final: Float32Array;
}

/** What determines the loop's arithmetic (everything but the values). */
export interface LoopSpec {
  /** A fresh scheduler for the request (schedulers are stateful: each walk takes its own). */
  createScheduler: () => Scheduler;
  begin: number;
  /** Arrays drawn before the loop: 1 (txt2img noise) or 2 (img2img init latents, noise). */
  startCount: number;
  /** Model output batch items per call: 2 with classifier-free guidance ([uncond, cond]), else 1. */
  halves: number;
  /** The float32 guidance scale (used when `halves` is 2). */
  guidanceScale: number;
  /** Latent shape [1, 4, h, w]; noise draws are recorded with the shape the scheduler asks for. */
  shape: readonly number[];
}

/** How a walk gets the array standing for a new source. */
export type SourceArrays = (source: PlanSource, index: number) => Float32Array;

/** The arrays one walk of the loop produced. */
export interface Walk {
  sources: PlanSource[];
  calls: { stepIndex: number; timestep: number; sample: Float32Array; inputScale: number; preview: Float32Array }[];
  final: Float32Array;
}

/**
 * Runs the loop's arithmetic (start latents, guidance, scheduler steps) with the arrays `arrays`
 * hands out for each source, exactly as the CPU loop calls it.
 */
export function walkLoop(spec: LoopSpec, arrays: SourceArrays): Walk {
  const scheduler = spec.createScheduler();
  const sources: PlanSource[] = [];
  const next = (source: PlanSource): Float32Array => {
    sources.push(source);
    return arrays(source, sources.length - 1);
  };
  let call = 0;
  const rng: RandomSource = { randn: (shape) => next({ kind: 'draw', call, shape: [...shape] }) };
  const start = Array.from({ length: spec.startCount }, (_, index) => next({ kind: 'start', index }));
  let latents = startLatents(scheduler, spec.begin, start);
  const calls: Walk['calls'] = [];
  for (let i = spec.begin; i < scheduler.timesteps.length; i++, call++) {
    // the input scale depends on the scheduler's state (Heun, DPM2): ask before the step, as the CPU loop does
    const inputScale = scheduler.scaleModelInput(i);
    const halves = Array.from({ length: spec.halves }, (_, half) => next({ kind: 'output', call, half }));
    const modelOutput = halves.length === 2 ? guide(halves[0]!, halves[1]!, spec.guidanceScale) : halves[0]!;
    const out = scheduler.step({ modelOutput, stepIndex: i, sample: latents, shape: spec.shape, rng });
    calls.push({
      stepIndex: i,
      timestep: scheduler.timesteps[i] as number,
      sample: latents,
      inputScale,
      preview: out.denoised ?? out.prevSample,
    });
    latents = out.prevSample;
  }
  return { sources, calls, final: latents };
}

/** Thrown inside a planning walk when the loop makes more sources than the vectors have room for. */
class OutOfRoom extends Error {}

/**
 * The loop's plan: every array as a coefficient vector over the sources. The vector length must be
 * fixed before the walk (schedulers keep earlier arrays), so it is a guess from the number of calls,
 * doubled and walked again when the scheduler draws more noise than guessed.
 * @throws SdError 'internal' when an output has another length than its inputs (a scheduler that is
 *   not elementwise)
 */
export function planLinearLoop(spec: LoopSpec): LinearPlan {
  const calls = spec.createScheduler().timesteps.length - spec.begin;
  let room = Math.max(spec.startCount + calls * (spec.halves + 1) + 1, 8);
  for (;;) {
    try {
      return planWithRoom(spec, room);
    } catch (e) {
      if (!(e instanceof OutOfRoom)) throw e;
      room *= 2;
    }
  }
}

function planWithRoom(spec: LoopSpec, room: number): LinearPlan {
  const walk = walkLoop(spec, (_, index) => {
    if (index >= room) throw new OutOfRoom();
    const unit = new Float32Array(room);
    unit[index] = 1;
    return unit;
  });
  const n = walk.sources.length;
  const fit = (v: Float32Array): Float32Array => {
    if (v.length !== room)
      throw new SdError(
        'internal',
        `The scheduler returned ${v.length} values for ${room} inputs: it is not elementwise.`,
      );
    return v.slice(0, n);
  };
  const calls = walk.calls.map((c) => ({ ...c, sample: fit(c.sample), preview: fit(c.preview), dead: [] as number[] }));
  const final = fit(walk.final);
  // a source dies after the last call whose sample or preview reads it; the final latents keep theirs
  const lastUse = new Int32Array(n).fill(-1);
  calls.forEach((c, k) => {
    for (let j = 0; j < n; j++) if (c.sample[j] !== 0 || c.preview[j] !== 0) lastUse[j] = k;
  });
  walk.sources.forEach((s, j) => {
    if (final[j] !== 0) return;
    const made = s.kind === 'start' ? 0 : s.call;
    calls[Math.max(lastUse[j] as number, made)]?.dead.push(j);
  });
  return { sources: walk.sources, calls, final };
}
