import { describe, expect, it } from 'vitest';
import { attr, type Attr, type GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { buildVjpGraph } from '../build-vjp.ts';
import { inferShapes } from '../../shape/infer-shapes.ts';

const F = TensorDataType.FLOAT;

const torchNearest: Record<string, Attr> = {
  mode: attr.string('nearest'),
  coordinate_transformation_mode: attr.string('asymmetric'),
  nearest_mode: attr.string('floor'),
};

interface ResizeCase {
  name: string;
  opset: number;
  x: number[];
  declared?: (number | string)[];
  y: number[];
  attrs: Record<string, Attr>;
  /** Emits the scales/sizes inputs: [roi, scales, sizes] names ('' when omitted). */
  params: (b: GraphBuilder) => string[];
}

const scalesOf = (v: number[]) => (b: GraphBuilder) => ['', b.constant(F, [v.length], v, 'scales')];
const sizesOf = (v: number[]) => (b: GraphBuilder) => ['', '', b.int64s(v, 'sizes')];

const cases: ResizeCase[] = [
  { name: 'torch nearest 2x (asymmetric, floor)', opset: 14, x: [2, 3, 4, 5], y: [2, 3, 8, 10], attrs: torchNearest, params: scalesOf([1, 1, 2, 2]) },
  { name: 'default modes (half_pixel, round_prefer_floor), factors 3 and 2, odd sizes', opset: 17, x: [1, 2, 3, 5], y: [1, 2, 9, 10], attrs: { mode: attr.string('nearest') }, params: scalesOf([1, 1, 3, 2]) },
  { name: 'axes attribute, factor 2 on the last axis only', opset: 18, x: [2, 3, 5], y: [2, 3, 10], attrs: { ...torchNearest, axes: attr.ints([2]) }, params: scalesOf([2]) },
  { name: 'axes attribute with sizes on the spatial axes', opset: 18, x: [2, 3, 3, 5], y: [2, 3, 6, 10], attrs: { ...torchNearest, axes: attr.ints([2, -1]) }, params: (b) => ['', '', b.int64s([6, 10], 'sizes')] },
  { name: 'sizes given, pytorch_half_pixel + round_prefer_ceil', opset: 19, x: [1, 2, 3, 3], y: [1, 2, 6, 9], attrs: { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('pytorch_half_pixel'), nearest_mode: attr.string('round_prefer_ceil') }, params: sizesOf([1, 2, 6, 9]) },
  { name: 'half_pixel_symmetric, factor 4 (wider accumulator)', opset: 21, x: [1, 1, 3, 2], y: [1, 1, 12, 8], attrs: { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('half_pixel_symmetric') }, params: scalesOf([1, 1, 4, 4]) },
  { name: 'asymmetric + round_prefer_floor is a block replication for factor 2', opset: 17, x: [1, 2, 3, 3], y: [1, 2, 6, 6], attrs: { ...torchNearest, nearest_mode: attr.string('round_prefer_floor') }, params: scalesOf([1, 1, 2, 2]) },
  { name: 'symbolic batch and spatial dims, constant scales', opset: 17, x: [2, 3, 5, 4], declared: ['n', 3, 'h', 'w'], y: [2, 3, 10, 8], attrs: torchNearest, params: scalesOf([1, 1, 2, 2]) },
  {
    name: 'symbolic dims, sizes computed from Shape at runtime', opset: 18, x: [1, 2, 3, 5], declared: ['n', 'c', 'h', 'w'], y: [1, 2, 6, 10], attrs: torchNearest,
    params: (b) => {
      const shape = b.shapeOf('x');
      const lead = b.op('Slice', [shape, b.int64s([0]), b.int64s([2])]);
      const hw = b.op('Mul', [b.op('Slice', [shape, b.int64s([2]), b.int64s([4])]), b.int64s([2, 2])]);
      return ['', '', b.op('Concat', [lead, hw], { axis: attr.int(0) })];
    },
  },
];

function resizeModel(c: ResizeCase) {
  return tinyModel({
    opset: c.opset,
    inputs: [{ name: 'x', dims: c.declared ?? c.x }],
    build: (b) => [{ name: b.op('Resize', ['x', ...c.params(b)], c.attrs), dims: c.declared ? c.y.map(() => null) : c.y }],
  });
}

describe('nearest Resize gradient', () => {
  for (const c of cases) {
    it(`opset ${c.opset}, ${c.name}: x ${JSON.stringify(c.x)} -> ${JSON.stringify(c.y)}`, async () => {
      const model = resizeModel(c);
      for (const seed of [1, 2]) {
        const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: c.x }, seed, step: 1e-2 });
        expect(r.relError).toBeLessThan(2e-3);
        expect(r.forwardMismatch).toBe(0);
      }
    });
  }

  it('shape inference keeps the dims that an axes-restricted Resize leaves alone', () => {
    const c = cases.find((k) => k.name.startsWith('axes attribute with sizes'))!;
    const model = resizeModel({ ...c, y: c.y.map(() => null as unknown as number) });
    expect(inferShapes(model.graph, c.opset).get(model.graph.output[0]!.name)?.dims).toEqual([2, 3, 6, 10]);
  });

  const failing: [string, Record<string, Attr>, number[], RegExp][] = [
    ['linear mode', { mode: attr.string('linear') }, [1, 1, 2, 2], /only 'nearest'/],
    ['a non-integer factor', torchNearest, [1, 1, 1.5, 2], /not a positive integer/],
    ['a downsampling factor', torchNearest, [1, 1, 0.5, 0.5], /not a positive integer/],
    ['asymmetric + round_prefer_floor with factor 3 (not a block replication)', { ...torchNearest, nearest_mode: attr.string('round_prefer_floor') }, [1, 1, 3, 3], /not a block replication/],
    ['half_pixel + floor (not a block replication)', { ...torchNearest, coordinate_transformation_mode: attr.string('half_pixel') }, [1, 1, 2, 2], /not a block replication/],
    ['align_corners', { ...torchNearest, coordinate_transformation_mode: attr.string('align_corners') }, [1, 1, 2, 2], /not a block replication/],
  ];
  for (const [what, attrs, scales, message] of failing) {
    it(`fails clearly for ${what}`, () => {
      const model = resizeModel({ name: what, opset: 17, x: [1, 1, 4, 4], y: [1, 1, null as unknown as number, 8], attrs, params: scalesOf(scales) });
      expect(() => buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name })).toThrow(message);
    });
  }
});
