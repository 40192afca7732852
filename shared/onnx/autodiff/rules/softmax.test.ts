import { describe, expect, it } from 'vitest';
import { attr } from '../../graph-builder.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { TensorDataType } from '../../proto/types.ts';
import ort from 'onnxruntime-node';
import { buildVjpGraph, gradName } from '../build-vjp.ts';
import { serializeModel } from '../../model-io.ts';
import { fromOrtTensor, toOrtTensor } from '../../ort-tensors.ts';
import { mulberry32, randn } from '../../../numeric/random.ts';

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
      const out = await s.run({ x: toOrtTensor(t, x, dims), [gradName(of)]: toOrtTensor(t, u, dims) });
      grads.push(fromOrtTensor(out[gradName('x')]!));
      await s.release();
    }
    const scale = Math.max(...grads[0]!.map(Math.abs));
    const err = Math.max(...grads[0]!.map((g, i) => Math.abs(g - grads[1]![i]!)));
    expect(err / scale).toBeLessThan(5e-3);
    expect(scale).toBeGreaterThan(0.01);
  });
});
