import { afterEach, describe, expect, it, vi } from 'vitest';
import { attr } from '../graph-builder.ts';
import { TensorDataType } from '../proto/types.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { inferShapes, ShapeInferenceError } from './infer-shapes.ts';
import type { ShapeRule } from './rule.ts';
import { shapeRules } from './rules/index.ts';

const F = TensorDataType.FLOAT;

afterEach(() => vi.restoreAllMocks());

describe('inferShapes', () => {
  it('folds Shape -> Gather -> Concat into a Reshape target and resolves its -1', () => {
    const model = tinyModel({
      opset: 17,
      inputs: [{ name: 'x', dims: [2, 3, 4] }],
      build: (b) => {
        const n = b.op('Gather', [b.shapeOf('x'), b.int64s([0])], { axis: attr.int(0) });
        const target = b.op('Concat', [n, b.int64s([-1])], { axis: attr.int(0) });
        return [{ name: b.reshape('x', target), dims: [null, null] }];
      },
    });
    const shapes = inferShapes(model.graph, 17);
    const out = shapes.get(model.graph.output[0]!.name)!;
    expect(out.dims).toEqual([2, 12]);
    expect(out.elemType).toBe(F);
  });

  it('derives a strided, padded Conv output from its attributes', () => {
    const model = tinyModel({
      opset: 17,
      inputs: [{ name: 'x', dims: ['n', 3, 9, 8] }],
      constants: [{ name: 'w', dims: [5, 3, 3, 3], values: new Array(135).fill(0) }],
      build: (b) => [{ name: b.op('Conv', ['x', 'w'], { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) }), dims: [null, null, null, null] }],
    });
    expect(inferShapes(model.graph, 17).get(model.graph.output[0]!.name)!.dims).toEqual([null, 5, 5, 4]);
  });

  it('names the node and op when a rule fails, instead of dropping what it knows', () => {
    const model = tinyModel({
      opset: 17,
      inputs: [{ name: 'x', dims: [2, 3] }],
      build: (b) => [{ name: b.op('Relu', ['x'], {}, 'act'), dims: [2, 3] }],
    });
    const failing: ShapeRule = () => {
      throw new Error('perm has 3 entries for a rank-2 input');
    };
    vi.spyOn(shapeRules as Record<string, ShapeRule>, 'Relu').mockImplementation(failing);
    const node = model.graph.node[0]!;
    expect(() => inferShapes(model.graph, 17)).toThrow(ShapeInferenceError);
    expect(() => inferShapes(model.graph, 17)).toThrow(`node '${node.name}' (Relu): shape inference failed: perm has 3 entries for a rank-2 input`);
  });
});
