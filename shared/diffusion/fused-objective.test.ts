/**
 * The fused step objective of a prepared gradient graph against the two-run path it replaces
 * (a forward run for r, then a gradient run with r as the cotangent), through the engine's own
 * denoiser: on the bundled model and on fixtures of every family, with classifier-free guidance
 * (two branch copies mixed in-graph) and in fp16 (loss scaling in-graph).
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Denoiser } from '../inversion/denoiser.ts';
import { objectiveBySeparateRuns } from '../inversion/step-objective.ts';
import { DiffusionPipeline } from './pipeline/diffusion-pipeline.ts';
import { prepareGradientGraph } from './prepare-gradient-graph.ts';

const models = join(import.meta.dirname, '..', '..', 'models');
const cases = [
  { name: 'tiny', dir: join(models, 'tiny'), guidance: 1, dims: [3, 16, 24], pixels: 1, exact: 1e-6 },
  { name: 'sd15-torchscript', dir: join(models, 'fixtures', 'sd15-torchscript'), guidance: 3, dims: [4, 8, 8], pixels: 8, exact: 1e-5 },
  { name: 'sd15-fp16', dir: join(models, 'fixtures', 'sd15-fp16'), guidance: 3, dims: [4, 8, 8], pixels: 8, exact: 1e-5 },
  { name: 'sdxl-dynamo', dir: join(models, 'fixtures', 'sdxl-dynamo'), guidance: 3, dims: [4, 8, 8], pixels: 8, exact: 1e-5 },
  { name: 'lcm-dynamo', dir: join(models, 'fixtures', 'lcm-dynamo'), guidance: 8, dims: [4, 8, 8], pixels: 8, exact: 1e-5 },
  { name: 'sd3-torchscript', dir: join(models, 'fixtures', 'sd3-torchscript'), guidance: 3, dims: [16, 8, 8], pixels: 8, exact: 1e-5 },
] as const;

function normwise(ours: Float32Array, ref: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let k = 0; k < ref.length; k++) {
    diff = Math.max(diff, Math.abs(ours[k]! - ref[k]!));
    scale = Math.max(scale, Math.abs(ref[k]!));
  }
  return diff / scale;
}

describe('fused step objective vs forward + gradient runs', () => {
  for (const c of cases) {
    it(`${c.name}${c.guidance !== 1 ? ` (guidance ${c.guidance})` : ''}: same loss and gradient in one run`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'pi-objective-')), c.name);
      cpSync(c.dir, dir, { recursive: true, filter: (src) => !/model_vjp\.onnx$|preciseinv\.json$|holdout$/.test(src) });
      await prepareGradientGraph(dir);
      const pipeline = await DiffusionPipeline.open(dir);
      try {
        const [, height, width] = c.dims;
        const conditioning = await pipeline.conditioning(['a red bicycle', 'a cat on a wall'], c.guidance, { height: height! * c.pixels, width: width! * c.pixels });
        const denoiser = pipeline.onnxDenoiser(conditioning, [...c.dims], c.guidance);
        const size = 2 * denoiser.sampleSize;
        const x = Float32Array.from({ length: size }, (_, k) => Math.sin(0.37 * k));
        const objective = { target: Float32Array.from(x, (v, k) => 0.9 * v + 0.05 * Math.cos(k)), a: 1.0123456789, b: -0.3456789, sigma: 0.77 };
        const twoRuns: Denoiser = { sampleSize: denoiser.sampleSize, predict: (...a) => denoiser.predict(...a), predictWithVjp: (...a) => denoiser.predictWithVjp(...a) };
        const fused = await denoiser.objective(x, [0, 1], 501, objective, true);
        const lossOnly = await denoiser.objective(x, [0, 1], 501, objective, false);
        const separate = await objectiveBySeparateRuns(twoRuns, x, [0, 1], 501, objective, true);
        // Both kinds of fused run compute the loss with the same nodes: bit for bit the same.
        expect(lossOnly.loss).toEqual(fused.loss);
        expect(lossOnly.gradient).toBeNull();
        fused.loss.forEach((l, j) => expect(Math.abs(l - separate.loss[j]!) / separate.loss[j]!).toBeLessThan(c.exact));
        expect(normwise(fused.gradient!, separate.gradient!)).toBeLessThan(c.exact);
      } finally {
        await pipeline.release();
      }
    });
  }
});
