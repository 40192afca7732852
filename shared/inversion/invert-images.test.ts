import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { prepareGradientGraph } from '../diffusion/prepare-gradient-graph.ts';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { gradientPng } from '../diffusion/testing/gradient-png.ts';
import { writePixelSpaceFolder } from '../diffusion/testing/synthetic-folder.ts';
import { decodeLatentFile } from './outputs/latent-file.ts';
import { invertImages, type InversionParams } from './invert-images.ts';

const base: InversionParams = {
  model: 'synthetic', method: 'preciseinv', steps: 4, eta: 1e-7, maxIters: 100, guidance: 1, prompt: '', seed: 1,
  trajectory: true, resolution: { width: 24, height: 24 }, batchSize: 2,
};

describe('inverting image files end to end (pixel-space model, identity VAE)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    const dir = writePixelSpaceFolder();
    await prepareGradientGraph(dir);
    pipeline = await DiffusionPipeline.open(dir);
  });
  afterAll(async () => pipeline.release());

  it('PreciseInv converges and reconstructs far better than DDIM inversion; bad files fail alone', async () => {
    const images = [
      { name: 'a.png', bytes: await gradientPng(30, 24, 0) },
      { name: 'empty.png', bytes: new Uint8Array() },
      { name: 'b.png', bytes: await gradientPng(24, 40, 1) },
      { name: 'c.png', bytes: await gradientPng(24, 24, 2) },
    ];
    const precise = await invertImages(pipeline, images, base);
    const naive = await invertImages(pipeline, images, { ...base, method: 'ddim' });
    expect(precise.map((r) => r.ok)).toEqual([true, false, true, true]);
    const bad = precise[1]!;
    expect(!bad.ok && bad.error).toMatch(/empty\.png/);
    for (const i of [0, 2, 3]) {
      const p = precise[i]!;
      const d = naive[i]!;
      if (!p.ok || !d.ok) throw new Error('expected success');
      expect(p.metrics.converged).toBe(true);
      expect(p.metrics.ceilingPsnr).toBeNull(); // identity VAE: the ceiling is exact
      expect(p.metrics.psnr ?? Infinity).toBeGreaterThan(45);
      expect((p.metrics.psnr ?? Infinity) - (d.metrics.psnr ?? Infinity)).toBeGreaterThan(10);
      expect(p.metrics.modelEvals.vjp).toBe(p.metrics.iterations);
      expect(Object.keys(p.files).sort()).toEqual(['latent.safetensors', 'metrics.json', 'reconstruction.png', 'trajectory.safetensors']);
      const latent = decodeLatentFile(p.files['latent.safetensors']!);
      expect(latent.dims).toEqual([3, 24, 24]);
      expect(latent.meta).toMatchObject({ method: 'preciseinv', steps: 4, sampler: 'ddim', timesteps: [751, 501, 251, 1], seed: 1 });
    }
  });

  it('refuses PreciseInv on a model without a gradient graph, naming the fix', async () => {
    const bare = await DiffusionPipeline.open(writePixelSpaceFolder());
    await expect(invertImages(bare, [{ name: 'a.png', bytes: await gradientPng(24, 24, 0) }], base)).rejects.toThrow(/run `preciseinv prepare/);
    await bare.release();
  });
});
