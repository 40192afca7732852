import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { serializeModel } from '../model-io.ts';
import { fromOrtTensor, gradientSwitch, toOrtTensor } from '../ort-tensors.ts';
import { TensorDataType } from '../proto/types.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { backwardBranch, WITH_GRADIENT } from './backward-gate.ts';
import { buildVjpGraph, gradName, isGradientNode } from './build-vjp.ts';

// float32: ORT fuses x * sigmoid(x) into QuickGelu, which it implements for float32 only.
const D = TensorDataType.FLOAT;

// y = Reshape(sigmoid(x) * x, Shape(x)) + x: SiLU (whose sigmoid the backward recomputes), a
// Reshape whose gradient needs Shape(x), and a residual.
const model = tinyModel({
  opset: 17,
  inputs: [{ name: 'x', dims: ['n', 6], elemType: D }],
  build: (b) => {
    const silu = b.mul(b.op('Sigmoid', ['x']), 'x');
    const flat = b.reshape(silu, b.int64s([-1]));
    return [{ name: b.add(b.reshape(flat, b.op('Shape', ['x'])), 'x'), dims: ['n', 6], elemType: D }];
  },
});
const of = model.graph.output[0]!.name;
const vjp = buildVjpGraph(model, { wrt: 'x', of });

describe('the backward behind an If on with_gradient', () => {
  it('is a required boolean input; the backward is one If branch', () => {
    const flag = vjp.graph.input.find((i) => i.name === WITH_GRADIENT)!;
    expect(flag.type?.tensorType?.elemType).toBe(TensorDataType.BOOL);
    expect(vjp.graph.initializer.some((t) => t.name === WITH_GRADIENT)).toBe(false);
    expect(vjp.graph.node.filter((n) => n.opType === 'If')).toHaveLength(1);
    expect(backwardBranch(vjp.graph)!.node.length).toBeGreaterThan(3);
  });

  it('keeps shape arithmetic on forward values outside the branch, and recomputations first inside it', () => {
    const outside = vjp.graph.node.filter(isGradientNode).filter((n) => n.opType !== 'If');
    expect(outside.length).toBeGreaterThan(0);
    expect(outside.every((n) => n.opType === 'Shape')).toBe(true);
    const branch = backwardBranch(vjp.graph)!.node;
    expect(branch[0]!.opType).toBe('Sigmoid');
    const firstReadingCotangent = branch.findIndex((n) => n.input.includes(gradName(of)));
    expect(firstReadingCotangent).toBeGreaterThan(branch.findIndex((n) => n.opType === 'Sigmoid'));
  });

  it('runs the backward only when asked: the same output either way, zeros for the gradient when off', async () => {
    const session = await ort.InferenceSession.create(serializeModel(vjp));
    try {
      const x = toOrtTensor(D, [0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2, 0, 1, -0.5, 0.1], [2, 6]);
      const u = toOrtTensor(D, new Array(12).fill(1), [2, 6]);
      const on = await session.run({ x, [gradName(of)]: u, ...gradientSwitch(true) });
      const off = await session.run({ x, [gradName(of)]: u, ...gradientSwitch(false) });
      expect(Array.from(fromOrtTensor(off[of]!))).toEqual(Array.from(fromOrtTensor(on[of]!)));
      expect(Array.from(fromOrtTensor(off[gradName('x')]!))).toEqual(new Array(12).fill(0));
      const g = fromOrtTensor(on[gradName('x')]!);
      const xs = [0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2, 0, 1, -0.5, 0.1];
      const s = (v: number) => 1 / (1 + Math.exp(-v));
      xs.forEach((v, i) => expect(g[i]!).toBeCloseTo(1 + s(v) * (1 + v * (1 - s(v))), 5));
    } finally {
      await session.release();
    }
  });

  it('refuses a graph that already has a value named with_gradient', () => {
    const clash = tinyModel({ opset: 17, inputs: [{ name: 'x', dims: [2], elemType: D }, { name: WITH_GRADIENT, dims: [2], elemType: D }], build: (b) => [{ name: b.add('x', WITH_GRADIENT), dims: [2], elemType: D }] });
    expect(() => buildVjpGraph(clash, { wrt: 'x', of: clash.graph.output[0]!.name })).toThrow(/already has a value named 'with_gradient'/);
  });
});

