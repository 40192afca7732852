/**
 * Mean structural similarity as scikit-image's structural_similarity computes it with
 * gaussian_weights=True, sigma=1.5, use_sample_covariance=False and the data range given:
 * Gaussian-weighted local statistics (kernel truncated at 3.5 sigma, an 11x11 window, borders
 * mirrored half-sample as scipy's 'reflect'), K1 = 0.01, K2 = 0.03, the SSIM map averaged
 * after cropping the 5-pixel border, and the channels' results averaged. Computed in float64.
 */
import { type PixelImage, assertSameShape, channelPlanes } from './pixel-image.ts';

const SIGMA = 1.5;
const RADIUS = Math.trunc(3.5 * SIGMA + 0.5);
const WINDOW = 2 * RADIUS + 1;
const K1 = 0.01;
const K2 = 0.03;

const KERNEL = (() => {
  const weights = Array.from({ length: WINDOW }, (_, k) => Math.exp((-0.5 * (k - RADIUS) ** 2) / (SIGMA * SIGMA)));
  const total = weights.reduce((s, w) => s + w, 0);
  return Float64Array.from(weights, (w) => w / total);
})();

/** scipy's 'reflect' mode: d c b a | a b c d | d c b a, repeated for short axes. */
function reflect(i: number, n: number): number {
  const m = ((i % (2 * n)) + 2 * n) % (2 * n);
  return m < n ? m : 2 * n - 1 - m;
}

function gaussianFilter(plane: Float64Array, width: number, height: number): Float64Array {
  const vertical = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -RADIUS; k <= RADIUS; k++) acc += KERNEL[k + RADIUS]! * plane[reflect(y + k, height) * width + x]!;
      vertical[y * width + x] = acc;
    }
  }
  const out = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -RADIUS; k <= RADIUS; k++) acc += KERNEL[k + RADIUS]! * vertical[row + reflect(x + k, width)]!;
      out[row + x] = acc;
    }
  }
  return out;
}

function planeSsim(x: Float64Array, y: Float64Array, width: number, height: number, dataRange: number): number {
  const product = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]!);
  const ux = gaussianFilter(x, width, height);
  const uy = gaussianFilter(y, width, height);
  const uxx = gaussianFilter(product(x, x), width, height);
  const uyy = gaussianFilter(product(y, y), width, height);
  const uxy = gaussianFilter(product(x, y), width, height);
  const c1 = (K1 * dataRange) ** 2;
  const c2 = (K2 * dataRange) ** 2;
  let sum = 0;
  for (let row = RADIUS; row < height - RADIUS; row++) {
    for (let col = RADIUS; col < width - RADIUS; col++) {
      const i = row * width + col;
      const mx = ux[i]!;
      const my = uy[i]!;
      const vx = uxx[i]! - mx * mx;
      const vy = uyy[i]! - my * my;
      const vxy = uxy[i]! - mx * my;
      sum += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
  }
  return sum / ((height - 2 * RADIUS) * (width - 2 * RADIUS));
}

export function ssim(a: PixelImage, b: PixelImage, dataRange: number): number {
  assertSameShape(a, b, 'ssim');
  if (!(dataRange > 0)) throw new RangeError(`ssim: dataRange must be positive (255 for 8-bit pixels, 1 for [0, 1]), got ${dataRange}`);
  if (a.width < WINDOW || a.height < WINDOW) {
    throw new RangeError(`ssim: images must be at least ${WINDOW}x${WINDOW} for the Gaussian window, got ${a.width}x${a.height}`);
  }
  const xs = channelPlanes(a);
  const ys = channelPlanes(b);
  const perChannel = xs.map((x, c) => planeSsim(x, ys[c]!, a.width, a.height, dataRange));
  return perChannel.reduce((s, v) => s + v, 0) / perChannel.length;
}
