import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_INPUT_PIXELS, ImageInputError, decodeImage } from './decode-image.ts';
import { encodePng } from './encode-png.ts';
import { prepareImage, targetSize } from './prepare-image.ts';

const raw = (pixels: number[], width: number, height: number, channels: 1 | 2 | 3 | 4) =>
  sharp(Buffer.from(pixels), { raw: { width, height, channels } });

function pixel(image: { width: number; rgb: Uint8Array }, x: number, y: number): number[] {
  const at = 3 * (y * image.width + x);
  return Array.from(image.rgb.subarray(at, at + 3));
}

async function errorOf(promise: Promise<unknown>): Promise<ImageInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageInputError);
  return error as ImageInputError;
}

function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A valid PNG whose IHDR claims width x height: the header of a decompression bomb. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await raw([1, 2, 3], 1, 1, 3).png().toBuffer());
  // Signature (8), IHDR length (4), 'IHDR' (4), then width and height; the CRC covers type + data.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

describe('decodeImage', () => {
  it('decodes RGB PNG, JPEG and WebP to 8-bit RGB', async () => {
    const pixels = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const bytes = await raw(pixels, 2, 2, 3).toFormat(format, { quality: 100 }).toBuffer();
      const image = await decodeImage(bytes, `x.${format}`);
      expect([image.width, image.height, image.rgb.length]).toEqual([2, 2, 12]);
      if (format === 'png') expect(Array.from(image.rgb)).toEqual(pixels);
    }
  });

  it('replicates grayscale into three channels', async () => {
    const bytes = await raw([10, 20, 30, 40], 2, 2, 1).toColourspace('b-w').png().toBuffer();
    expect((await sharp(bytes).metadata()).channels).toBe(1);
    const image = await decodeImage(bytes, 'gray.png');
    expect(pixel(image, 1, 0)).toEqual([20, 20, 20]);
    expect(pixel(image, 1, 1)).toEqual([40, 40, 40]);
  });

  it('composites alpha onto white', async () => {
    const rgba = await raw([200, 100, 50, 0, 200, 100, 50, 255, 200, 100, 50, 128, 0, 0, 0, 64], 4, 1, 4).png().toBuffer();
    const image = await decodeImage(rgba, 'rgba.png');
    expect(pixel(image, 0, 0)).toEqual([255, 255, 255]);
    expect(pixel(image, 1, 0)).toEqual([200, 100, 50]);
    pixel(image, 2, 0).forEach((v, c) => expect(Math.abs(v - ([200, 100, 50][c]! * 128 + 255 * 127) / 255)).toBeLessThanOrEqual(1));
    pixel(image, 3, 0).forEach((v) => expect(Math.abs(v - (255 * 191) / 255)).toBeLessThanOrEqual(1));

    const grayAlpha = await raw([0, 0, 0, 255], 2, 1, 2).toColourspace('b-w').png().toBuffer();
    const flattened = await decodeImage(grayAlpha, 'gray-alpha.png');
    expect([pixel(flattened, 0, 0), pixel(flattened, 1, 0)]).toEqual([[255, 255, 255], [0, 0, 0]]);
  });

  it('scales 16-bit samples to 8 bits', async () => {
    const samples = new Uint16Array([0, 0, 0, 65535, 65535, 65535, 0x4000, 0x8000, 0xc000]);
    const bytes = await sharp(samples, { raw: { width: 3, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(bytes).metadata()).depth).toBe('ushort');
    const image = await decodeImage(bytes, 'deep.png');
    expect(pixel(image, 0, 0)).toEqual([0, 0, 0]);
    expect(pixel(image, 1, 0)).toEqual([255, 255, 255]);
    pixel(image, 2, 0).forEach((v, c) => expect(Math.abs(v - [64, 128, 192][c]!)).toBeLessThanOrEqual(1));
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const bytes = await raw(Array(16 * 3).fill(0).map((_, i) => [220, 40, 40][i % 3]!), 4, 4, 3).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(bytes).metadata()).space).toBe('cmyk');
    const [r, g, b] = pixel(await decodeImage(bytes, 'print.jpg'), 1, 1);
    expect(r).toBeGreaterThan(150);
    expect(g).toBeLessThan(110);
    expect(b).toBeLessThan(110);
  });

  it('applies EXIF orientation', async () => {
    // Stored 4x2 with the left half red; orientation 6 displays it rotated 90 degrees clockwise.
    const stored = [...Array(8)].flatMap((_, i) => (i % 4 < 2 ? [255, 0, 0] : [0, 0, 255]));
    const bytes = await raw(stored, 4, 2, 3).png().withMetadata({ orientation: 6 }).toBuffer();
    const image = await decodeImage(bytes, 'rotated.png');
    expect([image.width, image.height]).toEqual([2, 4]);
    expect(pixel(image, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(image, 1, 3)).toEqual([0, 0, 255]);
  });

  it('refuses a header claiming too many pixels before decoding', async () => {
    const bomb = await pngClaiming(100_000, 100_000);
    const error = await errorOf(decodeImage(bomb, 'bomb.png'));
    expect(error.source).toBe('bomb.png');
    expect(error.message).toContain(`100000x100000 = 10000000000 pixels exceeds the limit of ${DEFAULT_MAX_INPUT_PIXELS}`);

    const small = await raw(Array(10 * 10 * 3).fill(7), 10, 10, 3).png().toBuffer();
    expect((await errorOf(decodeImage(small, 'small.png', { maxInputPixels: 99 }))).message).toContain('exceeds the limit of 99');
    expect((await decodeImage(small, 'small.png', { maxInputPixels: 100 })).width).toBe(10);
  });

  it('names the source and what was expected for bad input', async () => {
    const empty = await errorOf(decodeImage(new Uint8Array(0), 'empty.png'));
    expect(empty.message).toMatch(/^empty\.png: the file is empty \(0 bytes\); expected a PNG, JPEG/);

    const text = await errorOf(decodeImage(Buffer.from('just some notes, not a picture\n'), 'notes.txt'));
    expect(text.message).toMatch(/^notes\.txt: not a readable image .*; expected a PNG, JPEG/);

    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    expect((await errorOf(decodeImage(svg, 'vector.svg'))).message).toContain('svg input is not accepted');

    const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251));
    const png = await raw(Array.from(noise), 64, 64, 3).png({ compressionLevel: 0 }).toBuffer();
    const truncated = await errorOf(decodeImage(png.subarray(0, png.length / 2), 'cut.png'));
    expect(truncated.message).toMatch(/^cut\.png: .*(truncated|corrupt|readable)/);
  });
});

describe('targetSize', () => {
  const sd15 = { default: 512, multipleOf: 64, maxPixels: 512 * 768 };

  it('keeps a fixed size', () => {
    expect(targetSize(1000, 10, { width: 64, height: 32 })).toEqual({ width: 64, height: 32 });
  });

  it('scales the shorter side to the default and fits the area', () => {
    expect(targetSize(512, 512, sd15)).toEqual({ width: 512, height: 512 });
    expect(targetSize(1024, 768, sd15)).toEqual({ width: 640, height: 512 });
    expect(targetSize(768, 1024, sd15)).toEqual({ width: 512, height: 640 });
    expect(targetSize(1920, 1080, sd15)).toEqual({ width: 768, height: 512 });
    expect(targetSize(100, 50, sd15)).toEqual({ width: 768, height: 512 });
  });
});

describe('prepareImage and encodePng', () => {
  it('resizes the shorter side, center-crops and scales to [-1, 1] CHW', async () => {
    // 64x32: left quarter red, middle half green, right quarter blue; the 32x32 center is green.
    const pixels = [...Array(64 * 32)].flatMap((_, i) => (i % 64 < 16 ? [255, 0, 0] : i % 64 < 48 ? [0, 255, 0] : [0, 0, 255]));
    const image = await decodeImage(await raw(pixels, 64, 32, 3).png().toBuffer(), 'stripes.png');
    const prepared = await prepareImage(image, { width: 16, height: 16 });
    expect([prepared.width, prepared.height, prepared.chw.length]).toEqual([16, 16, 3 * 256]);
    const at = (c: number, y: number, x: number) => prepared.chw[c * 256 + y * 16 + x]!;
    expect([at(0, 8, 8), at(1, 8, 8), at(2, 8, 8)].map((v) => Math.round(v * 100) / 100)).toEqual([-1, 1, -1]);
    expect(Math.min(...prepared.chw)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...prepared.chw)).toBeLessThanOrEqual(1);
  });

  it('round-trips 8-bit pixels exactly through CHW floats and PNG', async () => {
    const pixels = Array.from({ length: 8 * 6 * 3 }, (_, i) => (i * 37 + 11) % 256);
    const image = await decodeImage(await raw(pixels, 8, 6, 3).png().toBuffer(), 'in.png');
    const prepared = await prepareImage(image, { width: 8, height: 6 });
    const png = await encodePng(prepared.chw, 8, 6);
    const back = await decodeImage(png, 'out.png');
    expect(Array.from(back.rgb)).toEqual(pixels);
  });

  it('clamps out-of-range values and rounds half to even', async () => {
    // Pixel values: -2 -> 0, 2 -> 255, NaN -> 0, 0 -> 127.5 -> 128.
    const chw = new Float32Array([-2, 2, Number.NaN, 0, -2, 2, Number.NaN, 0, -2, 2, Number.NaN, 0]);
    const back = await decodeImage(await encodePng(chw, 4, 1), 'clamped.png');
    expect(Array.from(back.rgb)).toEqual([0, 0, 0, 255, 255, 255, 0, 0, 0, 128, 128, 128]);
  });

  it('names the expected length when the CHW buffer does not match the size', async () => {
    await expect(encodePng(new Float32Array(10), 2, 2)).rejects.toThrow('expected 3 * 2 * 2 = 12 values (CHW), got 10');
  });
});
