// torch's float32 arithmetic as the k-diffusion and A1111 code paths here compute it: torch.linspace's
// two-sided formula, and float32 rounding after each operation.

/** Rounds to float32, as every torch float32 operation does. */
export const f32 = Math.fround;

/**
 * `torch.linspace(start, end, n)` in float32: the step is `(end - start) / (n - 1)` in float32; the first
 * half counts up from `start`, the second half down from `end` (ATen's CPU kernel).
 * @returns float32 values held in a Float64Array [n]
 */
export function linspace32(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = f32(start);
    return out;
  }
  const a = f32(start);
  const b = f32(end);
  const step = f32(f32(b - a) / (n - 1));
  const halfway = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < halfway ? f32(a + f32(step * i)) : f32(b - f32(step * (n - i - 1)));
  return out;
}

/** `torch.linspace(start, end, n, dtype=torch.float64)`. */
export function linspace64(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (n - 1);
  const halfway = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < halfway ? start + step * i : end - step * (n - i - 1);
  return out;
}
