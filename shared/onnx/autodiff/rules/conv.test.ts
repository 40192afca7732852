import { describe, expect, it } from 'vitest';
import { attr, type Attr } from '../../graph-builder.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { buildVjpGraph } from '../build-vjp.ts';
import { allNodes } from '../backward-gate.ts';

interface ConvCase {
  name: string;
  opset: number;
  x: number[];
  w: number[];
  attrs: Record<string, Attr>;
  /** Symbolic names for the spatial dims of the declared input (runtime sizes come from x). */
  dynamic?: boolean;
  bias?: boolean;
}

const cases: ConvCase[] = [
  { name: 'stride 2, pads 1, even size (output_padding 1)', opset: 14, x: [2, 3, 8, 8], w: [5, 3, 3, 3], attrs: { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) } },
  { name: 'stride 2, odd sizes, asymmetric pads, dilation, group 2', opset: 17, x: [1, 4, 7, 9], w: [6, 2, 3, 2], attrs: { strides: attr.ints([2, 2]), pads: attr.ints([0, 1, 2, 0]), dilations: attr.ints([2, 1]), group: attr.int(2) }, bias: true },
  { name: '1-D, stride 3, dilation 2, group 3', opset: 18, x: [2, 3, 11], w: [6, 1, 4], attrs: { strides: attr.ints([3]), pads: attr.ints([2, 1]), dilations: attr.ints([2]), group: attr.int(3) } },
  { name: 'depthwise 3x3, pads 1', opset: 21, x: [1, 4, 5, 6], w: [4, 1, 3, 3], attrs: { pads: attr.ints([1, 1, 1, 1]), group: attr.int(4) } },
  { name: 'patchify k=s=2 (no pads), group 1, odd channel count', opset: 18, x: [1, 3, 6, 4], w: [5, 3, 2, 2], attrs: { strides: attr.ints([2, 2]) } },
  { name: 'stride 3 exceeding kernel, pads larger than needed', opset: 17, x: [1, 2, 10, 8], w: [3, 2, 2, 2], attrs: { strides: attr.ints([3, 2]), pads: attr.ints([2, 0, 1, 3]) } },
  { name: 'auto_pad SAME_UPPER, stride 2', opset: 14, x: [1, 2, 7, 6], w: [3, 2, 3, 3], attrs: { auto_pad: attr.string('SAME_UPPER'), strides: attr.ints([2, 2]) } },
  { name: 'auto_pad SAME_LOWER, stride 2, group 2', opset: 17, x: [1, 4, 5, 8], w: [4, 2, 4, 3], attrs: { auto_pad: attr.string('SAME_LOWER'), strides: attr.ints([2, 2]), group: attr.int(2) } },
  { name: 'auto_pad VALID, stride 3', opset: 21, x: [2, 2, 8, 7], w: [3, 2, 2, 3], attrs: { auto_pad: attr.string('VALID'), strides: attr.ints([3, 3]) } },
  { name: '3-D, stride 2, pads 1, group 2', opset: 17, x: [1, 2, 5, 4, 6], w: [4, 1, 3, 3, 3], attrs: { strides: attr.ints([2, 2, 2]), pads: attr.ints([1, 1, 1, 1, 1, 1]), group: attr.int(2) } },
  { name: 'stride 1, asymmetric pads, dilation 2, group 2', opset: 18, x: [2, 4, 9, 8], w: [6, 2, 3, 2], attrs: { pads: attr.ints([1, 0, 4, 1]), dilations: attr.ints([2, 3]), group: attr.int(2) } },
  { name: '1-D stride 1, group 3, kernel 5', opset: 14, x: [1, 6, 12], w: [3, 2, 5], attrs: { pads: attr.ints([2, 3]), group: attr.int(3) } },
  { name: 'stride 1, pads beyond the kernel span (ConvTranspose path)', opset: 21, x: [1, 2, 4, 5], w: [3, 2, 2, 3], attrs: { pads: attr.ints([2, 1, 0, 3]) } },
  { name: 'auto_pad SAME_UPPER, stride 1, even kernel', opset: 17, x: [1, 3, 6, 5], w: [2, 3, 4, 2], attrs: { auto_pad: attr.string('SAME_UPPER') } },
  { name: 'symbolic spatial dims, stride 2 (crop to runtime shape), even size', opset: 14, x: [1, 3, 8, 6], w: [2, 3, 3, 3], attrs: { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) }, dynamic: true },
  { name: 'symbolic spatial dims, stride 2, odd sizes', opset: 18, x: [2, 3, 7, 9], w: [2, 3, 3, 3], attrs: { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) }, dynamic: true },
  { name: 'symbolic spatial dims, stride 1', opset: 21, x: [1, 2, 5, 7], w: [3, 2, 3, 3], attrs: { pads: attr.ints([1, 1, 1, 1]) }, dynamic: true },
];

function convModel(c: ConvCase) {
  const declared: (number | string)[] = c.dynamic ? [c.x[0]!, c.x[1]!, ...c.x.slice(2).map((_, i) => `s${i}`)] : c.x;
  return tinyModel({
    opset: c.opset,
    inputs: [
      { name: 'x', dims: declared },
      { name: 'w', dims: c.w },
      ...(c.bias ? [{ name: 'bias', dims: [c.w[0]!] }] : []),
    ],
    build: (b) => [{ name: b.op('Conv', ['x', 'w', ...(c.bias ? ['bias'] : [])], c.attrs), dims: c.x.map(() => null) }],
  });
}

describe('Conv input gradient (ConvTranspose)', () => {
  for (const c of cases) {
    it(`opset ${c.opset}, ${c.name}: x ${JSON.stringify(c.x)} w ${JSON.stringify(c.w)}`, async () => {
      const model = convModel(c);
      const dims: Record<string, number[]> = { x: c.x, w: c.w, ...(c.bias ? { bias: [c.w[0]!] } : {}) };
      for (const seed of [1, 2, 3]) {
        const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims, seed, step: 1e-2 });
        expect(r.relError).toBeLessThan(2e-3);
        expect(r.forwardMismatch).toBeLessThan(1e-5);
      }
    });
  }

  it('stride 1 uses a Conv with transformed weights; stride 2 a ConvTranspose', () => {
    const ops = (c: ConvCase) => {
      const model = convModel(c);
      return allNodes(buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name }).graph).map((n) => n.opType);
    };
    expect(ops(cases.find((c) => c.name.startsWith('depthwise'))!).filter((o) => o === 'Conv')).toHaveLength(2);
    expect(ops(cases[0]!)).toContain('ConvTranspose');
  });

  it('fails clearly when the weight lies on the gradient path', () => {
    const model = convModel(cases[0]!);
    expect(() => buildVjpGraph(model, { wrt: 'w', of: model.graph.output[0]!.name })).toThrow(/Conv weight lies on the gradient path/);
  });
});
