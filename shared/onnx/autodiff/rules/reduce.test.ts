import { describe, expect, it } from 'vitest';
import { attr, type Attr, type GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType, type ModelProto } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';

const D = TensorDataType.DOUBLE;
const I64 = TensorDataType.INT64;
const TOL = 1e-6;

type Dims = (number | string)[];

function model(opset: number, inputs: { name: string; dims: Dims; elemType?: number }[], build: (b: GraphBuilder) => string, elemType: number = D): ModelProto {
  const m = tinyModel({ opset, inputs: inputs.map((i) => ({ elemType, ...i })), build: (b) => [{ name: build(b), dims: [], elemType }] });
  delete m.graph.output[0]!.type!.tensorType!.shape;
  return m;
}

async function adjoint(m: ModelProto, wrt: string, dims: Record<string, number[]>, values?: Record<string, ArrayLike<number>>, step?: number) {
  const r = await runAdjoint(m, { wrt, of: m.graph.output[0]!.name, dims, values, step });
  expect(r.forwardMismatch).toBe(0);
  return r.relError;
}

/** A reduce node with axes as attribute (before `since`) or as input (from `since`). */
function reduce(b: GraphBuilder, op: string, x: string, axes: number[] | undefined, since: number, attrs: Record<string, Attr> = {}): string {
  if (axes === undefined) return b.op(op, [x], attrs);
  if (b.opset >= since) return b.op(op, [x, b.int64s(axes)], attrs);
  return b.op(op, [x], { ...attrs, axes: attr.ints(axes) });
}

const SINCE: Record<string, number> = { ReduceSum: 13, ReduceMean: 18, ReduceSumSquare: 18, ReduceL2: 18, ReduceL1: 18, ReduceMax: 18, ReduceMin: 18 };
const shape = [3, 4, 5];

describe('reduction gradient rules', () => {
  for (const op of Object.keys(SINCE)) {
    for (const opset of [14, 17, 18, 21]) {
      for (const keepdims of [1, 0]) {
        it(`${op} axes [1,-1] keepdims=${keepdims} opset ${opset}`, async () => {
          const m = model(opset, [{ name: 'x', dims: shape }], (b) => b.op('Sin', [reduce(b, op, 'x', [1, -1], SINCE[op]!, { keepdims: attr.int(keepdims) })]));
          expect(await adjoint(m, 'x', { x: shape })).toBeLessThan(TOL);
        });
      }
    }
    it(`${op} over all axes (no axes given), keepdims=0`, async () => {
      const m = model(18, [{ name: 'x', dims: shape }], (b) => b.op('Sin', [reduce(b, op, 'x', undefined, SINCE[op]!, { keepdims: attr.int(0) })]));
      expect(await adjoint(m, 'x', { x: shape })).toBeLessThan(TOL);
    });
    it(`${op} with symbolic dims [N,4,K] and a negative axis`, async () => {
      const m = model(17, [{ name: 'x', dims: ['N', 4, 'K'] }], (b) => b.op('Sin', [reduce(b, op, 'x', [-1], SINCE[op]!, { keepdims: attr.int(0) })]));
      expect(await adjoint(m, 'x', { x: shape })).toBeLessThan(TOL);
    });
  }

  for (const op of ['ReduceSum', 'ReduceMean']) {
    it(`${op} with empty axes and noop_with_empty_axes=1 is the identity`, async () => {
      const m = model(18, [{ name: 'x', dims: shape }], (b) => b.op('Sin', [b.op(op, ['x', b.constant(I64, [0], [])], { noop_with_empty_axes: attr.int(1) })]));
      expect(await adjoint(m, 'x', { x: shape })).toBeLessThan(TOL);
    });
  }

  it('ReduceSum with empty axes and noop_with_empty_axes=0 reduces everything', async () => {
    const m = model(14, [{ name: 'x', dims: shape }], (b) => b.op('Sin', [b.op('ReduceSum', ['x', b.constant(I64, [0], [])], { keepdims: attr.int(0) })]));
    expect(await adjoint(m, 'x', { x: shape })).toBeLessThan(TOL);
  });

  for (const op of ['ReduceSum', 'ReduceMean', 'ReduceMax']) {
    for (const keepdims of [0, 1]) {
      it(`${op} with runtime axes and symbolic dims, keepdims=${keepdims}`, async () => {
        const m = model(18, [{ name: 'x', dims: ['N', 4, 'K'] }, { name: 'a', dims: [2], elemType: I64 }], (b) =>
          b.op('Sin', [b.op(op, ['x', 'a'], { keepdims: attr.int(keepdims) })]),
        );
        expect(await adjoint(m, 'x', { x: shape, a: [2] }, { a: [0, -1] })).toBeLessThan(TOL);
      });
    }
  }

  for (const op of ['ReduceMax', 'ReduceMin']) {
    it(`${op} over two copies of x shares the cotangent of each tie evenly`, async () => {
      const m = model(14, [{ name: 'x', dims: [2, 5] }], (b) =>
        b.op('Sin', [reduce(b, op, b.op('Concat', ['x', 'x', b.op('Neg', ['x'])], { axis: attr.int(0) }), [0], 18, { keepdims: attr.int(0) })]),
      );
      // Column maxima of [x; x; -x] are ties between the two copies of x (or between the rows of -x).
      expect(await adjoint(m, 'x', { x: [2, 5] })).toBeLessThan(TOL);
    });
  }

  it('float16 ReduceMean and ReduceMax build graphs that run (float32 accumulation)', async () => {
    const m = model(18, [{ name: 'x', dims: [4, 'K'] }], (b) => b.add(reduce(b, 'ReduceMean', 'x', [1], 18), reduce(b, 'ReduceMax', 'x', [1], 18)), TensorDataType.FLOAT16);
    const vals = Array.from({ length: 24 }, (_, i) => ((i * 7) % 11) / 4 - 1);
    expect(await adjoint(m, 'x', { x: [4, 6] }, { x: vals }, 0.05)).toBeLessThan(2e-2);
  });
});
