import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { latentRmse } from './latent-rmse.ts';
import type { PixelImage } from './pixel-image.ts';
import { psnr } from './psnr.ts';
import { ssim } from './ssim.ts';

interface Case {
  name: string;
  a: string;
  b: string;
  height: number;
  width: number;
  channels: number;
  dataRange: number;
  ssim: number;
  psnr: number | null;
}

const testdata = join(import.meta.dirname, 'testdata');
const { cases } = JSON.parse(readFileSync(join(testdata, 'expected.json'), 'utf8')) as { cases: Case[] };

async function load(file: string, c: Case): Promise<PixelImage> {
  const bytes = readFileSync(join(testdata, file));
  if (file.endsWith('.f32')) {
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return { width: c.width, height: c.height, channels: c.channels, data };
  }
  // sharp expands grayscale to RGB on output; the first channel holds the stored values.
  const decoder = c.channels === 1 ? sharp(bytes).extractChannel(0) : sharp(bytes);
  const { data, info } = await decoder.raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([c.width, c.height, c.channels]);
  return { width: info.width, height: info.height, channels: info.channels, data };
}

function toChw(image: PixelImage): PixelImage {
  const size = image.width * image.height;
  const data = new Float64Array(image.data.length);
  for (let p = 0; p < size; p++) for (let c = 0; c < image.channels; c++) data[c * size + p] = image.data[p * image.channels + c]!;
  return { ...image, data, layout: 'chw' };
}

describe('ssim and psnr against scikit-image', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const [a, b] = await Promise.all([load(c.a, c), load(c.b, c)]);
    expect(Math.abs(ssim(a, b, c.dataRange) - c.ssim)).toBeLessThan(1e-6);
    expect(Math.abs(ssim(toChw(a), toChw(b), c.dataRange) - c.ssim)).toBeLessThan(1e-6);
    if (c.psnr === null) expect(psnr(a, b, c.dataRange)).toBe(Infinity);
    else expect(Math.abs(psnr(a, b, c.dataRange) - c.psnr)).toBeLessThan(1e-6);
  });

  it('covers RGB, grayscale, 8-bit and [0, 1] float inputs', () => {
    expect(new Set(cases.map((c) => c.channels))).toEqual(new Set([1, 3]));
    expect(new Set(cases.map((c) => c.dataRange))).toEqual(new Set([1, 255]));
  });
});

describe('metric input checks', () => {
  const image = (width: number, height: number, channels = 3): PixelImage => ({
    width,
    height,
    channels,
    data: new Uint8Array(width * height * channels),
  });

  it('rejects mismatched shapes, wrong buffer sizes, small images and bad ranges', () => {
    expect(() => ssim(image(16, 16), image(16, 17), 255)).toThrow('images differ in shape, 16x16x3 vs 17x16x3');
    expect(() => psnr({ ...image(4, 4), data: new Uint8Array(5) }, image(4, 4), 255)).toThrow('the first image has 5 values, expected 4x4x3 = 48');
    expect(() => ssim(image(10, 16), image(10, 16), 255)).toThrow('at least 11x11');
    expect(() => psnr(image(4, 4), image(4, 4), 0)).toThrow('dataRange must be positive');
  });

  it('latentRmse is the root mean squared difference', () => {
    expect(latentRmse(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 2, 3, 0]))).toBeCloseTo(2, 12);
    expect(latentRmse([0.5], [0.5])).toBe(0);
    expect(() => latentRmse(new Float32Array(3), new Float32Array(4))).toThrow('latents differ in size, 3 vs 4 values');
  });
});
