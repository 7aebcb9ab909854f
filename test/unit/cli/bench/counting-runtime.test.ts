import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { CountingRuntime } from '../../../../src/cli/bench/counting-runtime.ts';
import { stubSession } from '../../../../src/cli/bench/stub-session.ts';
import type { Runtime } from '../../../../src/core/runtime/runtime.ts';

/** An output as a GPU backend returns it with preferredOutputLocation 'gpu-buffer': data only on request. */
function deviceTensor(): Tensor {
  let downloads = 0;
  return {
    location: 'gpu-buffer',
    dims: [1, 4],
    type: 'float32',
    get downloads() {
      return downloads;
    },
    async getData() {
      downloads++;
      return new Float32Array(4);
    },
    dispose() {},
  } as unknown as Tensor;
}

/** A runtime whose one session answers every run with the outputs `make` gives. */
function fakeRuntime(make: () => Record<string, Tensor>): Runtime {
  return {
    name: 'fake',
    async createSession() {
      return stubSession(
        [{ name: 'x', type: 'float32', shape: [1] }],
        [{ name: 'y', type: 'float32', shape: [1, 4] }],
        make,
      );
    },
    tensor() {
      throw new Error('unused');
    },
  };
}

const feeds = {} as Record<string, Tensor>;

describe('CountingRuntime', () => {
  it('counts a CPU-located output as read when run returns', async () => {
    const inner = fakeRuntime(() => ({ y: { location: 'cpu', data: new Float32Array(4) } as unknown as Tensor }));
    const runtime = new CountingRuntime(inner, false);
    const session = await runtime.createSession(new Uint8Array(), []);
    await session.run(feeds);
    await session.run(feeds);
    const c = runtime.countersOf(session);
    expect(c.calls).toBe(2);
    expect(c.hostReads).toBe(2);
    expect(c.runMs).toBeGreaterThanOrEqual(0);
    expect(runtime.createSessionMs).toBeGreaterThanOrEqual(0);
  });

  it('counts a device-located output only when its data is fetched, and passes the data through', async () => {
    const runtime = new CountingRuntime(
      fakeRuntime(() => ({ y: deviceTensor() })),
      true,
    );
    const session = await runtime.createSession(new Uint8Array(), []);
    const kept = (await session.run(feeds))['y']!;
    await session.run(feeds);
    const c = runtime.countersOf(session);
    expect(c).toMatchObject({ calls: 2, hostReads: 0 });
    expect(await kept.getData()).toEqual(new Float32Array(4));
    expect(c.hostReads).toBe(1);
    expect((kept as unknown as { downloads: number }).downloads).toBe(1);
  });

  it("keeps the session's metadata and release, and resets counters", async () => {
    const runtime = new CountingRuntime(
      fakeRuntime(() => ({ y: deviceTensor() })),
      true,
    );
    const session: InferenceSession = await runtime.createSession(new Uint8Array(), []);
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputMetadata[0]).toMatchObject({ name: 'y', type: 'float32' });
    await session.run(feeds);
    runtime.reset();
    expect(runtime.countersOf(session)).toEqual({ calls: 0, runMs: 0, hostReads: 0 });
    await expect(session.release()).resolves.toBeUndefined();
  });

  it('refuses counters for a session it did not make', () => {
    const runtime = new CountingRuntime(
      fakeRuntime(() => ({ y: deviceTensor() })),
      false,
    );
    const other = stubSession([], [], () => ({}));
    expect(() => runtime.countersOf(other)).toThrow(/not created or wrapped by this CountingRuntime/);
  });
});
