import ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32, randn } from '../../../numeric/random.ts';
import { attr, type GraphBuilder } from '../../graph-builder.ts';
import { serializeModel } from '../../model-io.ts';
import { fromOrtTensor, toOrtTensor, gradientSwitch } from '../../ort-tensors.ts';
import { TensorDataType } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { buildVjpGraph, gradName } from '../build-vjp.ts';
import { chainTuning, MAX_CHAIN_COLUMNS } from './attention.ts';
import { expectMatchesReference } from '../../testing/precision.ts';
import { allNodes } from '../backward-gate.ts';

const D = TensorDataType.DOUBLE;
const F16 = TensorDataType.FLOAT16;

/** softmax(q kt) v with kt [.., d, Lk]; returns o. */
function attend(b: GraphBuilder, q: string, kt: string, v: string): string {
  return b.op('MatMul', [b.op('Softmax', [b.op('MatMul', [q, kt])], { axis: attr.int(-1) }), v]);
}

const tr = (b: GraphBuilder, x: string, rank: number) => {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return b.op('Transpose', [x], { perm: attr.ints(perm) });
};

interface Case {
  name: string;
  opset: number;
  inputs: Record<string, (number | string)[]>;
  feedDims?: Record<string, number[]>;
  out: (number | string)[];
  build: (b: GraphBuilder) => string;
  /** Whether the chain form is expected (else the node-by-node gradient). */
  chain: boolean;
  /** false where the graph is not the attention chain at all (p read elsewhere, another axis). */
  matches?: boolean;
  elemType?: number;
}

const cases: Case[] = [
  {
    name: 'self-attention, q k v from x, d 3, dv 2',
    opset: 14,
    inputs: { x: [2, 3, 7, 4], wq: [4, 3], wk: [4, 3], wv: [4, 2] },
    out: [2, 3, 7, 2],
    build: (b) => attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['x', 'wk']), 4), b.op('MatMul', ['x', 'wv'])),
    chain: true,
  },
  {
    name: 'cross-attention: 5 context tokens off the path, 7 query tokens',
    opset: 17,
    inputs: { x: [2, 7, 4], c: [2, 5, 4], wq: [4, 3], wk: [4, 3], wv: [4, 3] },
    out: [2, 7, 3],
    build: (b) => attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['c', 'wk']), 3), b.op('MatMul', ['c', 'wv'])),
    chain: true,
  },
  {
    name: 'keys and values from the first 5 of 7 tokens (Lq != Lk, all three on the path)',
    opset: 18,
    inputs: { x: [2, 7, 4], wq: [4, 3], wk: [4, 3], wv: [4, 4] },
    out: [2, 7, 4],
    build: (b) => {
      const kv = b.op('Slice', ['x', b.int64s([0]), b.int64s([5]), b.int64s([1])]);
      return attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', [kv, 'wk']), 3), b.op('MatMul', [kv, 'wv']));
    },
    chain: true,
  },
  {
    name: 'only the values on the path, broadcast over the batch',
    opset: 21,
    inputs: { x: [7, 2], q: [2, 3, 7, 3], kt: [2, 3, 3, 7] },
    out: [2, 3, 7, 2],
    build: (b) => attend(b, 'q', 'kt', b.op('Tanh', ['x'])),
    chain: true,
  },
  {
    name: 'queries broadcast over the batch, keys from a second input',
    opset: 17,
    inputs: { x: [3, 7, 4], y: [2, 3, 6, 4], wq: [4, 3], wk: [4, 3], wv: [4, 2] },
    out: [2, 3, 7, 2],
    build: (b) => attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['y', 'wk']), 4), b.op('MatMul', ['y', 'wv'])),
    chain: true,
  },
  {
    name: 'symbolic batch and token dims',
    opset: 18,
    inputs: { x: ['n', 'tokens', 4], wq: [4, 2], wk: [4, 2], wv: [4, 3] },
    feedDims: { x: [3, 9, 4] },
    out: ['n', 'tokens', 3],
    build: (b) => attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['x', 'wk']), 3), b.op('MatMul', ['x', 'wv'])),
    chain: true,
  },
  {
    name: 'symbolic query tokens against 5 static context tokens: node by node',
    opset: 17,
    inputs: { x: [2, 'tokens', 4], c: [2, 5, 4], wq: [4, 3], wk: [4, 3], wv: [4, 3] },
    feedDims: { x: [2, 7, 4] },
    out: [2, 'tokens', 3],
    build: (b) => attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['c', 'wk']), 3), b.op('MatMul', ['c', 'wv'])),
    chain: false,
  },
  {
    name: 'symbolic query and context tokens, keys and values off the path: node by node',
    opset: 18,
    inputs: { x: [2, 'tokens', 4], c: [2, 'context', 4], wq: [4, 3], wk: [4, 3], wv: [4, 3] },
    feedDims: { x: [2, 7, 4], c: [2, 6, 4] },
    out: [2, 'tokens', 3],
    build: (b) => attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['c', 'wk']), 3), b.op('MatMul', ['c', 'wv'])),
    chain: false,
  },
  {
    name: 'keys and values reshaped to a target taken from Shape(x): still cross-attention, node by node',
    opset: 18,
    inputs: { x: ['n', 'tokens', 4], c: ['n', 'context', 4], wq: [4, 3], wk: [4, 3], wv: [4, 3] },
    feedDims: { x: [2, 7, 4], c: [2, 6, 4] },
    out: ['n', 'tokens', 3],
    build: (b) => {
      const target = b.op('Concat', [b.op('Slice', [b.op('Shape', ['x']), b.int64s([0]), b.int64s([1])]), b.int64s([-1, 3])], { axis: attr.int(0) });
      const k = b.op('Reshape', [b.op('MatMul', ['c', 'wk']), target]);
      const v = b.op('Reshape', [b.op('MatMul', ['c', 'wv']), target]);
      return attend(b, b.op('MatMul', ['x', 'wq']), tr(b, k, 3), v);
    },
    chain: false,
  },
  {
    name: `heads too wide for the chain ((dv+1)*d > ${MAX_CHAIN_COLUMNS}): node by node`,
    opset: 17,
    inputs: { x: [2, 7, 4], wq: [4, 8], wk: [4, 8], wv: [4, 8] },
    out: [2, 7, 8],
    build: (b) => attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['x', 'wk']), 3), b.op('MatMul', ['x', 'wv'])),
    chain: false,
  },
  {
    name: 'probabilities also read elsewhere: node by node',
    opset: 17,
    inputs: { x: [2, 7, 4], wq: [4, 3], wk: [4, 3], wv: [4, 2] },
    out: [2, 7, 2],
    build: (b) => {
      const p = b.op('Softmax', [b.op('MatMul', [b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['x', 'wk']), 3)])], { axis: attr.int(-1) });
      const extra = b.op('ReduceSum', [b.op('Mul', [p, p]), b.int64s([-1])], { keepdims: attr.int(1) });
      return b.op('Add', [b.op('MatMul', [p, b.op('MatMul', ['x', 'wv'])]), extra]);
    },
    chain: false,
  },
  {
    name: 'softmax over another axis: node by node',
    opset: 17,
    inputs: { x: [2, 7, 4], wq: [4, 3], wk: [4, 3], wv: [4, 2] },
    out: [2, 7, 2],
    build: (b) => {
      const p = b.op('Softmax', [b.op('MatMul', [b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['x', 'wk']), 3)])], { axis: attr.int(1) });
      return b.op('MatMul', [p, b.op('MatMul', ['x', 'wv'])]);
    },
    chain: false,
  },
];

describe('attention chain gradient', () => {
  const defaultMinBytes = chainTuning.minBytes;
  afterEach(() => {
    chainTuning.minBytes = defaultMinBytes;
  });
  // The size threshold is baked into the graph: -1 takes the chain form at run time, 2^52 the
  // node-by-node form inside the same If.
  for (const [form, minBytes] of [['chain form', -1], ['node-by-node form', 2 ** 52]] as const) {
    for (const c of cases) {
      it(`${c.name} (${form})`, async () => {
        chainTuning.minBytes = minBytes;
        const t = c.elemType ?? D;
        const model = tinyModel({
          opset: c.opset,
          inputs: Object.entries(c.inputs).map(([name, dims]) => ({ name, dims, elemType: t })),
          build: (b) => [{ name: c.build(b), dims: c.out, elemType: t }],
        });
        const of = model.graph.output[0]!.name;
        const vjp = buildVjpGraph(model, { wrt: 'x', of });
        // Static sizes decide the form at build time (node-by-node: the ordinary rules, no
        // attention_ nodes); symbolic token counts get an If holding both.
        const symbolic = Object.values(c.inputs).some((dims) => dims.some((x) => typeof x === 'string'));
        const nodes = allNodes(vjp.graph);
        // Nodes of the chain form proper (the node-by-node form names its ds 'attention_ds').
        const chainNodes = nodes.filter((n) => /attention_(outer|contract|pu|ptw|repeat|dispatch)/.test(n.name));
        expect(chainNodes.length > 0).toBe(c.chain && (symbolic || form === 'chain form'));
        expect(chainNodes.some((n) => n.opType === 'If')).toBe(c.chain && symbolic);
        // p is recomputed in the backward unless its size is static and small (all static cases here).
        const recomputedP = nodes.some((n) => n.name.includes('attention_recomputed_p'));
        expect(recomputedP).toBe(symbolic && c.matches !== false);
        const dims = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, c.feedDims?.[k] ?? (v as number[])]));
        const r = await runAdjoint(model, { wrt: 'x', of, dims, seed: c.opset + c.name.length });
        expect(r.forwardMismatch).toBe(0);
        expect(r.relError).toBeLessThan(1e-7);
      });
    }
  }

  it('float16 chain form matches its float64 twin', async () => {
    chainTuning.minBytes = -1;
    const dims = { x: [2, 2, 16, 4], wq: [4, 4], wk: [4, 4], wv: [4, 4] };
    const rand = mulberry32(11);
    const values = Object.fromEntries(Object.entries(dims).map(([k, d]) => [k, randn(d.reduce((p, q) => p * q, 1), rand)]));
    const u = randn(2 * 2 * 16 * 4, rand);
    const grads: Float64Array[] = [];
    for (const t of [D, F16]) {
      const model = tinyModel({
        opset: 17,
        inputs: Object.entries(dims).map(([name, d]) => ({ name, dims: d, elemType: t })),
        build: (b) => [{ name: attend(b, b.op('MatMul', ['x', 'wq']), tr(b, b.op('MatMul', ['x', 'wk']), 4), b.op('MatMul', ['x', 'wv'])), dims: [2, 2, 16, 4], elemType: t }],
      });
      const of = model.graph.output[0]!.name;
      const vjp = buildVjpGraph(model, { wrt: 'x', of });
      expect(allNodes(vjp.graph).some((n) => n.name.includes('attention_'))).toBe(true);
      const s = await ort.InferenceSession.create(serializeModel(vjp));
      const feeds = Object.fromEntries(Object.entries(dims).map(([k, d]) => [k, toOrtTensor(t, values[k]!, d)]));
      const out = await s.run({ ...feeds, [gradName(of)]: toOrtTensor(t, u, [2, 2, 16, 4]), ...gradientSwitch(true) });
      grads.push(fromOrtTensor(out[gradName('x')]!));
      await s.release();
    }
    expectMatchesReference(grads[0]!, grads[1]!, 1e-2);
  });
});
