// Port of torch's CPU generator (`torch.Generator("cpu")`: MT19937 in aten/src/ATen/core/MT19937RNGEngine.h)
// and of `torch.randn` for float32 on CPU (normal_kernel in aten/src/ATen/native/cpu/DistributionTemplates.h).
import { SdError } from '../errors.ts';
import type { RandomSource } from './random-source.ts';

const STATE_SIZE = 624;
const SHIFT_SIZE = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/** Tensors with fewer elements than this take torch's scalar (double precision, cached pair) path. */
const VECTOR_BLOCK = 16;
const HALF_BLOCK = VECTOR_BLOCK / 2;

/** Largest seed torch's `manual_seed` takes without wrapping. */
export const MAX_SEED = (1n << 64n) - 1n;

const TWO_POW_24_INV = 1 / 0x1000000;
const TWO_POW_32 = 0x100000000;
const TWO_POW_53_INV = 1 / 2 ** 53;
/** torch's vector kernels multiply by 2π already rounded to float32. */
const TWO_PI_FLOAT = Math.fround(2 * Math.PI);

/**
 * The 32-bit Mersenne Twister exactly as torch seeds and steps it. torch keeps only the low 32 bits of
 * the 64-bit seed (Knuth's linear initialisation), so seeds that differ only above bit 31 give the
 * same stream, as they do in torch.
 */
class Mt19937 {
  private readonly state = new Uint32Array(STATE_SIZE);
  private index = STATE_SIZE;

  constructor(seed: bigint) {
    const state = this.state;
    state[0] = Number(seed & 0xffffffffn);
    for (let j = 1; j < STATE_SIZE; j++) {
      const prev = state[j - 1]!;
      state[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
  }

  /** The next 32-bit output, as an unsigned number. */
  nextUint32(): number {
    if (this.index >= STATE_SIZE) this.regenerate();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Refills the whole state block at once (the "twist"). */
  private regenerate(): void {
    const s = this.state;
    for (let k = 0; k < STATE_SIZE; k++) {
      const y = (s[k]! & UPPER_MASK) | (s[(k + 1) % STATE_SIZE]! & LOWER_MASK);
      const mag = y & 1 ? MATRIX_A : 0;
      s[k] = s[(k + SHIFT_SIZE) % STATE_SIZE]! ^ (y >>> 1) ^ mag;
    }
    this.index = 0;
  }
}

/** Number of elements of `shape`, checking each dimension is a non-negative integer. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new SdError(
        'bad-argument',
        `Bad tensor shape [${shape.join(', ')}]: dimension ${d} is not a non-negative integer. Pass whole-number sizes.`,
      );
    }
    n *= d;
  }
  return n;
}

/**
 * Checks that `seed` is a whole number in torch's seed range 0..2^64-1 and returns it as a bigint.
 * @throws SdError 'bad-argument' naming the value otherwise.
 */
export function checkSeed(seed: bigint | number): bigint {
  const value = typeof seed === 'bigint' ? seed : Number.isSafeInteger(seed) ? BigInt(seed) : -1n;
  if (value < 0n || value > MAX_SEED) {
    throw new SdError(
      'bad-argument',
      `Bad seed ${String(seed)}: a seed must be a whole number from 0 to ${MAX_SEED} (2^64-1). Pick a seed in that range.`,
    );
  }
  return value;
}

/**
 * Reproduces `torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed), dtype=torch.float32)`.
 * Successive `randn` calls continue the same stream, like reusing one torch generator; the cached second
 * Box-Muller sample of torch's scalar path is kept between calls too.
 */
export class TorchCpuGenerator implements RandomSource {
  private readonly mt: Mt19937;
  /** torch's `next_double_normal_sample`: the sine half of the last scalar Box-Muller pair, if unused. */
  private cachedNormal: number | null = null;

  /** @param seed 0..2^64-1, as accepted by `Generator.manual_seed`. */
  constructor(seed: bigint | number) {
    this.mt = new Mt19937(checkSeed(seed));
  }

  /** Standard normal float32 samples, `product(shape)` of them in row-major order. */
  randn(shape: readonly number[]): Float32Array {
    const n = shapeSize(shape);
    const out = new Float32Array(n);
    if (n < VECTOR_BLOCK) {
      for (let i = 0; i < n; i++) out[i] = this.scalarNormal();
      return out;
    }
    this.fillUniform(out, 0, n);
    for (let i = 0; i + VECTOR_BLOCK <= n; i += VECTOR_BLOCK) boxMuller16(out, i);
    if (n % VECTOR_BLOCK !== 0) {
      // torch redraws fresh uniforms for the last 16 slots (overwriting finished values) and transforms them.
      this.fillUniform(out, n - VECTOR_BLOCK, n);
      boxMuller16(out, n - VECTOR_BLOCK);
    }
    return out;
  }

  /** float32 uniforms in [0, 1): the low 24 bits of one 32-bit draw each. */
  private fillUniform(out: Float32Array, from: number, to: number): void {
    const mt = this.mt;
    for (let i = from; i < to; i++) out[i] = (mt.nextUint32() & 0xffffff) * TWO_POW_24_INV;
  }

  /** A double uniform in [0, 1) from 53 bits of two draws; the first draw supplies the high bits. */
  private uniformDouble(): number {
    const hi = this.mt.nextUint32() & 0x1fffff;
    const lo = this.mt.nextUint32();
    return (hi * TWO_POW_32 + lo) * TWO_POW_53_INV;
  }

  /** torch's `normal_distribution<double>`: Box-Muller on doubles, handing out cosine then sine. */
  private scalarNormal(): number {
    if (this.cachedNormal !== null) {
      const cached = this.cachedNormal;
      this.cachedNormal = null;
      return cached;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }
}

/**
 * torch's 16-wide float32 Box-Muller: slots 0..7 hold u1, slots 8..15 hold u2 (both uniforms in [0, 1));
 * slot j becomes r·cos θ and slot j+8 becomes r·sin θ. Each operation is rounded to float32 as torch's
 * single-precision kernel does.
 */
function boxMuller16(data: Float32Array, start: number): void {
  const f = Math.fround;
  for (let j = start; j < start + HALF_BLOCK; j++) {
    const u1 = 1 - data[j]!;
    const u2 = data[j + HALF_BLOCK]!;
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(TWO_PI_FLOAT * u2);
    data[j] = radius * f(Math.cos(theta));
    data[j + HALF_BLOCK] = radius * f(Math.sin(theta));
  }
}
