import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { serializeModel } from '../model-io.ts';
import { fromOrtTensor, gradientSwitch, toOrtTensor } from '../ort-tensors.ts';
import { TensorDataType } from '../proto/types.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { buildVjpGraph, gradName } from './build-vjp.ts';
import { addResidualObjective, OBJECTIVE } from './residual-objective.ts';

const F = TensorDataType.FLOAT;
const D = TensorDataType.DOUBLE;
const n = 6;
// m(x) = tanh(x) * w: elementwise, so J^T u = w (1 - tanh(x)^2) u is known in closed form.
const w = [0.5, -1, 2, 0.25, 1.5, -0.75];
const model = tinyModel({
  opset: 17,
  inputs: [{ name: 'x', dims: ['batch', n], elemType: F }],
  constants: [{ name: 'w', dims: [n], values: w }],
  build: (b) => [{ name: b.mul(b.op('Tanh', ['x']), 'w'), dims: ['batch', n], elemType: F }],
});
const of = model.graph.output[0]!.name;
const fused = addResidualObjective(buildVjpGraph(model, { wrt: 'x', of }), { wrt: 'x', of });

describe('the residual objective around the gated backward', () => {
  it('returns mean(r^2) and sigma (2/n) (a r + b sum_k mix_k J^T r) for two mixed branch copies', async () => {
    const session = await ort.InferenceSession.create(serializeModel(fused));
    const x = [0.3, -0.2, 0.9, -1.1, 0.05, 0.6];
    const y = [0.1, 0.2, -0.3, 0.4, -0.5, 0.6];
    const [a, bc, sigma, guidance] = [0.9, -0.4, 0.7, 3];
    const mix = [1 - guidance, guidance];
    // The branch copies see the same latent; their outputs mix as (1 - w) m + w m = m.
    const res = await session.run({
      x: toOrtTensor(F, [...x, ...x], [2, n]),
      [gradName(of)]: toOrtTensor(F, new Array(2 * n).fill(0), [2, n]),
      [OBJECTIVE.latent]: toOrtTensor(F, x, [1, n]),
      [OBJECTIVE.target]: toOrtTensor(F, y, [1, n]),
      [OBJECTIVE.a]: toOrtTensor(D, [a], []),
      [OBJECTIVE.b]: toOrtTensor(D, [bc], []),
      [OBJECTIVE.sigma]: toOrtTensor(D, [sigma], []),
      [OBJECTIVE.mix]: toOrtTensor(D, mix, [2]),
      ...gradientSwitch(true),
    });
    const m = x.map((v, k) => Math.fround(Math.tanh(v) * w[k]!));
    const r = x.map((v, k) => a * v + bc * m[k]! - y[k]!);
    const jtr = x.map((v, k) => w[k]! * (1 - Math.tanh(v) ** 2) * r[k]!);
    const grad = r.map((rk, k) => sigma * (2 / n) * (a * rk + bc * jtr[k]!));
    const loss = r.reduce((acc, v) => acc + v * v, 0) / n;
    expect(fromOrtTensor(res[OBJECTIVE.loss]!)[0]).toBeCloseTo(loss, 6);
    Array.from(fromOrtTensor(res[OBJECTIVE.gradient]!)).forEach((g, k) => expect(g).toBeCloseTo(grad[k]!, 5));
    await session.release();
  });

  it('refuses a graph without the gradient gate, or one that already uses its names', () => {
    expect(() => addResidualObjective(model, { wrt: 'x', of })).toThrow(/no If on 'with_gradient'/);
    const clash = tinyModel({
      opset: 17,
      inputs: [{ name: 'x', dims: [2, n], elemType: F }, { name: OBJECTIVE.target, dims: [2, n], elemType: F }],
      build: (b) => [{ name: b.add('x', OBJECTIVE.target), dims: [2, n], elemType: F }],
    });
    const clashOf = clash.graph.output[0]!.name;
    expect(() => addResidualObjective(buildVjpGraph(clash, { wrt: 'x', of: clashOf }), { wrt: 'x', of: clashOf })).toThrow(/already has a value named 'objective_target'/);
  });
});
