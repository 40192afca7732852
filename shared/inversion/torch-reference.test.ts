import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { samplingPlan } from '../diffusion/schedulers/sampling-plan.ts';
import { parseSafetensors, tensorToFloat64 } from '../formats/safetensors.ts';
import { invert } from './invert.ts';
import { ddimInversion } from './methods/ddim-inversion.ts';
import { preciseInversion } from './methods/preciseinv.ts';

/**
 * x_T from an independent torch implementation (tools/reference/preciseinv_torch.py, autograd
 * for J^T r, the same bundled weights), made by tools/reference/tiny_inversion_vectors.ts.
 * Our forward graph, gradient graph, schedule and solver must land on the same latent.
 */
const vectors = parseSafetensors(new Uint8Array(readFileSync('shared/inversion/testdata/tiny-torch-inversion.safetensors')));
const tensor = (name: string) => {
  const t = vectors.tensors.get(name);
  if (!t) throw new Error(`reference vectors lack '${name}'`);
  return Float32Array.from(tensorToFloat64(t));
};
const settings = { steps: Number(vectors.metadata['steps']), eta: Number(vectors.metadata['eta']), maxIters: Number(vectors.metadata['maxIters']), size: Number(vectors.metadata['size']) };

function relativeRmse(ours: Float32Array, theirs: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < ours.length; k++) {
    num += (ours[k]! - theirs[k]!) ** 2;
    den += theirs[k]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('x_T against the torch reference implementation (bundled model)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await DiffusionPipeline.open('models/tiny');
  });
  afterAll(async () => pipeline.release());

  const run = async (solver: Parameters<typeof invert>[0]) => {
    const dims = [3, settings.size, settings.size];
    const conditioning = await pipeline.conditioning([''], 1, { height: settings.size, width: settings.size });
    const denoiser = pipeline.denoiser(conditioning, dims, 1);
    const plan = samplingPlan(pipeline.scheduler, settings.steps);
    return invert(solver, denoiser, [tensor('x0')], plan, { seed: 0 });
  };

  it('naive DDIM inversion', async () => {
    const ours = await run(ddimInversion);
    expect(relativeRmse(ours.latents[0]!, tensor('xT_ddim'))).toBeLessThan(1e-5);
  });

  it('PreciseInv with plain gradient directions lands on the torch x_T (relative RMSE < 1e-5)', async () => {
    const ours = await run(preciseInversion({ eta: settings.eta, maxIters: settings.maxIters, direction: 'gradient' }));
    expect(relativeRmse(ours.latents[0]!, tensor('xT_preciseinv_gradient'))).toBeLessThan(1e-5);
    // The comparison means something only if the descent actually moved x_T off the DDIM guess.
    expect(relativeRmse(tensor('xT_preciseinv_gradient'), tensor('xT_ddim'))).toBeGreaterThan(1e-3);
    expect(ours.steps[0]!.reduce((a, s) => a + s.iterations, 0)).toBeGreaterThan(0);
  });
});
