import { describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import { float, GraphBuilder } from '../../../src/core/onnx/graph-builder.ts';

type Ort = typeof ortNode;

async function loadOrtWeb(): Promise<Ort> {
  const ort = (await import('onnxruntime-web/wasm')) as unknown as Ort & { env: { wasm: { numThreads: number } } };
  ort.env.wasm.numThreads = 1;
  return ort;
}

/** x [batch, 3] → LayerNorm(x · Wᵀ + b) with W [2, 3] and b [2] read from a separate weights buffer at offsets 4 and 28. */
function linearLayerNormModel(): { model: Uint8Array; weights: Uint8Array } {
  const weights = new Uint8Array(4 + 24 + 8 + 4);
  const view = new DataView(weights.buffer);
  [1, 2, 3, -1, 0.5, 2].forEach((v, i) => view.setFloat32(4 + 4 * i, v, true));
  [0.25, -0.5].forEach((v, i) => view.setFloat32(28 + 4 * i, v, true));
  const g = new GraphBuilder('linear_layer_norm');
  const x = g.input('x', 'float32', ['batch', 3]);
  const w = g.initializer('fc.weight', 'float32', [2, 3], {
    kind: 'external',
    location: 'weights.bin',
    offset: 4,
    length: 24,
  });
  const b = g.initializer('fc.bias', 'float32', [2], {
    kind: 'external',
    location: 'weights.bin',
    offset: 28,
    length: 8,
  });
  const y = g.scope('fc', () => g.op('Add', [g.op('MatMul', [x, g.op('Transpose', [w], { perm: [1, 0] })]), b]));
  const ones = g.constant('float32', [2], [1, 1]);
  const zeros = g.constant('float32', [2], [0, 0]);
  const norm = g.op('LayerNormalization', [y, ones, zeros], { axis: -1, epsilon: float(1e-5) });
  g.output(y, 'linear', 'float32', ['batch', 2]);
  g.output(norm, 'normalized', 'float32', ['batch', 2]);
  return { model: g.toModel({ source: 'test' }), weights };
}

function expectedLinear(x: number[]): number[] {
  const w = [
    [1, 2, 3],
    [-1, 0.5, 2],
  ];
  const b = [0.25, -0.5];
  const out: number[] = [];
  for (let r = 0; r < x.length / 3; r++) {
    for (let o = 0; o < 2; o++) out.push(b[o]! + w[o]!.reduce((s, wv, i) => s + wv * x[3 * r + i]!, 0));
  }
  return out;
}

async function runLinear(
  ort: Ort,
  model: Uint8Array,
  weights: Uint8Array,
): Promise<{ linear: Float32Array; normalized: Float32Array; names: readonly string[] }> {
  const session = await ort.InferenceSession.create(model, { externalData: [{ path: 'weights.bin', data: weights }] });
  const x = [1, 0, -2, 0.5, 4, 1];
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(x), [2, 3]) });
  const names = session.outputNames;
  await session.release();
  return { linear: out['linear']!.data as Float32Array, normalized: out['normalized']!.data as Float32Array, names };
}

describe('GraphBuilder + encodeOnnxModel', () => {
  it('runs on onnxruntime-node with weights as external data from a buffer', async () => {
    const { model, weights } = linearLayerNormModel();
    const { linear, normalized, names } = await runLinear(ortNode, model, weights);
    expect(names).toEqual(['linear', 'normalized']);
    const expected = expectedLinear([1, 0, -2, 0.5, 4, 1]);
    expected.forEach((v, i) => expect(linear[i]).toBeCloseTo(v, 5));
    // layer norm of two values is ±1 (up to epsilon)
    expect(normalized[0]! * Math.sign(expected[0]! - expected[1]!)).toBeCloseTo(1, 3);
    expect(normalized[0]! + normalized[1]!).toBeCloseTo(0, 5);
  });

  it('runs on onnxruntime-web (wasm) the same way', async () => {
    const { model, weights } = linearLayerNormModel();
    const { linear } = await runLinear(await loadOrtWeb(), model, weights);
    expectedLinear([1, 0, -2, 0.5, 4, 1]).forEach((v, i) => expect(linear[i]).toBeCloseTo(v, 5));
  });

  it('encodes negative int attributes, int64 constants and symbolic dims (Reshape with 0 and -1)', async () => {
    const g = new GraphBuilder('reshape');
    const x = g.input('x', 'float32', ['batch', 'n', 6]);
    const shape = g.constant('int64', [3], [0, -1, 3]);
    const y = g.op('Reshape', [x, shape]);
    const s = g.op('ReduceSum', [y, g.constant('int64', [1], [-1])], { keepdims: 0 });
    g.output(s, 'sum', 'float32', ['batch', 'm']);
    const session = await ortNode.InferenceSession.create(g.toModel());
    expect(session.inputNames).toEqual(['x']);
    const out = await session.run({
      x: new ortNode.Tensor(
        'float32',
        Float32Array.from({ length: 12 }, (_, i) => i),
        [1, 2, 6],
      ),
    });
    expect(out['sum']!.dims).toEqual([1, 4]);
    expect([...(out['sum']!.data as Float32Array)]).toEqual([3, 12, 21, 30]);
    await session.release();
  });

  it('shares identical constants and refuses duplicate names and unmarked floats', () => {
    const g = new GraphBuilder('g');
    expect(g.constant('int64', [1], [2])).toBe(g.constant('int64', [1], [2]));
    expect(g.constant('int64', [1], [2])).not.toBe(g.constant('int32', [1], [2]));
    g.input('x', 'float32', [1]);
    expect(() => g.input('x', 'float32', [1])).toThrow(/already has a value named "x"/);
    expect(() => g.op('LeakyRelu', ['x'], { alpha: 0.1 })).toThrow(
      /Attribute "alpha" of LeakyRelu is 0.1: plain numbers are ints; wrap floats with float\(\)/,
    );
  });
});
