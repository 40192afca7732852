import { describe, expect, it } from 'vitest';
import { attr, type GraphBuilder } from '../graph-builder.ts';
import { TensorDataType } from '../proto/types.ts';
import { runAdjoint } from '../testing/adjoint.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { allNodes } from './backward-gate.ts';
import { buildVjpGraph } from './build-vjp.ts';

const F = TensorDataType.FLOAT;
const D = TensorDataType.DOUBLE;

/** Self-attention over [n, heads, tokens, d] from x [n, tokens, 8] with 4 heads of 2. */
function attention(b: GraphBuilder, heads: number, extraRead: boolean): string {
  const split = (w: string) => b.op('Transpose', [b.reshape(b.op('MatMul', ['x', w]), b.int64s([0, -1, heads, 8 / heads]))], { perm: attr.ints([0, 2, 1, 3]) });
  const q = split('wq');
  const kt = b.op('Transpose', [split('wk')], { perm: attr.ints([0, 1, 3, 2]) });
  const p = b.op('Softmax', [b.op('MatMul', [q, kt])], { axis: attr.int(-1) });
  const o = b.op('MatMul', [p, split('wv')]);
  const merged = b.reshape(b.op('Transpose', [o], { perm: attr.ints([0, 2, 1, 3]) }), b.int64s([0, -1, 8]));
  return extraRead ? b.add(merged, b.op('ReduceMean', [p], { axes: attr.ints([1, 3]), keepdims: attr.int(0) })) : merged;
}

function model(t: number, heads: number, extraRead = false) {
  return tinyModel({
    opset: 17,
    inputs: [{ name: 'x', dims: ['n', 'tokens', 8], elemType: t }, ...['wq', 'wk', 'wv'].map((name) => ({ name, dims: [8, 8], elemType: t }))],
    build: (b) => [{ name: attention(b, heads, extraRead), dims: ['n', 'tokens', 8], elemType: t }],
  });
}

const dims = { x: [2, 9, 8], wq: [8, 8], wk: [8, 8], wv: [8, 8] };

describe('attention split by head before differentiation', () => {
  for (const t of [D, F]) {
    it(`four heads with symbolic tokens: one softmax per head in the forward and the backward (${t === D ? 'float64' : 'float32'})`, async () => {
      const m = model(t, 4);
      const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name });
      const nodes = allNodes(vjp.graph);
      expect(nodes.filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'))).toHaveLength(4);
      expect(nodes.filter((n) => n.opType === 'Softmax' && n.name.startsWith('vjp/'))).toHaveLength(4);
      const r = await runAdjoint(m, { wrt: 'x', of: m.graph.output[0]!.name, dims, seed: 17 });
      // Per-head products are the batched product's own slices: the forward is unchanged.
      expect(r.forwardMismatch).toBe(0);
      // float32 central differences of a softmax carry about 1e-3 of their own error.
      expect(r.relError).toBeLessThan(t === D ? 1e-8 : 1e-2);
    });
  }

  it('probabilities also read elsewhere: left whole', () => {
    const m = model(D, 4, true);
    const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name });
    expect(allNodes(vjp.graph).filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'))).toHaveLength(1);
  });

  it('a single head: left whole', () => {
    const m = model(D, 1);
    const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name });
    expect(allNodes(vjp.graph).filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'))).toHaveLength(1);
  });
});
