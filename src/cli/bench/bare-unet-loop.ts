import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { SdError } from '../../core/errors.ts';
import type { UnetContract, ValueInfo } from '../../core/models/contracts.ts';
import { now } from '../../core/pipeline/timings.ts';
import { createRandomSource } from '../../core/rng/seed.ts';
import type { Runtime } from '../../core/runtime/runtime.ts';
import { floatTensor } from '../../core/runtime/tensor-data.ts';

/** Shape of the bare loop's inputs. */
export interface BareLoopShape {
  /** UNet batch: 2 for classifier-free guidance, 1 without. */
  batch: number;
  latentHeight: number;
  latentWidth: number;
  /** Conditioning tokens (77 per prompt chunk). */
  tokens: number;
}

/** Concrete dims for one input: symbolic sizes resolved from the shape, numbers kept. */
function dimsFor(info: ValueInfo, role: string, s: BareLoopShape): number[] {
  const known: Record<string, readonly (number | undefined)[]> = {
    sample: [s.batch, undefined, s.latentHeight, s.latentWidth],
    encoderHiddenStates: [s.batch, s.tokens, undefined],
  };
  return info.shape.map((d, i) => {
    const wanted = known[role]?.[i] ?? (i === 0 ? s.batch : undefined);
    if (typeof d === 'number') return d;
    if (wanted === undefined)
      throw new SdError(
        'unknown-contract',
        `UNet input ${info.name} has a symbolic dimension "${d}" at position ${i} that the bare loop cannot size. Benchmark this model as a pipeline (--model DIR).`,
      );
    return wanted;
  });
}

/** A feed of random values (N(0, 1); timesteps 500) in the declared element type. */
function randomFeed(runtime: Runtime, info: ValueInfo, dims: number[], role: string): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  if (role === 'timestep') {
    if (info.type === 'int64') return runtime.tensor('int64', new BigInt64Array(n).fill(500n), dims);
    if (info.type === 'int32') return runtime.tensor('int32', new Int32Array(n).fill(500), dims);
    return floatTensor(runtime, info.type, new Float32Array(n).fill(500), dims);
  }
  return floatTensor(runtime, info.type, createRandomSource('cpu', 0n).randn(dims), dims);
}

/** The UNet's inputs at the given shape, random: what every step of a generation would feed it. */
export function bareUnetFeeds(runtime: Runtime, contract: UnetContract, shape: BareLoopShape): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  const roles: [string, ValueInfo | undefined][] = [
    ['sample', contract.sample],
    ['timestep', contract.timestep],
    ['encoderHiddenStates', contract.encoderHiddenStates],
    ['textEmbeds', contract.textEmbeds],
    ['timeIds', contract.timeIds],
    ['timestepCond', contract.timestepCond],
  ];
  for (const [role, info] of roles)
    if (info) feeds[info.name] = randomFeed(runtime, info, dimsFor(info, role, shape), role);
  return feeds;
}

/**
 * The UNet alone in a tight loop, the same inputs every call (built once), outputs as the session
 * returns them (host memory with default options): the floor a pipeline step can approach.
 * @returns ms per call, `calls` entries after `warmup` untimed calls
 */
export async function bareUnetLoop(
  unet: { session: InferenceSession; contract: UnetContract },
  runtime: Runtime,
  shape: BareLoopShape,
  warmup: number,
  calls: number,
): Promise<number[]> {
  const feeds = bareUnetFeeds(runtime, unet.contract, shape);
  const fetches = [unet.contract.output.name];
  const times: number[] = [];
  for (let i = 0; i < warmup + calls; i++) {
    const start = now();
    const out = await unet.session.run(feeds, fetches);
    const elapsed = now() - start;
    for (const t of Object.values(out)) t.dispose();
    if (i >= warmup) times.push(elapsed);
  }
  return times;
}
