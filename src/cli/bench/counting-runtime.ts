import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { SdError } from '../../core/errors.ts';
import type { Runtime } from '../../core/runtime/runtime.ts';
import { now } from '../../core/pipeline/timings.ts';

/** What one session has done since it was created (or since the last `reset`). */
export interface SessionCounters {
  /** `run` calls. */
  calls: number;
  /** Wall time spent inside `run`, ms (on a GPU backend this includes the download of CPU-located outputs). */
  runMs: number;
  /**
   * Output tensors whose data reached JavaScript memory: each output onnxruntime returned on the CPU
   * (it copied the data there inside `run`), plus each `getData()` on an output it left on the device.
   */
  hostReads: number;
}

/** Output locations whose data is already in host memory when `run` returns. */
const HOST_LOCATIONS = new Set<string>(['cpu', 'cpu-pinned']);

/**
 * Counts reads of one output: at once when onnxruntime already copied it to host memory, otherwise
 * when somebody asks for its data. Device tensors keep their identity, so the pipeline still disposes
 * the same object it was given.
 */
function countReads(tensor: Tensor, counters: SessionCounters): void {
  if (HOST_LOCATIONS.has(tensor.location)) {
    counters.hostReads++;
    return;
  }
  const getData = tensor.getData.bind(tensor);
  Object.defineProperty(tensor, 'getData', {
    configurable: true,
    value: (releaseData?: boolean) => {
      counters.hostReads++;
      return getData(releaseData);
    },
  });
}

/** A session whose `run` is timed and whose outputs are counted; everything else goes to the real one. */
function countingSession(session: InferenceSession, counters: SessionCounters): InferenceSession {
  const run = async (...args: unknown[]): Promise<InferenceSession.OnnxValueMapType> => {
    const start = now();
    const out = await (session.run as (...a: unknown[]) => Promise<InferenceSession.OnnxValueMapType>)(...args);
    counters.runMs += now() - start;
    counters.calls++;
    for (const value of Object.values(out)) countReads(value as Tensor, counters);
    return out;
  };
  return new Proxy(session, {
    get(target, prop) {
      if (prop === 'run') return run;
      const value: unknown = Reflect.get(target, prop, target);
      // methods such as release() must see the real session as `this`
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Wraps a runtime so that every session it creates counts its calls, time in `run` and reads of its
 * outputs into host memory, and so that session creation is timed. The benchmark uses it to count
 * GPU→CPU reads of the UNet output per step by observing them, rather than by assuming how the
 * pipeline behaves.
 */
export class CountingRuntime implements Runtime {
  readonly name: string;
  /** Total wall time of `createSession` calls, ms. */
  createSessionMs = 0;
  readonly #counters = new Map<InferenceSession, SessionCounters>();

  /**
   * @param isDeviceResident true when outputs live on a GPU until read (WebGPU), so a host read is a
   *   GPU→CPU transfer; false for CPU backends, where outputs are host memory already.
   */
  constructor(
    private readonly inner: Runtime,
    readonly isDeviceResident: boolean,
  ) {
    this.name = inner.name;
    // the GPU-resident loop is the runtime's to offer; the benchmark measures it when there is one
    if (inner.latentBackend) this.latentBackend = inner.latentBackend.bind(inner);
  }

  readonly latentBackend?: Runtime['latentBackend'];

  async createSession(...args: Parameters<Runtime['createSession']>): Promise<InferenceSession> {
    const start = now();
    const session = await this.inner.createSession(...args);
    this.createSessionMs += now() - start;
    return this.wrap(session);
  }

  tensor(...args: Parameters<Runtime['tensor']>): Tensor {
    return this.inner.tensor(...args);
  }

  /** Counts a session made elsewhere (e.g. a stand-in); returns the wrapper to use in its place. */
  wrap(session: InferenceSession): InferenceSession {
    const counters: SessionCounters = { calls: 0, runMs: 0, hostReads: 0 };
    const wrapped = countingSession(session, counters);
    this.#counters.set(wrapped, counters);
    return wrapped;
  }

  /** Counters of a session this runtime created or wrapped (a live object, updated as it runs). */
  countersOf(session: InferenceSession): SessionCounters {
    const counters = this.#counters.get(session);
    if (!counters)
      throw new SdError(
        'internal',
        'countersOf: this session was not created or wrapped by this CountingRuntime; create it through the runtime passed to loadModel.',
      );
    return counters;
  }

  /** Sum of `runMs` over all sessions, ms. */
  totalRunMs(): number {
    let sum = 0;
    for (const c of this.#counters.values()) sum += c.runMs;
    return sum;
  }

  /** Zeroes every session's counters (between runs of the benchmark); `createSessionMs` is left as it is. */
  reset(): void {
    for (const c of this.#counters.values()) Object.assign(c, { calls: 0, runMs: 0, hostReads: 0 });
  }
}
