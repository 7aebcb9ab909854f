// Port of AUTOMATIC1111's "NV" RNG (modules/rng_philox.py): Philox 4x32-10 plus Box-Muller, imitating
// torch.randn on CUDA so that "GPU" seeds give the same images without a GPU generator.
import type { RandomSource } from './random-source.ts';
import { checkSeed, shapeSize } from './torch-cpu-generator.ts';

const ROUNDS = 10;
const MUL_0 = 0xd2511f53;
const MUL_1 = 0xcd9e8d57;
const KEY_STEP_0 = 0x9e3779b9;
const KEY_STEP_1 = 0xbb67ae85;

// A1111 keeps these scales as float32 and does the rest of Box-Muller in float64.
const UNIT_SCALE = Math.fround(2.3283064e-10);
const ANGLE_SCALE = Math.fround(2.3283064e-10 * 6.2831855);

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers, exact in doubles via 16-bit halves. */
function mulHi32(a: number, b: number): number {
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const bHi = b >>> 16;
  const bLo = b & 0xffff;
  const low = aLo * bLo;
  const mid = aHi * bLo + aLo * bHi + Math.floor(low / 0x10000);
  return (aHi * bHi + Math.floor(mid / 0x10000)) >>> 0;
}

/**
 * A1111's Philox generator: `randn(shape)` draws element i from counter (offset, 0, i, 0) under the
 * 64-bit seed as key, keeps the first two output words and returns one Box-Muller sample from them.
 * Each call advances the offset by one, whatever its size.
 */
export class PhiloxGenerator implements RandomSource {
  private readonly keyLo: number;
  private readonly keyHi: number;
  private offset = 0;

  /** @param seed 0..2^64-1; its low and high 32-bit words form the Philox key. */
  constructor(seed: bigint | number) {
    const s = checkSeed(seed);
    this.keyLo = Number(s & 0xffffffffn);
    this.keyHi = Number(s >> 32n);
  }

  /** Standard normal float32 samples, `product(shape)` of them in row-major order. */
  randn(shape: readonly number[]): Float32Array {
    const n = shapeSize(shape);
    const out = new Float32Array(n);
    const offset = this.offset >>> 0;
    this.offset++;
    for (let i = 0; i < n; i++) {
      // Counter words c0..c3 and key words k0, k1, all unsigned 32-bit.
      let c0 = offset;
      let c1 = 0;
      let c2 = i >>> 0;
      let c3 = 0;
      let k0 = this.keyLo;
      let k1 = this.keyHi;
      for (let round = 0; round < ROUNDS; round++) {
        const hi0 = mulHi32(c0, MUL_0);
        const lo0 = Math.imul(c0, MUL_0) >>> 0;
        const hi1 = mulHi32(c2, MUL_1);
        const lo1 = Math.imul(c2, MUL_1) >>> 0;
        c0 = (hi1 ^ c1 ^ k0) >>> 0;
        c1 = lo1;
        c2 = (hi0 ^ c3 ^ k1) >>> 0;
        c3 = lo0;
        k0 = (k0 + KEY_STEP_0) >>> 0;
        k1 = (k1 + KEY_STEP_1) >>> 0;
      }
      // Shift the integers to the centres of 2^32 bins so neither the log nor the angle sees zero.
      const u = c0 * UNIT_SCALE + UNIT_SCALE / 2;
      const v = c1 * ANGLE_SCALE + ANGLE_SCALE / 2;
      out[i] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
    }
    return out;
  }
}
