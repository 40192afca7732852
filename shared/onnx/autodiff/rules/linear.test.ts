import { describe, expect, it } from 'vitest';
import { attr, type GraphBuilder } from '../../graph-builder.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { TensorDataType } from '../../proto/types.ts';

const D = TensorDataType.DOUBLE;

async function adjoint(opset: number, inputs: Record<string, number[]>, wrt: string, build: (b: GraphBuilder) => string, outDims: number[], seed = 7) {
  const model = tinyModel({
    opset,
    inputs: Object.entries(inputs).map(([name, dims]) => ({ name, dims, elemType: D })),
    build: (b) => [{ name: build(b), dims: outDims, elemType: D }],
  });
  const r = await runAdjoint(model, { wrt, of: model.graph.output[0]!.name, dims: inputs, seed });
  expect(r.forwardMismatch).toBe(0);
  return r;
}

describe('MatMul gradient', () => {
  const cases: { name: string; a: number[]; c: number[]; y: number[] }[] = [
    { name: 'broadcast batch dims', a: [2, 1, 3, 5], c: [4, 5, 7], y: [2, 4, 3, 7] },
    { name: 'batched activation times matrix', a: [3, 4, 5], c: [5, 6], y: [3, 4, 6] },
    { name: 'matrix times batched', a: [4, 5], c: [3, 5, 2], y: [3, 4, 2] },
    { name: '1-D left operand', a: [5], c: [2, 5, 3], y: [2, 3] },
    { name: '1-D right operand', a: [2, 3, 5], c: [5], y: [2, 3] },
    { name: 'both 1-D (dot product)', a: [5], c: [5], y: [] },
    { name: 'size-1 batch on the right', a: [2, 3, 1, 4], c: [1, 3, 4, 5], y: [2, 3, 1, 5] },
    // Large left operand: dC is formed as (dY^T A)^T; large right operand: dA as (C dY^T)^T.
    { name: 'left operand larger than the rest', a: [2, 3, 9, 8], c: [3, 8, 2], y: [2, 3, 9, 2] },
    { name: 'right operand larger than the rest', a: [3, 2, 8], c: [2, 3, 8, 9], y: [2, 3, 2, 9] },
  ];
  for (const opset of [14, 21]) {
    for (const cs of cases) {
      for (const wrt of ['a', 'c']) {
        it(`opset ${opset}, ${cs.name}: a ${JSON.stringify(cs.a)} c ${JSON.stringify(cs.c)}, w.r.t. ${wrt}`, async () => {
          const r = await adjoint(opset, { a: cs.a, c: cs.c }, wrt, (b) => b.op('MatMul', ['a', 'c']), cs.y, opset + cs.a.length);
          expect(r.relError).toBeLessThan(1e-7);
        });
      }
    }
  }

  it('symbolic dims decide the transposed operand: [n, L, L] x [n, L, 3] w.r.t. both', async () => {
    const model = tinyModel({
      opset: 17,
      inputs: [{ name: 'x', dims: ['n', 'L', 3], elemType: D }, { name: 'w', dims: [3, 3], elemType: D }],
      build: (b) => {
        const s = b.op('MatMul', ['x', b.op('Transpose', ['x'], { perm: attr.ints([0, 2, 1]) })]);
        return [{ name: b.op('MatMul', [s, b.op('MatMul', ['x', 'w'])]), dims: ['n', 'L', 3], elemType: D }];
      },
    });
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [2, 11, 3], w: [3, 3] }, seed: 3 });
    expect(r.forwardMismatch).toBe(0);
    expect(r.relError).toBeLessThan(1e-7);
  });

  it('both operands on the path (x @ x, batched square)', async () => {
    const r = await adjoint(17, { x: [2, 3, 4, 4] }, 'x', (b) => b.op('MatMul', ['x', 'x']), [2, 3, 4, 4]);
    expect(r.relError).toBeLessThan(1e-7);
  });

  it('attention-like product: both operands derived from x', async () => {
    // q = x Wq [2,5,4], z = Wz x [2,4,3], s = q z: both MatMul operands carry gradient.
    const r = await adjoint(18, { x: [2, 5, 3], wq: [3, 4], wz: [4, 5] }, 'x', (b) => {
      const q = b.op('MatMul', ['x', 'wq']);
      return b.op('MatMul', [q, b.op('MatMul', ['wz', 'x'])]);
    }, [2, 5, 3]);
    expect(r.relError).toBeLessThan(1e-7);
  });
});

describe('Gemm gradient', () => {
  const M = 3, K = 5, N = 4;
  for (const [tA, tB] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
    for (const wrt of ['a', 'c']) {
      it(`transA=${tA} transB=${tB} alpha=0.7, w.r.t. ${wrt}`, async () => {
        const a = tA ? [K, M] : [M, K];
        const c = tB ? [N, K] : [K, N];
        const r = await adjoint(14, { a, c, bias: [N] }, wrt, (b) =>
          b.op('Gemm', ['a', 'c', 'bias'], { transA: attr.int(tA), transB: attr.int(tB), alpha: attr.float(0.7), beta: attr.float(1.5) }), [M, N]);
        expect(r.relError).toBeLessThan(1e-7);
      });
    }
  }
  for (const [opset, cDims] of [[14, [N]], [17, [M, 1]], [18, []], [21, [M, N]], [21, [1, N]]] as const) {
    it(`opset ${opset}: gradient of broadcast C ${JSON.stringify(cDims)} with beta=-2`, async () => {
      const r = await adjoint(opset, { a: [M, K], c: [K, N], bias: [...cDims] }, 'bias', (b) =>
        b.op('Gemm', ['a', 'c', 'bias'], { beta: attr.float(-2) }), [M, N]);
      expect(r.relError).toBeLessThan(1e-7);
    });
  }
  it('Gemm input on both A and B (x^T x with transA)', async () => {
    const r = await adjoint(17, { x: [4, 3] }, 'x', (b) => b.op('Gemm', ['x', 'x'], { transA: attr.int(1), alpha: attr.float(2) }), [3, 3]);
    expect(r.relError).toBeLessThan(1e-7);
  });
});
