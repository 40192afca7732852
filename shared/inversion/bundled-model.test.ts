import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getModel } from '../../models/registry.ts';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { invertImages, type InversionParams } from './invert-images.ts';

/**
 * The bundled model actually denoises, so this is a quality check, not plumbing: on a photograph
 * it never saw in training, PreciseInv with the registry defaults must reach eta at every step
 * and reconstruct far better than DDIM inversion.
 */
describe('PreciseInv on the bundled model and a held-out photograph', () => {
  const tiny = getModel('tiny');
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await DiffusionPipeline.open('models/tiny');
  });
  afterAll(async () => pipeline.release());

  it('reaches eta at every step (T=10) and beats DDIM inversion by more than 10 dB', async () => {
    const image = { name: 'chelsea.png', bytes: new Uint8Array(readFileSync('models/tiny/holdout/chelsea.png')) };
    const params: InversionParams = {
      model: 'tiny', ...tiny.inversionDefaults, prompt: '', seed: 0, trajectory: false, resolution: tiny.resolution, batchSize: 1,
    };
    expect(params).toMatchObject({ method: 'preciseinv', steps: 10 });
    const [precise] = await invertImages(pipeline, [image], params);
    const [naive] = await invertImages(pipeline, [image], { ...params, method: 'ddim' });
    if (!precise?.ok || !naive?.ok) throw new Error('expected both inversions to succeed');
    const p = precise.metrics;
    expect(p.perStep.map((s) => s.converged)).toEqual(new Array(10).fill(true));
    expect(Math.max(...p.perStep.map((s) => s.residual ?? Infinity))).toBeLessThan(params.eta);
    expect(p.psnr ?? Infinity).toBeGreaterThan(35);
    expect((p.psnr ?? Infinity) - (naive.metrics.psnr ?? Infinity)).toBeGreaterThan(10);
    expect(p.ssim).toBeGreaterThan(naive.metrics.ssim);
  });
});
