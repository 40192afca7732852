/** A model's output image (CHW float in [-1, 1]) -> PNG bytes. */
import sharp from 'sharp';

/**
 * CHW floats -> 8-bit HWC RGB: maps v to (v + 1) / 2 * 255, clamps to [0, 255] and rounds half to even (a Uint8ClampedArray
 * store), which is what diffusers' numpy_to_pil does; NaN becomes 0.
 */
export function chwToRgb(chw: Float32Array, width: number, height: number): Uint8ClampedArray {
  const plane = width * height;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image: width and height must be positive integers, got ${width}x${height}`);
  }
  if (chw.length !== 3 * plane) {
    throw new RangeError(`image: expected 3 * ${height} * ${width} = ${3 * plane} values (CHW), got ${chw.length}`);
  }
  const rgb = new Uint8ClampedArray(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) rgb[3 * p + c] = ((chw[c * plane + p]! + 1) / 2) * 255;
  }
  return rgb;
}

export async function encodePng(chw: Float32Array, width: number, height: number): Promise<Uint8Array> {
  const rgb = chwToRgb(chw, width, height);
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
