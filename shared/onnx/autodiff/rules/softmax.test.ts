import { describe, expect, it } from 'vitest';
import { attr } from '../../graph-builder.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { TensorDataType } from '../../proto/types.ts';
import ort from 'onnxruntime-node';
import { buildVjpGraph, gradName } from '../build-vjp.ts';
import { serializeModel } from '../../model-io.ts';
import { fromOrtTensor, toOrtTensor, gradientSwitch } from '../../ort-tensors.ts';
import { mulberry32, randn } from '../../../numeric/random.ts';
import { expectMatchesReference } from '../../testing/precision.ts';
import { allNodes } from '../backward-gate.ts';

const D = TensorDataType.DOUBLE;
const F16 = TensorDataType.FLOAT16;

describe('Softmax and LogSoftmax gradients', () => {
  const cases: { opset: number; dims: number[]; axis?: number }[] = [
    { opset: 14, dims: [2, 3, 5] },
    { opset: 17, dims: [3, 7, 4], axis: 1 },
    { opset: 18, dims: [5, 3], axis: 0 },
    { opset: 21, dims: [2, 2, 3, 9], axis: -2 },
  ];
  for (const op of ['Softmax', 'LogSoftmax']) {
    for (const c of cases) {
      it(`${op} opset ${c.opset}, x ${JSON.stringify(c.dims)}, axis ${c.axis ?? 'default'}`, async () => {
        const model = tinyModel({
          opset: c.opset,
          inputs: [{ name: 'x', dims: c.dims, elemType: D }],
          build: (b) => [{ name: b.op(op, ['x'], c.axis === undefined ? {} : { axis: attr.int(c.axis) }), dims: c.dims, elemType: D }],
        });
        const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: c.dims }, seed: c.opset });
        expect(r.relError).toBeLessThan(1e-7);
        expect(r.forwardMismatch).toBe(0);
      });
    }
  }

  it('Softmax in float16 matches its float64 twin', async () => {
    const dims = [4, 64];
    const rand = mulberry32(5);
    const x = randn(256, rand).map((v) => 2 * v);
    const u = randn(256, rand);
    const grads: Float64Array[] = [];
    for (const t of [D, F16]) {
      const model = tinyModel({ opset: 17, inputs: [{ name: 'x', dims, elemType: t }], build: (b) => [{ name: b.op('Softmax', ['x']), dims, elemType: t }] });
      const of = model.graph.output[0]!.name;
      const s = await ort.InferenceSession.create(serializeModel(buildVjpGraph(model, { wrt: 'x', of })));
      const out = await s.run({ x: toOrtTensor(t, x, dims), [gradName(of)]: toOrtTensor(t, u, dims), ...gradientSwitch(true) });
      grads.push(fromOrtTensor(out[gradName('x')]!));
      await s.release();
    }
    expectMatchesReference(grads[0]!, grads[1]!, 5e-3);
  });

  describe('attention: softmax feeding a MatMul', () => {
    // x [n, heads, L, 3] gives q, k, v of head dim 6 (too wide for the attention chain rule, so
    // the Softmax rule itself runs); y = softmax(q k^T) v. Odd sizes; value batch broadcast.
    const attention = (opts: { opset: number; x: (number | string)[]; vFromX: boolean; extraUse?: boolean; elemType?: number }) => {
      const t = opts.elemType ?? D;
      return tinyModel({
        opset: opts.opset,
        inputs: [{ name: 'x', dims: opts.x, elemType: t }, { name: 'w', dims: [3, 6], elemType: t }, { name: 'vc', dims: [1, 7, 6], elemType: t }],
        build: (b) => {
          const q = b.op('MatMul', ['x', 'w']);
          const k = b.op('Mul', ['x', b.scalar(0.5, t)]);
          const p = b.op('Softmax', [b.op('MatMul', [q, b.op('Transpose', [b.op('MatMul', [k, 'w'])], { perm: attr.ints([0, 1, 3, 2]) })])], { axis: attr.int(-1) });
          const v = opts.vFromX ? b.op('Exp', [b.op('MatMul', ['x', 'w'])]) : 'vc';
          let o = b.op('MatMul', [p, v]);
          if (opts.extraUse) o = b.op('Add', [o, b.op('ReduceSum', [p, b.int64s([-1])], { keepdims: attr.int(1) })]);
          return [{ name: o, dims: [...opts.x.slice(0, 3), 6], elemType: t }];
        },
      });
    };
    const cases = [
      { name: 'value from x', opset: 14, x: [2, 3, 7, 3], vFromX: true },
      { name: 'constant value broadcast over the batch', opset: 18, x: [2, 1, 7, 3], vFromX: false },
      { name: 'symbolic dims', opset: 21, x: ['n', 3, 'tokens', 3], vFromX: true },
      { name: 'probabilities also used elsewhere (generic rule)', opset: 17, x: [2, 3, 7, 3], vFromX: true, extraUse: true },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const model = attention(c);
        const dims = c.x.map((d) => (typeof d === 'number' ? d : 7 - 5 * Number(d === 'n')));
        const vjp = buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name });
        // Static (small) probabilities take the Softmax rule's product form; symbolic ones the
        // attention chain's, the same product on a recomputed p (attention.ts).
        const symbolic = c.x.some((d) => typeof d === 'string');
        expect(allNodes(vjp.graph).some((n) => n.name.includes('attention_recomputed_p'))).toBe(symbolic);
        // The product form needs no full-size Sub; the generic rule does.
        const subs = allNodes(vjp.graph).filter((n) => n.opType === 'Sub' && n.name.startsWith('vjp/')).length;
        expect(subs > 0).toBe(c.extraUse === true);
        const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: dims, w: [3, 6], vc: [1, 7, 6] }, seed: c.opset });
        expect(r.relError).toBeLessThan(1e-7);
        expect(r.forwardMismatch).toBe(0);
      });
    }

    it('float16 attention matches its float64 twin', async () => {
      const x = [2, 2, 16, 3];
      const rand = mulberry32(9);
      const xs = randn(192, rand);
      const ws = randn(18, rand);
      const vc = randn(42, rand);
      const u = randn(2 * 2 * 16 * 6, rand);
      const grads: Float64Array[] = [];
      for (const t of [D, F16]) {
        const model = attention({ opset: 17, x, vFromX: true, elemType: t });
        const of = model.graph.output[0]!.name;
        const s = await ort.InferenceSession.create(serializeModel(buildVjpGraph(model, { wrt: 'x', of })));
        const out = await s.run({ x: toOrtTensor(t, xs, x), w: toOrtTensor(t, ws, [3, 6]), vc: toOrtTensor(t, vc, [1, 7, 6]), [gradName(of)]: toOrtTensor(t, u, [...x.slice(0, 3), 6]), ...gradientSwitch(true) });
        grads.push(fromOrtTensor(out[gradName('x')]!));
        await s.release();
      }
      expectMatchesReference(grads[0]!, grads[1]!, 1e-2);
    });
  });
});
