/**
 * The whole pipeline (tokenizers, text encoders, VAE, denoiser, gradient graph, schedulers,
 * PreciseInv, reconstruction, outputs) on each family's fixture layout. Weights are random, so
 * this proves plumbing and shapes, not quality.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { prepareGradientGraph } from '../diffusion/prepare-gradient-graph.ts';
import { decodeLatentFile } from './outputs/latent-file.ts';
import { invertImages } from './invert-images.ts';

const root = join(import.meta.dirname, '..', '..', 'models', 'fixtures');

const cases = [
  { name: 'sd15-torchscript', channels: 4, sampler: 'ddim', guidance: 3 },
  { name: 'sdxl-torchscript', channels: 4, sampler: 'ddim', guidance: 3 },
  { name: 'lcm-torchscript', channels: 4, sampler: 'ddim', guidance: 8 },
  { name: 'sd3-torchscript', channels: 16, sampler: 'flow-euler', guidance: 3 },
] as const;

async function photo(): Promise<Uint8Array> {
  const w = 150;
  const h = 110;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    raw[3 * i] = i % 251;
    raw[3 * i + 1] = (i * 7) % 253;
    raw[3 * i + 2] = (i * 13) % 255;
  }
  return new Uint8Array(await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg().toBuffer());
}

describe('end to end on each family fixture (random weights)', () => {
  for (const c of cases) {
    it(`${c.name}: prompt + guidance ${c.guidance}, PreciseInv, reconstruction and outputs`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'pi-e2e-')), c.name);
      cpSync(join(root, c.name), dir, { recursive: true });
      await prepareGradientGraph(dir);
      const pipeline = await DiffusionPipeline.open(dir);
      try {
        const [result] = await invertImages(pipeline, [{ name: 'photo.jpg', bytes: await photo() }], {
          model: c.name, method: 'preciseinv', descent: 'lbfgs', steps: 2, eta: 1e-6, maxIters: 2, guidance: c.guidance,
          prompt: 'a red bicycle leaning on a wall', seed: 3, trajectory: true, resolution: { width: 128, height: 128 }, batchSize: 1,
        });
        if (!result?.ok) throw new Error(result?.ok === false ? result.error : 'no result');
        const latent = decodeLatentFile(result.files['latent.safetensors']!);
        expect(latent.dims).toEqual([c.channels, 16, 16]);
        expect(latent.meta.sampler).toBe(c.sampler);
        expect(latent.meta.guidance).toBe(c.guidance);
        expect(Array.from(latent.latent).every(Number.isFinite)).toBe(true);
        const m = result.metrics;
        expect(m.perStep.map((s) => s.step)).toEqual([1, 2]);
        expect(m.perStep.every((s) => s.residual !== null && Number.isFinite(s.residual))).toBe(true);
        expect(m.modelEvals.vjp).toBeGreaterThan(0);
        expect(Number.isFinite(m.psnr ?? 0) && Number.isFinite(m.ceilingPsnr ?? 0)).toBe(true);
      } finally {
        await pipeline.release();
      }
    });
  }
});
