/**
 * Adds `scale · up @ down` to a weight in place, as AUTOMATIC1111's `rebuild_conventional`
 * (extensions-builtin/Lora/lyco_helpers.py) builds a LoRA's update: `up` reshaped to
 * `[out, rank]`, `down` to `[rank, rest]`, the product `[out, rest]` reshaped to the weight. `rest`
 * is `in` for linear layers and 1x1 convolutions, `in · k · k` for LoCon's k x k convolutions (the
 * down kernel carries the spatial extent, up is 1x1). Accumulates in float64 per element, then
 * rounds once into the float32 weight.
 * @param weight Float32Array [out · rest], row-major: the weight to patch.
 * @param up Float32Array [out · rank]
 * @param down Float32Array [rank · rest]
 * @param scale multiplier · alpha / rank
 */
export function addLoraDelta(
  weight: Float32Array,
  up: Float32Array,
  down: Float32Array,
  rank: number,
  scale: number,
): void {
  const rest = down.length / rank;
  const out = up.length / rank;
  if (!Number.isInteger(rest) || !Number.isInteger(out) || out * rest !== weight.length) {
    throw new RangeError(
      `LoRA factors up [${out}·${rank}] and down [${rank}·${rest}] do not make a weight of ${weight.length} elements.`,
    );
  }
  const row = new Float64Array(rest);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let r = 0; r < rank; r++) {
      const u = up[o * rank + r]!;
      if (u === 0) continue;
      const d = r * rest;
      for (let i = 0; i < rest; i++) row[i]! += u * down[d + i]!;
    }
    const w = o * rest;
    for (let i = 0; i < rest; i++) weight[w + i] = weight[w + i]! + scale * row[i]!;
  }
}

/** Whether LoRA factors of these shapes can patch a weight of `shape` (same output and element count). */
export function fitsWeight(up: readonly number[], down: readonly number[], shape: readonly number[]): boolean {
  const count = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const rank = down[0] ?? 0;
  return (
    rank > 0 &&
    up[0] === shape[0] &&
    count(up) / rank === shape[0] &&
    (count(up) / rank) * (count(down) / rank) === count(shape)
  );
}
