/**
 * OpenCV's `cv2.Canny(image, low, high)` (imgproc/src/canny.cpp: aperture 3, L1 gradient), bit for
 * bit on 8-bit RGB: 3×3 Sobel derivatives with replicated borders, per pixel the channel with the
 * largest |dx| + |dy| (the first on ties), non-maximum suppression with OpenCV's fixed-point
 * tan(22.5°) test, then hysteresis from the pixels above `high` through 8-connected pixels above
 * `low`. Rows and columns outside the image count as magnitude 0 and are never edges.
 */

/** tan(22.5°) in OpenCV's 15-bit fixed point. */
const TG22 = 13573;

/**
 * @param rgb 8-bit RGB, row-major [height, width, 3]
 * @param low lower hysteresis threshold; `high` the upper one (swapped when low > high, floored as OpenCV does)
 * @returns the edge map, one byte per pixel [height, width]: 255 on edges, else 0
 */
export function canny(rgb: Uint8Array, width: number, height: number, low: number, high: number): Uint8Array {
  if (low > high) [low, high] = [high, low];
  const lo = Math.floor(low);
  const hi = Math.floor(high);
  const n = width * height;
  const dx = new Int32Array(n);
  const dy = new Int32Array(n);
  const mag = new Int32Array(n);
  const clampX = (x: number): number => (x < 0 ? 0 : x >= width ? width - 1 : x);
  const clampY = (y: number): number => (y < 0 ? 0 : y >= height ? height - 1 : y);
  for (let y = 0; y < height; y++) {
    const up = clampY(y - 1) * width;
    const mid = y * width;
    const down = clampY(y + 1) * width;
    for (let x = 0; x < width; x++) {
      const l = clampX(x - 1);
      const r = clampX(x + 1);
      let best = -1;
      for (let c = 0; c < 3; c++) {
        const p = (row: number, col: number): number => rgb[(row + col) * 3 + c] as number;
        const gx = p(up, r) - p(up, l) + 2 * (p(mid, r) - p(mid, l)) + p(down, r) - p(down, l);
        const gy = p(down, l) - p(up, l) + 2 * (p(down, x) - p(up, x)) + p(down, r) - p(up, r);
        const m = Math.abs(gx) + Math.abs(gy);
        if (m > best) {
          best = m;
          dx[mid + x] = gx;
          dy[mid + x] = gy;
        }
      }
      mag[mid + x] = best;
    }
  }

  // map: 0 = maybe edge (weak), 1 = not an edge, 2 = edge; a 1-pixel border of 1s around the image
  const mw = width + 2;
  const map = new Uint8Array(mw * (height + 2)).fill(1);
  const stack: number[] = [];
  const magAt = (x: number, y: number): number =>
    x < 0 || x >= width || y < 0 || y >= height ? 0 : (mag[y * width + x] as number);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const m = mag[i] as number;
      if (m <= lo) continue;
      const xs = dx[i] as number;
      const ys = dy[i] as number;
      const ax = Math.abs(xs);
      const ay = Math.abs(ys) * 32768;
      const tg22x = ax * TG22;
      let isMax: boolean;
      if (ay < tg22x) {
        isMax = m > magAt(x - 1, y) && m >= magAt(x + 1, y);
      } else {
        const tg67x = tg22x + ax * 65536;
        if (ay > tg67x) isMax = m > magAt(x, y - 1) && m >= magAt(x, y + 1);
        else {
          const s = xs < 0 !== ys < 0 ? -1 : 1;
          isMax = m > magAt(x - s, y - 1) && m > magAt(x + s, y + 1);
        }
      }
      if (!isMax) continue;
      const at = (y + 1) * mw + x + 1;
      if (m > hi) {
        map[at] = 2;
        stack.push(at);
      } else map[at] = 0;
    }
  }

  const neighbours = [-mw - 1, -mw, -mw + 1, -1, 1, mw - 1, mw, mw + 1];
  while (stack.length > 0) {
    const at = stack.pop()!;
    for (const d of neighbours) {
      if (map[at + d] === 0) {
        map[at + d] = 2;
        stack.push(at + d);
      }
    }
  }
  const edges = new Uint8Array(n);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) edges[y * width + x] = map[(y + 1) * mw + x + 1] === 2 ? 255 : 0;
  return edges;
}
