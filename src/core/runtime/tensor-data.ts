import { Float16Array } from '@petamoriken/float16';
import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { ElementType, Runtime } from './runtime.ts';

/** float32 values → IEEE half bits, for float16 model inputs. */
export function toHalfBits(values: Float32Array): Uint16Array {
  const half = new Float16Array(values);
  return new Uint16Array(half.buffer, half.byteOffset, half.length);
}

/** IEEE half bits → float32 values. */
export function fromHalfBits(bits: Uint16Array): Float32Array {
  return Float32Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
}

/** A float tensor in the element type the model declares (float32 or float16). */
export function floatTensor(
  runtime: Runtime,
  type: ElementType,
  values: Float32Array,
  dims: readonly number[],
): Tensor {
  if (type === 'float32') return runtime.tensor('float32', values, dims);
  if (type === 'float16') return runtime.tensor('float16', toHalfBits(values), dims);
  throw new SdError('unknown-contract', `Expected a float32 or float16 input, the model declares ${type}.`);
}

/** Token ids as the model's integer type (int32 or int64). */
export function idsTensor(runtime: Runtime, type: ElementType, ids: Int32Array, dims: readonly number[]): Tensor {
  if (type === 'int32') return runtime.tensor('int32', ids, dims);
  if (type === 'int64')
    return runtime.tensor(
      'int64',
      BigInt64Array.from(ids, (v) => BigInt(v)),
      dims,
    );
  throw new SdError('unknown-contract', `Expected input_ids of type int32 or int64, the model declares ${type}.`);
}

/** A model output as float32 values (float16 outputs are widened). */
export async function readFloats(tensor: Tensor): Promise<Float32Array> {
  const data = tensor.location === 'cpu' ? tensor.data : await tensor.getData();
  if (data instanceof Float32Array) return data;
  if (tensor.type === 'float16') {
    if (data instanceof Uint16Array) return fromHalfBits(data);
    return Float32Array.from(data as ArrayLike<number>);
  }
  throw new SdError('unknown-contract', `Expected a float output, got ${tensor.type}.`);
}
