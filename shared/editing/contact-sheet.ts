/**
 * A contact sheet: frames of one size laid out left to right, top to bottom, on a grid with a
 * gap between them, as one PNG.
 */
import sharp from 'sharp';
import { chwToRgb } from '../diffusion/image/encode-png.ts';

export interface Frame {
  /** [3, height, width] in [-1, 1]. */
  pixels: Float32Array;
  width: number;
  height: number;
}

export interface ContactSheetOptions {
  /** Frames per row (default: all in one row, at most 8). */
  columns?: number;
  /** Pixels between frames and around the sheet. */
  gap?: number;
}

export async function contactSheetPng(frames: readonly Frame[], options: ContactSheetOptions = {}): Promise<Uint8Array> {
  if (frames.length === 0) throw new RangeError('a contact sheet needs at least one frame');
  const { width, height } = frames[0]!;
  if (frames.some((f) => f.width !== width || f.height !== height)) throw new RangeError(`contact sheet frames must share one size (the first is ${width}x${height})`);
  const columns = options.columns ?? Math.min(frames.length, 8);
  if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`columns must be a positive integer, got ${columns}`);
  const gap = options.gap ?? 2;
  const rows = Math.ceil(frames.length / columns);
  const sheet = sharp({
    create: { width: columns * width + (columns + 1) * gap, height: rows * height + (rows + 1) * gap, channels: 3, background: { r: 255, g: 255, b: 255 } },
  }).composite(
    frames.map((f, k) => ({
      input: Buffer.from(chwToRgb(f.pixels, width, height).buffer),
      raw: { width, height, channels: 3 as const },
      left: gap + (k % columns) * (width + gap),
      top: gap + Math.floor(k / columns) * (height + gap),
    })),
  );
  const png = await sheet.png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
