/**
 * Pillow's `Image.resize(size, Image.LANCZOS)` on 8-bit images, to the last bit: what diffusers'
 * `VaeImageProcessor.resize` does (its default `resample` is "lanczos") to an init image or a
 * ControlNet control image whose size differs from the generation size.
 *
 * The algorithm is Pillow's separable resampling: per output pixel, the weights of a Lanczos-3 window
 * stretched by the scale when shrinking, normalised to sum 1, then turned into fixed-point integers
 * with 22 fractional bits; the rows are resampled first (rounded and clipped to 8 bits), then the
 * columns.
 */

/** Fractional bits of the fixed-point weights (Pillow's `PRECISION_BITS`: 32 − 8 − 2). */
const PRECISION_BITS = 22;
/** Half-width of the Lanczos window, in source pixels at scale 1. */
const SUPPORT = 3;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

/** The Lanczos-3 kernel: sinc(x) · sinc(x / 3) on [−3, 3), else 0. */
function lanczos(x: number): number {
  return x >= -SUPPORT && x < SUPPORT ? sinc(x) * sinc(x / SUPPORT) : 0;
}

/** For each output position along one axis: the first source index, the tap count and the fixed-point weights. */
interface AxisCoefficients {
  first: Int32Array;
  count: Int32Array;
  /** `taps` weights per output position (unused taps are 0). */
  weights: Int32Array;
  taps: number;
}

function axisCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = SUPPORT * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const row = new Float64Array(taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    // C's (int) cast truncates toward zero, then the bounds are clamped to the image
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let sum = 0;
    for (let t = 0; t < n; t++) {
      const w = lanczos((t + lo - center + 0.5) / filterScale);
      row[t] = w;
      sum += w;
    }
    for (let t = 0; t < n; t++) {
      const w = sum === 0 ? (row[t] as number) : (row[t] as number) / sum;
      const scaled = w * (1 << PRECISION_BITS);
      weights[o * taps + t] = Math.trunc(w < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, taps };
}

/** A fixed-point sum (with its rounding half already added) → one 8-bit level. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resamples `channels`-interleaved 8-bit pixels along one axis. `stride` steps between neighbours on
 * that axis, `lineStride` between lines; `lines` lines of `inSize` → `outSize` pixels.
 */
function resampleAxis(
  src: Uint8Array,
  coefficients: AxisCoefficients,
  geometry: {
    lines: number;
    outSize: number;
    channels: number;
    inStep: number;
    inLine: number;
    outStep: number;
    outLine: number;
  },
): Uint8Array {
  const { lines, outSize, channels, inStep, inLine, outStep, outLine } = geometry;
  const { first, count, weights, taps } = coefficients;
  const out = new Uint8Array(lines * outSize * channels);
  const half = 1 << (PRECISION_BITS - 1);
  for (let line = 0; line < lines; line++) {
    for (let o = 0; o < outSize; o++) {
      const lo = first[o] as number;
      const n = count[o] as number;
      const k = o * taps;
      for (let c = 0; c < channels; c++) {
        let acc = half;
        let at = line * inLine + lo * inStep + c;
        // products stay below 2^31 and the sum of |weights| is a few units of 2^22: exact in doubles
        for (let t = 0; t < n; t++, at += inStep) acc += (src[at] as number) * (weights[k + t] as number);
        out[line * outLine + o * outStep + c] = clip8(acc);
      }
    }
  }
  return out;
}

/**
 * Resizes interleaved 8-bit pixels (`channels` per pixel, row-major) as Pillow's LANCZOS does: rows
 * first, then columns; an axis whose size does not change is left untouched, as in Pillow.
 */
export function lanczosResize(
  pixels: Uint8Array,
  width: number,
  height: number,
  toWidth: number,
  toHeight: number,
  channels = 3,
): Uint8Array {
  let image = pixels;
  if (toWidth !== width) {
    image = resampleAxis(image, axisCoefficients(width, toWidth), {
      lines: height,
      outSize: toWidth,
      channels,
      inStep: channels,
      inLine: width * channels,
      outStep: channels,
      outLine: toWidth * channels,
    });
  }
  if (toHeight !== height) {
    image = resampleAxis(image, axisCoefficients(height, toHeight), {
      lines: toWidth,
      outSize: toHeight,
      channels,
      inStep: toWidth * channels,
      inLine: channels,
      outStep: toWidth * channels,
      outLine: channels,
    });
  }
  return image === pixels ? pixels.slice() : image;
}
