/** A smooth synthetic test image as PNG bytes: colour ramps plus a diagonal wave set by `phase`. */
import sharp from 'sharp';

export async function gradientPng(width: number, height: number, phase: number): Promise<Uint8Array> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 3 * (y * width + x);
      raw[o] = (x * 255) / width;
      raw[o + 1] = (y * 255) / height;
      raw[o + 2] = 128 + 100 * Math.sin((x + y) / 3 + phase);
    }
  }
  return new Uint8Array(await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer());
}
