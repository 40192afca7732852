/**
 * Interpolation between two held-out photographs inverted with the bundled model: the end frames
 * are the two reconstructions, the frames between are images, and slerp keeps the statistics of
 * the noise latents the sampler expects.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getModel } from '../../models/registry.ts';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { chwToRgb, encodePng } from '../diffusion/image/encode-png.ts';
import type { InversionParams } from '../inversion/invert-images.ts';
import { checkInterpolable, interpolate } from './interpolate.ts';
import type { InvertedLatent } from './inverted-latent.ts';
import { latentPath } from './latent-path.ts';
import { invertForRender, type InvertedForRender } from './testing/invert-for-render.ts';

const tiny = getModel('tiny');
// Square, so both photographs come out at one size.
const params: InversionParams = { model: 'tiny', ...tiny.inversionDefaults, prompt: '', seed: 0, trajectory: false, resolution: { width: 64, height: 64 }, batchSize: 1 };

function stats(x: Float32Array): { mean: number; std: number } {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  return { mean, std: Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length) };
}

describe('interpolation on the bundled model', () => {
  let pipeline: DiffusionPipeline;
  let chelsea: InvertedForRender;
  let coffee: InvertedForRender;
  beforeAll(async () => {
    pipeline = await DiffusionPipeline.open('models/tiny');
    chelsea = await invertForRender(pipeline, 'models/tiny/holdout/chelsea.png', params);
    coffee = await invertForRender(pipeline, 'models/tiny/holdout/coffee.png', params);
  });
  afterAll(async () => pipeline.release());

  it('starts and ends at the two reconstructions, bit for bit, with images in between', async () => {
    const done: number[] = [];
    const { frames } = await interpolate(pipeline, chelsea.source, coffee.source, { frames: 5, mode: 'slerp', onFrame: (k) => done.push(k) });
    expect(done).toEqual([1, 2, 3, 4, 5]);
    const png = (k: number) => encodePng(frames[k]!.pixels, 64, 64);
    expect(Buffer.from(await png(0)).equals(Buffer.from(chelsea.reconstructionPng))).toBe(true);
    expect(Buffer.from(await png(4)).equals(Buffer.from(coffee.reconstructionPng))).toBe(true);
    for (const f of frames.slice(1, 4)) {
      expect(f.pixels.every(Number.isFinite)).toBe(true);
      const rgb = chwToRgb(f.pixels, 64, 64);
      const clipped = rgb.filter((v) => v === 0 || v === 255).length / rgb.length;
      expect(clipped).toBeLessThan(0.05);
      // Neither endpoint: the frame is its own image.
      const { data: a } = await sharp(chelsea.reconstructionPng).raw().toBuffer({ resolveWithObject: true });
      expect(rgb.some((v, k) => v !== a[k])).toBe(true);
    }
  });

  it('slerp keeps each frame mean and std within 1% of the endpoints; the straight line does not', () => {
    const [a, b] = [stats(chelsea.source.latent), stats(coffee.source.latent)];
    const lo = Math.min(a.std, b.std) * 0.99;
    const hi = Math.max(a.std, b.std) * 1.01;
    const path = latentPath(chelsea.source.latent, coffee.source.latent, 9, 'slerp').map(stats);
    for (const s of path) {
      expect(s.std).toBeGreaterThanOrEqual(lo);
      expect(s.std).toBeLessThanOrEqual(hi);
      // Means near zero: "within 1%" is taken in units of the std.
      expect(s.mean).toBeGreaterThanOrEqual(Math.min(a.mean, b.mean) - 0.01 * lo);
      expect(s.mean).toBeLessThanOrEqual(Math.max(a.mean, b.mean) + 0.01 * lo);
    }
    const middle = stats(latentPath(chelsea.source.latent, coffee.source.latent, 3, 'linear')[1]!);
    expect(middle.std).toBeLessThan(lo);
  });

  it('refuses latents of another model, plan, shape, conditioning, or (under DDPM) seed', () => {
    const a = chelsea.source;
    const with_ = (change: Partial<InvertedLatent['meta']>, dims = a.dims): InvertedLatent => ({ ...a, dims, meta: { ...a.meta, ...change } });
    expect(() => checkInterpolable(a, with_({ model: 'sd15' }))).toThrow(/a and b differ in model \("tiny" vs "sd15"\)/);
    expect(() => checkInterpolable(a, with_({ steps: 4 }))).toThrow(/differ in steps \(10 vs 4\)/);
    expect(() => checkInterpolable(a, with_({ timesteps: [1, 2] }))).toThrow(/differ in timesteps/);
    expect(() => checkInterpolable(a, with_({ sampler: 'ddpm' }))).toThrow(/differ in sampler/);
    expect(() => checkInterpolable(a, with_({}, [3, 64, 96]))).toThrow(/differ in latent shape \("3x64x64" vs "3x64x96"\)/);
    expect(() => checkInterpolable(a, with_({ prompt: 'a cat' }))).toThrow(/differ in prompt/);
    expect(() => checkInterpolable(a, with_({ guidance: 2 }))).toThrow(/differ in guidance \(1 vs 2\)/);
    expect(() => checkInterpolable(a, with_({ seed: 5 }))).not.toThrow();
    const ddpm = with_({ sampler: 'ddpm' });
    expect(() => checkInterpolable(ddpm, { ...ddpm, meta: { ...ddpm.meta, seed: 5 } })).toThrow(/differ in seed \(the sampler adds noise drawn from it\) \(0 vs 5\)/);
  });

  it('refuses a pair of different shapes before rendering anything', async () => {
    const wide: InvertedLatent = { ...coffee.source, dims: [3, 64, 96], latent: new Float32Array(3 * 64 * 96) };
    await expect(interpolate(pipeline, chelsea.source, wide, { frames: 3, mode: 'slerp' })).rejects.toThrow(/differ in latent shape/);
  });
});
