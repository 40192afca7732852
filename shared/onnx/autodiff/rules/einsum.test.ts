import { describe, expect, it } from 'vitest';
import { attr } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { buildVjpGraph } from '../build-vjp.ts';
import { allNodes } from '../backward-gate.ts';

const D = TensorDataType.DOUBLE;

interface EinsumCase {
  equation: string;
  shapes: number[][];
  out: number[];
  opset?: number;
  /** Declared (possibly symbolic) dims per operand. */
  declared?: (number | string)[][];
}

const names = ['a', 'c', 'e'];

function einsumModel(c: EinsumCase) {
  return tinyModel({
    opset: c.opset ?? 17,
    inputs: c.shapes.map((dims, k) => ({ name: names[k]!, dims: c.declared?.[k] ?? dims, elemType: D })),
    build: (b) => [{ name: b.op('Einsum', names.slice(0, c.shapes.length), { equation: attr.string(c.equation) }), dims: c.out, elemType: D }],
  });
}

const cases: EinsumCase[] = [
  { equation: 'nhwpqc->nchpwq', shapes: [[2, 3, 4, 2, 2, 5]], out: [2, 5, 3, 2, 4, 2], opset: 18 },
  { equation: 'bhqd,bhkd->bhqk', shapes: [[2, 3, 5, 4], [2, 3, 7, 4]], out: [2, 3, 5, 7], opset: 14 },
  { equation: 'bhqk,bhkd->bhqd', shapes: [[2, 3, 5, 7], [2, 3, 7, 4]], out: [2, 3, 5, 4], opset: 21 },
  { equation: 'b h q d , b h k d -> b h q k', shapes: [[1, 2, 3, 3], [1, 2, 5, 3]], out: [1, 2, 3, 5] },
  { equation: 'ij,jk', shapes: [[3, 5], [5, 2]], out: [3, 2] },
  { equation: 'ij,jk,kl->il', shapes: [[3, 4], [4, 5], [5, 2]], out: [3, 2] },
  { equation: 'ij->i', shapes: [[4, 3]], out: [4] },
  { equation: 'ij->', shapes: [[4, 3]], out: [] },
  { equation: 'abc,c->a', shapes: [[3, 4, 5], [5]], out: [3] },
  { equation: 'i,i->', shapes: [[5], [5]], out: [] },
  { equation: 'ik,jk->ijk', shapes: [[3, 2], [4, 2]], out: [3, 4, 2] },
  { equation: 'nhwpqc->nchpwq', shapes: [[2, 3, 4, 2, 2, 5]], out: [2, 5, 3, 2, 4, 2], declared: [['n', 'h', 'w', 2, 2, 5]] },
  { equation: 'abc,c->a', shapes: [[3, 4, 5], [5]], out: [3], declared: [['x', 'y', 5], [5]] },
];

describe('Einsum gradient', () => {
  for (const c of cases) {
    c.shapes.forEach((_, k) => {
      const tag = c.declared ? ' (symbolic dims)' : '';
      it(`'${c.equation}'${tag}, shapes ${JSON.stringify(c.shapes)}, w.r.t. operand ${k}`, async () => {
        const model = einsumModel(c);
        const dims = Object.fromEntries(c.shapes.map((d, j) => [names[j]!, d]));
        const r = await runAdjoint(model, { wrt: names[k]!, of: model.graph.output[0]!.name, dims, seed: 3 + k });
        expect(r.relError).toBeLessThan(1e-7);
        expect(r.forwardMismatch).toBe(0);
      });
    });
  }

  it('both operands from the same input (x x^T per batch)', async () => {
    const model = tinyModel({
      opset: 18,
      inputs: [{ name: 'x', dims: [2, 4, 3], elemType: D }],
      build: (b) => [{ name: b.op('Einsum', ['x', 'x'], { equation: attr.string('bik,bjk->bij') }), dims: [2, 4, 4], elemType: D }],
    });
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [2, 4, 3] } });
    expect(r.relError).toBeLessThan(1e-7);
  });

  it('a permutation becomes a Transpose', () => {
    const model = einsumModel(cases[0]!);
    const vjp = buildVjpGraph(model, { wrt: 'a', of: model.graph.output[0]!.name });
    expect(allNodes(vjp.graph).filter((n) => n.opType === 'Einsum')).toHaveLength(1);
    expect(allNodes(vjp.graph).some((n) => n.opType === 'Transpose')).toBe(true);
  });

  for (const [equation, shapes, message] of [
    ['...ij,...jk->...ik', [[2, 3, 4], [2, 4, 5]], /ellipsis/],
    ['ii->i', [[3, 3]], /repeats a subscript/],
  ] as const) {
    it(`fails clearly for '${equation}'`, () => {
      const model = einsumModel({ equation, shapes: shapes.map((s) => [...s]), out: [] });
      expect(() => buildVjpGraph(model, { wrt: 'a', of: model.graph.output[0]!.name })).toThrow(message);
    });
  }
});
