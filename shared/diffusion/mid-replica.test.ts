/**
 * models/sd15-mid (tools/replicas/mid.py): SD 1.5's block structure and head dims at reduced
 * widths. Its gradient graph must match torch autograd and finite differences, and what it keeps
 * for the backward at the model's native size must not exceed what torch autograd saves for
 * backward on the same inputs (unet/torch_saved_for_backward.json), so the memory-saving rules
 * are held to torch's budget on the real op patterns, not only on the tiny fixtures.
 */
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadModel } from '../onnx/model-io.ts';
import { savedForBackward } from '../onnx/autodiff/saved-values.ts';
import { gradcheck } from './gradcheck.ts';
import { prepareGradientGraph } from './prepare-gradient-graph.ts';
import { typicalDims } from './typical-dims.ts';

const source = join(import.meta.dirname, '..', '..', 'models', 'sd15-mid');

const TorchSaved = z.object({
  latent: z.number().int().positive(),
  batch: z.literal(1),
  sequenceLength: z.number().int().positive(),
  dtype: z.literal('float32'),
  bytes: z.number().int().positive(),
  tensors: z.number().int().positive(),
});

describe('mid-size SD 1.5 replica', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'pi-sd15-mid-')), 'sd15-mid');
  cpSync(source, dir, { recursive: true, filter: (src) => !/model_vjp\.onnx$|preciseinv\.json$/.test(src) });
  const prepared = prepareGradientGraph(dir);

  it('gradient graph matches torch autograd and finite differences', async () => {
    await prepared;
    const report = await gradcheck(dir, { directions: 2 });
    expect(report.precision).toBe('fp32');
    expect(report.torch!.gradMaxRelError).toBeLessThanOrEqual(1e-4);
    expect(report.torch!.forwardMaxRelError).toBeLessThanOrEqual(1e-4);
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it('keeps no more for the backward than torch autograd saves', async () => {
    const record = await prepared;
    const torch = TorchSaved.parse(JSON.parse(readFileSync(join(source, 'unet', 'torch_saved_for_backward.json'), 'utf8')));
    const vjp = loadModel(join(dir, record.path)).model;
    const saved = savedForBackward(vjp, typicalDims(vjp.graph, 'sample', torch.latent));
    expect(saved.unknown).toBe(0);
    expect(saved.bytes).toBeGreaterThan(0);
    expect(saved.bytes, `ours ${saved.bytes} B in ${saved.values.length} values, torch ${torch.bytes} B`).toBeLessThanOrEqual(torch.bytes);
  });
});
