import { buildSafetensors, f32Bytes, type TestTensor } from '../safetensors/safetensors-fixture.ts';

/** Deterministic small values (no randomness in tests). */
export function ramp(n: number, scale = 0.01, phase = 0): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + phase) * scale);
}

/** The tensors of one kohya module: down [rank, ...inShape], up [out, rank, ...1x1], optional alpha. */
export function kohyaModule(
  name: string,
  down: number[],
  up: number[],
  alpha?: number,
  phase = 0,
): Record<string, TestTensor> {
  const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const out: Record<string, TestTensor> = {
    [`${name}.lora_down.weight`]: { dtype: 'F32', shape: down, bytes: f32Bytes(ramp(count(down), 0.1, phase)) },
    [`${name}.lora_up.weight`]: { dtype: 'F32', shape: up, bytes: f32Bytes(ramp(count(up), 0.1, phase + 1)) },
  };
  if (alpha !== undefined) out[`${name}.alpha`] = { dtype: 'F32', shape: [], bytes: f32Bytes([alpha]) };
  return out;
}

export function loraFileBytes(tensors: Record<string, TestTensor>): Uint8Array<ArrayBuffer> {
  return buildSafetensors(tensors);
}
