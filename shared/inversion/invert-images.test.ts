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
      // The hybrid descent runs the gradient graph only where the fixed-point mixing stopped gaining.
      expect(p.metrics.modelEvals.vjp).toBeLessThanOrEqual(p.metrics.iterations);
      expect(p.metrics.descent).toBe('hybrid');
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

describe('aborting one image of a running batch', () => {
  it('checkpoints the step that was running when the signal fired, then no more; the rest of the batch finishes', async () => {
    const dir = writePixelSpaceFolder();
    await prepareGradientGraph(dir);
    const pipeline = await DiffusionPipeline.open(dir);
    try {
      const controller = new AbortController();
      const seen: Record<string, number[]> = { 'a.png': [], 'b.png': [] };
      const images = [
        { name: 'a.png', bytes: await gradientPng(24, 24, 0), signal: controller.signal, onStep: async (s: { completedSteps: number }) => void seen['a.png']!.push(s.completedSteps) },
        {
          name: 'b.png',
          bytes: await gradientPng(24, 24, 1),
          // b's hook runs after a's: aborting here fires while a's step 2 is still to come.
          onStep: async (s: { completedSteps: number }) => {
            seen['b.png']!.push(s.completedSteps);
            if (s.completedSteps === 1) controller.abort('shutdown');
          },
        },
      ];
      const [a, b] = await invertImages(pipeline, images, { ...base, method: 'ddim', trajectory: false });
      expect(a).toMatchObject({ ok: false, aborted: true });
      expect(b!.ok).toBe(true);
      expect(seen['a.png']).toEqual([1, 2]);
      expect(seen['b.png']).toEqual([1, 2, 3, 4]);
    } finally {
      await pipeline.release();
    }
  });
});
