import type { InferenceSession, Tensor } from 'onnxruntime-common';

/** One declared float32 input or output of a stand-in session. */
export interface StubValue {
  name: string;
  type: 'float32' | 'int32';
  shape: readonly (number | string)[];
}

/**
 * A stand-in for a model the benchmark does not have (the text encoder next to a bare UNet graph):
 * it declares the given inputs and outputs, so the pipeline's contract checks accept it, and answers
 * `run` with whatever `produce` computes on the CPU. Only `run`, `release` and the metadata are used
 * by the pipeline.
 */
export function stubSession(
  inputs: readonly StubValue[],
  outputs: readonly StubValue[],
  produce: (feeds: Record<string, Tensor>) => Record<string, Tensor>,
): InferenceSession {
  const meta = (values: readonly StubValue[]): InferenceSession.ValueMetadata[] =>
    values.map((v) => ({ name: v.name, isTensor: true, type: v.type, shape: [...v.shape] }));
  const session = {
    inputNames: inputs.map((v) => v.name),
    outputNames: outputs.map((v) => v.name),
    inputMetadata: meta(inputs),
    outputMetadata: meta(outputs),
    async run(feeds: Record<string, Tensor>) {
      return produce(feeds);
    },
    async release() {},
    startProfiling() {},
    endProfiling() {},
  };
  return session as unknown as InferenceSession;
}
