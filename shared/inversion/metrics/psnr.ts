import { type PixelImage, assertSameShape } from './pixel-image.ts';

/** Peak signal-to-noise ratio in dB, 10 log10(dataRange^2 / MSE); Infinity for identical images. */
export function psnr(a: PixelImage, b: PixelImage, dataRange: number): number {
  assertSameShape(a, b, 'psnr');
  if (!(dataRange > 0)) throw new RangeError(`psnr: dataRange must be positive (255 for 8-bit pixels, 1 for [0, 1]), got ${dataRange}`);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i]! - b.data[i]!;
    sum += d * d;
  }
  const mse = sum / a.data.length;
  return mse === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / mse);
}
