/**
 * A seeded source of standard normal samples. Draws happen in the order callers make them;
 * `randn(shape)` returns `product(shape)` float32 values, exactly as `torch.randn(shape, generator=g)`
 * (or the chosen imitation) would give them for the same generator state.
 */
export interface RandomSource {
  randn(shape: readonly number[]): Float32Array;
}
