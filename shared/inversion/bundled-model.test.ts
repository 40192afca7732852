import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getModel } from '../../models/registry.ts';
import { etaForSteps } from '../contracts/model-manifest.ts';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { invertImages, type InversionParams } from './invert-images.ts';

/**
 * The bundled model actually denoises, so this is a quality check, not plumbing: on a photograph
 * it never saw in training, PreciseInv with the registry defaults must reach eta at every step
 * and reconstruct far better than DDIM inversion, at the default T and at the fewest steps.
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

  // PSNR floors per T of bench/results/inversion-quality.md's goals: 45 dB at T=10, 35 dB at T=2.
  for (const [steps, floor] of [[10, 45], [2, 35]] as const) {
    it(`with nothing but the step count given (T=${steps}) converges at every step above ${floor} dB`, async () => {
      const image = { name: 'chelsea.png', bytes: new Uint8Array(readFileSync('models/tiny/holdout/chelsea.png')) };
      const d = tiny.inversionDefaults;
      const eta = etaForSteps(d, steps);
      const [result] = await invertImages(pipeline, [image], {
        model: 'tiny', ...d, steps, eta, prompt: '', seed: 0, trajectory: false, resolution: tiny.resolution, batchSize: 1,
      });
      if (!result?.ok) throw new Error('expected the inversion to succeed');
      const m = result.metrics;
      expect(m.descent).toBe('hybrid');
      expect(m.converged).toBe(true);
      expect(m.perStep.every((s) => s.converged && (s.residual ?? Infinity) < eta)).toBe(true);
      expect(m.psnr ?? Infinity).toBeGreaterThan(floor);
    });
  }
});
