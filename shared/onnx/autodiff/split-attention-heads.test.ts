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
    it(`four heads, 4096 typical tokens: one softmax per head in the forward and the backward (${t === D ? 'float64' : 'float32'})`, async () => {
      const m = model(t, 4);
      // One head's p is 64 MiB (float32) or 128 MiB (float64): each head is its own group.
      const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name, typicalDims: { n: 1, tokens: 4096 } });
      const nodes = allNodes(vjp.graph);
      expect(nodes.filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'))).toHaveLength(4);
      expect(nodes.filter((n) => n.opType === 'Softmax' && n.name.startsWith('vjp/'))).toHaveLength(4);
      const r = await runAdjoint(m, { wrt: 'x', of: m.graph.output[0]!.name, dims, seed: 17, typicalDims: { n: 1, tokens: 4096 } });
      // Per-head products are the batched product's own slices: the forward is unchanged.
      expect(r.forwardMismatch).toBe(0);
      // float32 central differences of a softmax carry about 1e-3 of their own error.
      expect(r.relError).toBeLessThan(t === D ? 1e-8 : 1e-2);
    });
  }

  it('eight heads, 1400 typical tokens, float64: two groups of four heads (63 MB of p each)', async () => {
    const m = model(D, 8);
    const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name, typicalDims: { n: 1, tokens: 1400 } });
    const nodes = allNodes(vjp.graph);
    const forward = nodes.filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'));
    expect(forward).toHaveLength(2);
    expect(nodes.filter((n) => n.opType === 'Softmax' && n.name.startsWith('vjp/'))).toHaveLength(2);
    const r = await runAdjoint(m, { wrt: 'x', of: m.graph.output[0]!.name, dims, seed: 5, typicalDims: { n: 1, tokens: 1400 } });
    expect(r.forwardMismatch).toBe(0);
    expect(r.relError).toBeLessThan(1e-8);
  });

  it('whole p within the budget at the typical dims, or no typical dims: left whole', () => {
    for (const typicalDims of [{ n: 1, tokens: 1024 }, undefined]) {
      const m = model(F, 8);
      const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name, ...(typicalDims ? { typicalDims } : {}) });
      expect(allNodes(vjp.graph).filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'))).toHaveLength(1);
    }
  });

  it('probabilities also read elsewhere: left whole', () => {
    const m = model(D, 4, true);
    const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name, typicalDims: { n: 1, tokens: 4096 } });
    expect(allNodes(vjp.graph).filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'))).toHaveLength(1);
  });

  it('a single head: left whole', () => {
    const m = model(D, 1);
    const vjp = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name, typicalDims: { n: 1, tokens: 4096 } });
    expect(allNodes(vjp.graph).filter((n) => n.opType === 'Softmax' && !n.name.startsWith('vjp/'))).toHaveLength(1);
  });
});
