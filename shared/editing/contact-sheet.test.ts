import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { animatedWebp } from './animated-webp.ts';
import { contactSheetPng, type Frame } from './contact-sheet.ts';

/** A flat frame of one gray level (v in [-1, 1]). */
function flat(v: number, width = 6, height = 4): Frame {
  return { pixels: new Float32Array(3 * width * height).fill(v), width, height };
}

describe('contact sheet and animation', () => {
  it('lays frames out on a grid with gaps, left to right then down', async () => {
    const frames = [flat(-1), flat(0), flat(1)];
    const png = await contactSheetPng(frames, { columns: 2, gap: 1 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([2 * 6 + 3, 2 * 4 + 3]);
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels]!;
    expect(at(1, 1)).toBe(0); // frame 0 (black), top left
    expect(at(8, 1)).toBe(128); // frame 1, top right: (0 + 1) / 2 * 255 = 127.5, rounded to even
    expect(at(1, 6)).toBe(255); // frame 2 (white), next row
    expect(at(0, 0)).toBe(255); // gap
    expect(at(8, 6)).toBe(255); // empty cell
  });

  it('refuses frames of mixed sizes and an empty list', async () => {
    await expect(contactSheetPng([flat(0), flat(0, 4, 4)])).rejects.toThrow(/must share one size \(the first is 6x4\)/);
    await expect(contactSheetPng([])).rejects.toThrow(/at least one frame/);
    await expect(animatedWebp([flat(0), flat(0, 4, 4)])).rejects.toThrow(/must share one size/);
  });

  it('writes a looping animated WebP with one page per frame, pixels kept', async () => {
    const webp = await animatedWebp([flat(-1), flat(1), flat(0)], 80);
    const meta = await sharp(webp, { animated: true }).metadata();
    expect(meta).toMatchObject({ format: 'webp', pages: 3, pageHeight: 4, width: 6, loop: 0, delay: [80, 80, 80] });
    const { data } = await sharp(webp, { page: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBe(255);
  });
});
