/**
 * Every committed fixture folder (both torch exporters, fp32 and fp16, SD1.5/SDXL/LCM/SD3
 * layouts) prepares and passes gradcheck against finite differences and torch autograd, its
 * fused step objective included.
 * Each runs on a temporary copy so the committed folders stay untouched.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../onnx/model-io.ts';
import { gradcheck } from './gradcheck.ts';
import { prepareGradientGraph } from './prepare-gradient-graph.ts';
import { allNodes } from '../onnx/autodiff/backward-gate.ts';

const root = join(import.meta.dirname, '..', '..', 'models', 'fixtures');
const fixtures = existsSync(root) ? readdirSync(root).filter((f) => existsSync(join(root, f, 'model_index.json'))).sort() : [];

describe('fixture model folders', () => {
  it('are present', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(9);
  });

  for (const name of fixtures) {
    it(`${name}: prepare builds a standard-ops gradient graph that matches torch autograd`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), `pi-${name}-`)), name);
      cpSync(join(root, name), dir, { recursive: true, filter: (src) => !/model_vjp\.onnx$|preciseinv\.json$/.test(src) });
      const record = await prepareGradientGraph(dir);
      const vjp = loadModel(join(dir, record.path)).model;
      expect(allNodes(vjp.graph).filter((n) => n.domain !== '' && n.domain !== 'ai.onnx')).toEqual([]);
      const report = await gradcheck(dir, { directions: 2 });
      expect(report.torch, 'fixture ships vjp_reference.safetensors').toBeDefined();
      if (report.precision === 'fp32') {
        expect(report.torch!.gradMaxRelError).toBeLessThanOrEqual(1e-4);
        expect(report.torch!.forwardMaxRelError).toBeLessThanOrEqual(1e-4);
        // The fused objective's gradient: the two-run path's to float32 rounding, torch's to 1e-4.
        expect(report.objective.separateRunsMaxRelError).toBeLessThanOrEqual(1e-5);
        expect(report.objective.torchMaxRelError).toBeLessThanOrEqual(1e-4);
      }
      expect(report.objective.torchMaxRelError).toBeDefined();
      expect(report.ok, JSON.stringify(report)).toBe(true);
    });
  }
});
