/** Frames of one size as a looping animated WebP (lossless, so each frame keeps its pixels). */
import sharp from 'sharp';
import { chwToRgb } from '../diffusion/image/encode-png.ts';
import type { Frame } from './contact-sheet.ts';

export async function animatedWebp(frames: readonly Frame[], delayMs = 120): Promise<Uint8Array> {
  if (frames.length === 0) throw new RangeError('an animation needs at least one frame');
  const { width, height } = frames[0]!;
  if (frames.some((f) => f.width !== width || f.height !== height)) throw new RangeError(`animation frames must share one size (the first is ${width}x${height})`);
  if (!Number.isInteger(delayMs) || delayMs < 1) throw new RangeError(`delay must be a positive whole number of milliseconds, got ${delayMs}`);
  // sharp reads an animation as one strip of frames stacked vertically, pageHeight apart.
  const strip = Buffer.alloc(frames.length * 3 * width * height);
  frames.forEach((f, k) => strip.set(chwToRgb(f.pixels, width, height), k * 3 * width * height));
  const webp = await sharp(strip, { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } })
    .webp({ lossless: true, loop: 0, delay: frames.map(() => delayMs) })
    .toBuffer();
  return new Uint8Array(webp.buffer, webp.byteOffset, webp.byteLength);
}
