/**
 * Rendering on the bundled model: reproduction of the reconstruction, starting from an
 * intermediate step of the trajectory, DDPM's source noise, and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getModel } from '../../models/registry.ts';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { encodePng } from '../diffusion/image/encode-png.ts';
import type { InversionParams } from '../inversion/invert-images.ts';
import { psnr } from '../inversion/metrics/psnr.ts';
import { chwToRgb } from '../diffusion/image/encode-png.ts';
import { fromStepForStrength, render } from './render.ts';
import { invertForRender, type InvertedForRender } from './testing/invert-for-render.ts';

const tiny = getModel('tiny');
const CHELSEA = 'models/tiny/holdout/chelsea.png';

function params(overrides: Partial<InversionParams> = {}): InversionParams {
  return { model: 'tiny', ...tiny.inversionDefaults, prompt: '', seed: 0, trajectory: true, resolution: tiny.resolution, batchSize: 1, ...overrides };
}

function pixelPsnr(a: { pixels: Float32Array; width: number; height: number }, b: { pixels: Float32Array }): number {
  const image = (p: Float32Array) => ({ width: a.width, height: a.height, channels: 3, data: new Uint8Array(chwToRgb(p, a.width, a.height)) });
  return psnr(image(a.pixels), image(b.pixels), 255);
}

describe('render on the bundled model', () => {
  let pipeline: DiffusionPipeline;
  let inverted: InvertedForRender;
  beforeAll(async () => {
    pipeline = await DiffusionPipeline.open('models/tiny');
    inverted = await invertForRender(pipeline, CHELSEA, params());
  });
  afterAll(async () => pipeline.release());

  it('with nothing changed reproduces the reconstruction bit for bit', async () => {
    const steps: number[] = [];
    const out = await render(pipeline, inverted.source, { onStep: (done) => steps.push(done) });
    expect(Buffer.from(await encodePng(out.pixels, out.width, out.height)).equals(Buffer.from(inverted.reconstructionPng))).toBe(true);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(out.settings).toMatchObject({ steps: 10, fromStep: 10, seed: 0, width: 96, height: 64 });
  });

  it('from an intermediate step of the trajectory runs only the last K steps and lands on the same image', async () => {
    const full = await render(pipeline, inverted.source);
    const counted: number[] = [];
    const half = await render(pipeline, inverted.source, { fromStep: 5, onStep: (done, of) => counted.push(of) });
    expect(counted).toEqual([5, 5, 5, 5, 5]);
    // x*_5 is the inversion's own state, which the sampler from x_T reaches within eta.
    expect(pixelPsnr(full, half)).toBeGreaterThan(40);
    expect(half.pixels.some((v, k) => v !== full.pixels[k])).toBe(true);
    expect(fromStepForStrength(0.5, 10)).toBe(5);
    expect(fromStepForStrength(0.01, 10)).toBe(1);
    expect(() => fromStepForStrength(0, 10)).toThrow(/strength must be in \(0, 1\]/);
  });

  it('refuses an intermediate start without the trajectory, and a start outside the plan', async () => {
    const { trajectory: _, ...withoutTrajectory } = inverted.source;
    await expect(render(pipeline, withoutTrajectory, { fromStep: 5 })).rejects.toThrow(/starting from step 5 needs the trajectory x_1..x_T/);
    await expect(render(pipeline, inverted.source, { fromStep: 11 })).rejects.toThrow(/fromStep must be an integer in 1..10, got 11/);
    await expect(render(pipeline, inverted.source, { steps: 4, fromStep: 2 })).rejects.toThrow(/fromStep needs the inversion's own plan \(10 steps\)/);
  });

  it('re-plans from x_T with another step count', async () => {
    const four = await render(pipeline, inverted.source, { steps: 4 });
    expect(four.settings.steps).toBe(4);
    expect(four.pixels.every(Number.isFinite)).toBe(true);
  });

  it('refuses a prompt or guidance on a model that takes no text', async () => {
    expect(pipeline.takesText).toBe(false);
    await expect(render(pipeline, inverted.source, { prompt: 'a dog' })).rejects.toThrow(/model 'tiny' takes no text conditioning: a prompt would change nothing/);
    await expect(render(pipeline, inverted.source, { guidance: 7 })).rejects.toThrow(/takes no text conditioning: guidance would change nothing/);
  });

  it('refuses a latent whose plan this folder cannot produce', async () => {
    const meta = inverted.source.meta;
    await expect(render(pipeline, { ...inverted.source, meta: { ...meta, timesteps: [998, ...meta.timesteps.slice(1)] } })).rejects.toThrow(/was inverted at timesteps \[998, .*this model's scheduler gives/);
    await expect(render(pipeline, { ...inverted.source, meta: { ...meta, predictionType: 'v_prediction' } })).rejects.toThrow(/inverted with a v_prediction model; this one predicts epsilon/);
    await expect(render(pipeline, { ...inverted.source, dims: [4, 32, 32] })).rejects.toThrow(/has 4 channels; this model's denoiser takes 3/);
  });

  it('under DDPM keeps the source branch noise by default, and another seed draws new noise', async () => {
    const ddpm = await invertForRender(pipeline, CHELSEA, params({ method: 'ddim', sampler: 'ddpm', steps: 4, seed: 11, trajectory: false }));
    expect(ddpm.source.meta.sampler).toBe('ddpm');
    const same = await render(pipeline, ddpm.source);
    expect(Buffer.from(await encodePng(same.pixels, same.width, same.height)).equals(Buffer.from(ddpm.reconstructionPng))).toBe(true);
    const reseeded = await render(pipeline, ddpm.source, { seed: 12 });
    expect(pixelPsnr(same, reseeded)).toBeLessThan(35);
  });
});
