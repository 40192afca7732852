import { describe, expect, it } from 'vitest';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { TensorDataType } from '../../proto/types.ts';

const D = TensorDataType.DOUBLE;

describe('arithmetic gradient rules', () => {
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    for (const wrt of ['x', 'c']) {
      it(`${op}: x [2,3,1,5] with c [3,4,1], gradient w.r.t. ${wrt} (both broadcast)`, async () => {
        const model = tinyModel({
          opset: 17,
          inputs: [
            { name: 'x', dims: [2, 3, 1, 5], elemType: D },
            { name: 'c', dims: [3, 4, 1], elemType: D },
          ],
          build: (b) => [{ name: b.op(op, ['x', 'c']), dims: [2, 3, 4, 5], elemType: D }],
        });
        const of = model.graph.output[0]!.name;
        // Keep divisors away from zero so the finite differences stay well conditioned.
        const values = op === 'Div' && wrt === 'x' ? { c: Array.from({ length: 12 }, (_, i) => 1.5 + i / 4) } : undefined;
        const r = await runAdjoint(model, { wrt, of, dims: { x: [2, 3, 1, 5], c: [3, 4, 1] }, values, step: op === 'Div' ? 1e-7 : 1e-5 });
        expect(r.relError).toBeLessThan(1e-6);
        expect(r.forwardMismatch).toBe(0);
      });
    }
  }

  it('Sum of three broadcast operands, gradient accumulated over repeated use of x', async () => {
    const model = tinyModel({
      opset: 14,
      inputs: [{ name: 'x', dims: [4, 1], elemType: D }],
      constants: [{ name: 'w', dims: [3], values: [1, 2, 3], elemType: D }],
      build: (b) => [{ name: b.op('Sum', ['x', 'w', b.op('Mul', ['x', 'x'])]), dims: [4, 3], elemType: D }],
    });
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [4, 1] }, step: 1e-6 });
    expect(r.relError).toBeLessThan(1e-6);
  });
});
