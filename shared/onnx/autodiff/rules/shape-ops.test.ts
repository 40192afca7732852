import { describe, expect, it } from 'vitest';
import { attr, type GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType, type ModelProto } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { buildVjpGraph } from '../build-vjp.ts';
import { allNodes } from '../backward-gate.ts';

const D = TensorDataType.DOUBLE;
const I64 = TensorDataType.INT64;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

type Dims = (number | string)[];
interface In { name: string; dims: Dims; elemType?: number }

function model(opset: number, inputs: In[], build: (b: GraphBuilder) => string): ModelProto {
  const m = tinyModel({ opset, inputs: inputs.map((i) => ({ elemType: D, ...i })), build: (b) => [{ name: build(b), dims: [], elemType: D }] });
  delete m.graph.output[0]!.type!.tensorType!.shape;
  return m;
}

/** An int64 initializer holding exact 64-bit values (INT64_MAX does not survive a double). */
function i64(b: GraphBuilder, values: (number | bigint)[], dims = [values.length]): string {
  const name = b.fresh('i64');
  const raw = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
  b.initializers.push({ name, dataType: I64, dims, rawData: raw });
  return name;
}

async function adjoint(m: ModelProto, wrt: string, dims: Record<string, number[]>, values?: Record<string, ArrayLike<number>>) {
  const r = await runAdjoint(m, { wrt, of: m.graph.output[0]!.name, dims, values });
  expect(r.forwardMismatch).toBe(0);
  return r.relError;
}

/** Op types of the gradient nodes (everything after the forward graph). */
function gradOps(m: ModelProto): string[] {
  const g = buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name });
  const forward = new Set(m.graph.node.map((n) => n.name));
  return allNodes(g.graph).filter((n) => !forward.has(n.name)).map((n) => n.opType);
}

const TOL = 1e-6;

describe('reshape-like gradient rules', () => {
  it('Reshape [2,3,5] -> [5,-1] with static dims uses a constant shape', async () => {
    const m = model(14, [{ name: 'x', dims: [2, 3, 5] }], (b) => b.op('Tanh', [b.reshape('x', b.int64s([5, -1]))]));
    expect(await adjoint(m, 'x', { x: [2, 3, 5] })).toBeLessThan(TOL);
    expect(gradOps(m)).not.toContain('Shape');
  });

  it('Reshape with a symbolic batch [N,3,5] -> [0,-1]', async () => {
    const m = model(18, [{ name: 'x', dims: ['N', 3, 5] }], (b) => b.op('Sin', [b.reshape('x', b.int64s([0, -1]))]));
    expect(await adjoint(m, 'x', { x: [2, 3, 5] })).toBeLessThan(TOL);
  });

  for (const axis of [2, -1, 0]) {
    it(`Flatten axis ${axis} of [2,3,4,5]`, async () => {
      const m = model(17, [{ name: 'x', dims: [2, 3, 4, 5] }], (b) => b.op('Sin', [b.op('Flatten', ['x'], { axis: attr.int(axis) })]));
      expect(await adjoint(m, 'x', { x: [2, 3, 4, 5] })).toBeLessThan(TOL);
    });
  }

  it('Squeeze with negative axes, Squeeze without axes, Unsqueeze with negative axes (opset 21)', async () => {
    const m = model(21, [{ name: 'x', dims: [3, 1, 4, 1] }], (b) => {
      const s = b.squeeze('x', [-1]);
      const all = b.op('Squeeze', [b.op('Exp', [s])]);
      return b.op('Sin', [b.unsqueeze(all, [0, -1])]);
    });
    expect(await adjoint(m, 'x', { x: [3, 1, 4, 1] })).toBeLessThan(TOL);
  });

  it('Squeeze without axes on symbolic dims [N,1,K]', async () => {
    const m = model(14, [{ name: 'x', dims: ['N', 1, 'K'] }], (b) => b.op('Sin', [b.op('Squeeze', ['x'])]));
    expect(await adjoint(m, 'x', { x: [3, 1, 5] })).toBeLessThan(TOL);
  });

  for (const perm of [[2, 0, 1], undefined]) {
    it(`Transpose perm ${perm ? `[${perm.join(',')}]` : 'default (reversed)'} of [2,3,5]`, async () => {
      const m = model(14, [{ name: 'x', dims: [2, 3, 5] }], (b) => b.op('Sin', [b.op('Transpose', ['x'], perm ? { perm: attr.ints(perm) } : {})]));
      expect(await adjoint(m, 'x', { x: [2, 3, 5] })).toBeLessThan(TOL);
    });
  }
});

describe('Expand', () => {
  it('x [3,1] to [2,3,4]: a leading axis and a size-1 axis, reduced with static axes', async () => {
    const m = model(14, [{ name: 'x', dims: [3, 1] }], (b) => b.op('Sin', [b.op('Expand', ['x', b.int64s([2, 3, 4])])]));
    expect(await adjoint(m, 'x', { x: [3, 1] })).toBeLessThan(TOL);
    expect(gradOps(m)).not.toContain('NonZero');
  });

  it('x [3,4] to [2,1,4]: the target dim 1 keeps the input dim', async () => {
    const m = model(17, [{ name: 'x', dims: [3, 4] }], (b) => b.op('Sin', [b.op('Expand', ['x', b.int64s([2, 1, 4])])]));
    expect(await adjoint(m, 'x', { x: [3, 4] })).toBeLessThan(TOL);
  });

  for (const actual of [[3, 1], [3, 4], [1, 1]]) {
    it(`symbolic x [A,B] (actually [${actual.join(',')}]) to [2,3,4]: broadcast axes decided at run time`, async () => {
      const m = model(18, [{ name: 'x', dims: ['A', 'B'] }], (b) => b.op('Sin', [b.op('Expand', ['x', b.int64s([2, 3, 4])])]));
      expect(await adjoint(m, 'x', { x: actual })).toBeLessThan(TOL);
    });
  }

  it('Expand to the runtime shape of another input', async () => {
    const m = model(21, [{ name: 'x', dims: [1, 'K'] }, { name: 'z', dims: ['N', 'K'] }], (b) => b.mul(b.op('Expand', ['x', b.shapeOf('z')]), 'z'));
    expect(await adjoint(m, 'x', { x: [1, 5], z: [3, 5] })).toBeLessThan(TOL);
  });
});

describe('Concat and Split', () => {
  it('Concat where every input is on the path (one Split)', async () => {
    const m = model(14, [{ name: 'x', dims: [2, 3, 4] }], (b) => b.op('Sin', [b.op('Concat', ['x', b.op('Exp', [b.op('Slice', ['x', b.int64s([1]), b.int64s([3]), b.int64s([1])])])], { axis: attr.int(-2) })]));
    expect(await adjoint(m, 'x', { x: [2, 3, 4] })).toBeLessThan(TOL);
    expect(gradOps(m)).toContain('Split');
  });

  it('Concat with an input off the path (Slice at a static offset)', async () => {
    const m = model(18, [{ name: 'x', dims: [2, 3, 4] }, { name: 'c', dims: [2, 5, 4] }], (b) => b.op('Sin', [b.op('Concat', ['c', 'x', 'c'], { axis: attr.int(1) })]));
    expect(await adjoint(m, 'x', { x: [2, 3, 4], c: [2, 5, 4] })).toBeLessThan(TOL);
  });

  it('Concat with symbolic sizes: offsets at run time, both paths', async () => {
    const m = model(14, [{ name: 'x', dims: ['N', 'K'] }, { name: 'c', dims: ['N', 'J'] }], (b) => {
      const off = b.op('Concat', ['c', 'x'], { axis: attr.int(1) });
      const all = b.op('Concat', ['x', b.op('Exp', ['x'])], { axis: attr.int(-1) });
      return b.op('Concat', [b.op('Sin', [off]), all], { axis: attr.int(1) });
    });
    expect(await adjoint(m, 'x', { x: [2, 3], c: [2, 4] })).toBeLessThan(TOL);
  });

  it('Split with a split input (opset 14), outputs 0 and 2 used', async () => {
    const m = model(14, [{ name: 'x', dims: [4, 7] }], (b) => {
      const [o0, , o2] = b.node('Split', ['x', b.int64s([2, 3, 2])], { axis: attr.int(1) }, 3);
      return b.mul(o0!, o2!);
    });
    expect(await adjoint(m, 'x', { x: [4, 7] })).toBeLessThan(TOL);
  });

  it('Split into equal parts without a split input (opset 14), only the middle one used', async () => {
    const m = model(14, [{ name: 'x', dims: [6, 5] }], (b) => b.op('Sin', [b.node('Split', ['x'], { axis: attr.int(0) }, 3)[1]!]));
    expect(await adjoint(m, 'x', { x: [6, 5] })).toBeLessThan(TOL);
  });

  it('Split with num_outputs (opset 18) into 3,3,1, negative axis', async () => {
    const m = model(18, [{ name: 'x', dims: [2, 7] }], (b) => {
      const [o0, o1, o2] = b.node('Split', ['x'], { axis: attr.int(-1), num_outputs: attr.int(3) }, 3);
      return b.op('Concat', [b.op('Sin', [o1!]), b.mul(o2!, o2!), b.mul(o0!, o1!)], { axis: attr.int(1) });
    });
    expect(await adjoint(m, 'x', { x: [2, 7] })).toBeLessThan(TOL);
  });

  it('Split of symbolic dims (opset 21), zeros shaped at run time', async () => {
    const m = model(21, [{ name: 'x', dims: ['N', 6] }], (b) => b.op('Sin', [b.node('Split', ['x', b.int64s([2, 4])], { axis: attr.int(1) }, 2)[1]!]));
    expect(await adjoint(m, 'x', { x: [3, 6] })).toBeLessThan(TOL);
  });
});

describe('Slice', () => {
  const sl = (b: GraphBuilder, x: string, starts: string, ends: string, axes?: string, steps?: string) =>
    b.op('Slice', [x, starts, ends, ...(axes ? [axes] : []), ...(steps ? [steps] : [])]);

  it('steps 1, negative axis and start, INT64_MAX end: one Pad with constant amounts', async () => {
    const m = model(14, [{ name: 'x', dims: [5, 7, 6] }], (b) => b.op('Sin', [sl(b, 'x', i64(b, [1, -4]), i64(b, [4, INT64_MAX]), i64(b, [0, -1]))]));
    expect(await adjoint(m, 'x', { x: [5, 7, 6] })).toBeLessThan(TOL);
    expect(gradOps(m).filter((o) => o !== 'Sin' && o !== 'Cos' && o !== 'Mul')).toEqual(['Pad', 'Identity']);
  });

  it('no axes input: starts apply to the leading axes; ends past the dim are clamped', async () => {
    const m = model(17, [{ name: 'x', dims: [5, 7] }], (b) => b.op('Sin', [sl(b, 'x', i64(b, [-3, 2]), i64(b, [100, -1]))]));
    expect(await adjoint(m, 'x', { x: [5, 7] })).toBeLessThan(TOL);
  });

  it('steps 2 and 3 with clamped ends', async () => {
    const m = model(18, [{ name: 'x', dims: [7, 10] }], (b) => b.op('Sin', [sl(b, 'x', i64(b, [0, 1]), i64(b, [7, 100]), i64(b, [0, 1]), i64(b, [2, 3]))]));
    expect(await adjoint(m, 'x', { x: [7, 10] })).toBeLessThan(TOL);
  });

  it('negative steps -1 and -2 with INT64_MIN end and a start past the end', async () => {
    const m = model(21, [{ name: 'x', dims: [6, 9] }], (b) => b.op('Sin', [sl(b, 'x', i64(b, [-1, 100]), i64(b, [INT64_MIN, 1]), i64(b, [0, 1]), i64(b, [-1, -2]))]));
    expect(await adjoint(m, 'x', { x: [6, 9] })).toBeLessThan(TOL);
  });

  it('int32 starts and ends', async () => {
    const m = model(14, [{ name: 'x', dims: [6, 5] }], (b) => {
      const i32 = (v: number[]) => b.constant(TensorDataType.INT32, [v.length], v);
      return b.op('Sin', [sl(b, 'x', i32([1]), i32([-1]), i32([1]))]);
    });
    expect(await adjoint(m, 'x', { x: [6, 5] })).toBeLessThan(TOL);
  });

  it('symbolic dims [N,M]: steps 1 and 2, negative start, pad amounts at run time', async () => {
    const m = model(14, [{ name: 'x', dims: ['N', 'M'] }], (b) => b.op('Sin', [sl(b, 'x', i64(b, [1, -7]), i64(b, [-1, INT64_MAX]), i64(b, [0, 1]), i64(b, [1, 2]))]));
    expect(await adjoint(m, 'x', { x: [5, 11] })).toBeLessThan(TOL);
  });

  it('starts before the beginning are clamped to 0, static and symbolic', async () => {
    const m = model(14, [{ name: 'x', dims: ['N', 6] }], (b) => b.op('Sin', [sl(b, 'x', i64(b, [-100, -100]), i64(b, [2, 4]))]));
    expect(await adjoint(m, 'x', { x: [5, 6] })).toBeLessThan(TOL);
  });

  it('symbolic dims with a negative step -3', async () => {
    const m = model(18, [{ name: 'x', dims: [3, 'M'] }], (b) => b.op('Sin', [sl(b, 'x', i64(b, [-2]), i64(b, [INT64_MIN]), i64(b, [-1]), i64(b, [-3]))]));
    expect(await adjoint(m, 'x', { x: [3, 11] })).toBeLessThan(TOL);
  });

  it('start computed at run time (second half of a symbolic axis, as chunk exports do)', async () => {
    const m = model(17, [{ name: 'x', dims: ['N', 'C'] }], (b) => {
      const half = b.div(b.op('Gather', [b.shapeOf('x'), b.int64s([1])], { axis: attr.int(0) }), b.int64s([2]));
      return b.op('Sin', [sl(b, 'x', half, i64(b, [INT64_MAX]), b.int64s([1]))]);
    });
    expect(await adjoint(m, 'x', { x: [2, 8] })).toBeLessThan(TOL);
  });
});

describe('Gather', () => {
  for (const [index, opset] of [[2, 14], [-1, 18]] as const) {
    it(`constant scalar index ${index} on axis 1 (opset ${opset}): a Pad, no scatter`, async () => {
      const m = model(opset, [{ name: 'x', dims: [3, 5, 4] }], (b) => b.op('Sin', [b.op('Gather', ['x', b.int64Scalar(index)], { axis: attr.int(1) })]));
      expect(await adjoint(m, 'x', { x: [3, 5, 4] })).toBeLessThan(TOL);
      expect(gradOps(m)).toContain('Pad');
    });
  }

  it('constant consecutive indices [1,2,3] on axis -1', async () => {
    const m = model(14, [{ name: 'x', dims: [3, 5] }], (b) => b.op('Sin', [b.op('Gather', ['x', b.int64s([1, 2, 3])], { axis: attr.int(-1) })]));
    expect(await adjoint(m, 'x', { x: [3, 5] })).toBeLessThan(TOL);
  });

  for (const opset of [14, 15, 16, 21]) {
    it(`constant 2-D indices with repeats and a negative index on axis 1 (opset ${opset}): repeats accumulate`, async () => {
      const m = model(opset, [{ name: 'x', dims: [3, 5, 4] }], (b) => {
        const idx = b.constant(I64, [3, 2], [0, 2, 2, 2, -1, 0]);
        return b.op('Sin', [b.op('Gather', ['x', idx], { axis: attr.int(1) })]);
      });
      expect(await adjoint(m, 'x', { x: [3, 5, 4] })).toBeLessThan(TOL);
      expect(gradOps(m)).toContain(opset >= 16 ? 'ScatterElements' : 'MatMul');
    });
  }

  for (const opset of [15, 18]) {
    it(`runtime indices and symbolic dims, axis 0 and axis 2 (opset ${opset})`, async () => {
      const m = model(opset, [{ name: 'x', dims: ['N', 3, 'K'] }, { name: 'i', dims: ['M'], elemType: I64 }], (b) => {
        const rows = b.op('Gather', ['x', 'i'], { axis: attr.int(0) });
        const cols = b.op('Gather', ['x', 'i'], { axis: attr.int(2) });
        return b.op('Concat', [b.op('Sin', [b.reshape(rows, b.int64s([-1]))]), b.reshape(cols, b.int64s([-1]))], { axis: attr.int(0) });
      });
      expect(await adjoint(m, 'x', { x: [4, 3, 5], i: [4] }, { i: [1, 3, 1, -4] })).toBeLessThan(TOL);
    });
  }
});

describe('Tile and Pad', () => {
  it('Tile [2,3] by [3,1] and by [2,2] with static dims', async () => {
    const m = model(14, [{ name: 'x', dims: [2, 3] }], (b) => {
      const flat = (t: string) => b.reshape(t, b.int64s([-1]));
      return b.op('Concat', [flat(b.op('Sin', [b.op('Tile', ['x', b.int64s([3, 1])])])), flat(b.op('Tile', [b.op('Exp', ['x']), b.int64s([2, 2])]))], { axis: attr.int(0) });
    });
    expect(await adjoint(m, 'x', { x: [2, 3] })).toBeLessThan(TOL);
  });

  it('Tile with symbolic dims and runtime repeats', async () => {
    const m = model(18, [{ name: 'x', dims: ['N', 3] }, { name: 'r', dims: [2], elemType: I64 }], (b) => b.op('Sin', [b.op('Tile', ['x', 'r'])]));
    expect(await adjoint(m, 'x', { x: [2, 3], r: [2] }, { r: [2, 3] })).toBeLessThan(TOL);
  });

  it('Pad with constant pads, opset 14', async () => {
    const m = model(14, [{ name: 'x', dims: [2, 3, 4] }], (b) => b.op('Sin', [b.op('Pad', ['x', b.int64s([0, 1, 2, 1, 0, 3]), b.scalar(0.5, D)])]));
    expect(await adjoint(m, 'x', { x: [2, 3, 4] })).toBeLessThan(TOL);
  });

  it('Pad with negative pads (crop) and an axes input, opset 18', async () => {
    const m = model(18, [{ name: 'x', dims: [2, 5, 4] }], (b) => b.op('Sin', [b.op('Pad', ['x', b.int64s([-1, 2, 2, -1]), '', b.int64s([-1, 1])])]));
    expect(await adjoint(m, 'x', { x: [2, 5, 4] })).toBeLessThan(TOL);
  });

  it('Pad with runtime pads and symbolic dims, opset 21', async () => {
    const m = model(21, [{ name: 'x', dims: ['N', 4] }, { name: 'p', dims: [4], elemType: I64 }], (b) => b.op('Sin', [b.op('Pad', ['x', 'p'])]));
    expect(await adjoint(m, 'x', { x: [3, 4], p: [4] }, { p: [1, 0, 2, 3] })).toBeLessThan(TOL);
  });

  it('Pad in reflect mode fails at build time, naming the op', () => {
    const m = model(14, [{ name: 'x', dims: [2, 5] }], (b) => b.op('Pad', ['x', b.int64s([0, 1, 0, 1])], { mode: attr.string('reflect') }));
    expect(() => buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name })).toThrow(/Pad.*reflect/);
  });
});

describe('float16', () => {
  for (const opset of [14, 18]) {
    it(`Slice, Gather with repeats, Expand, Concat, Split, Tile and Pad on float16 build graphs that run (opset ${opset})`, async () => {
      const H = TensorDataType.FLOAT16;
      const m = tinyModel({
        opset,
        inputs: [{ name: 'x', dims: [3, 'K'], elemType: H }],
        build: (b) => {
          const s = b.op('Slice', ['x', b.int64s([1]), b.int64s([-1]), b.int64s([1])]);
          const g = b.op('Gather', [s, b.int64s([0, 2, 2])], { axis: attr.int(1) });
          const e = b.op('Expand', [b.unsqueeze(g, [0]), b.int64s([2, 3, 3])]);
          const [p0, p1] = b.node('Split', [e, b.int64s([1, 2])], { axis: attr.int(2) }, 2);
          const t = b.op('Tile', [p1!, b.int64s([1, 1, 2])]);
          const c = b.op('Concat', [p0!, b.op('Pad', [t, b.int64s([0, 0, 1, 0, 0, 0])])], { axis: attr.int(2) });
          return [{ name: b.op('Sigmoid', [c]), dims: [], elemType: H }];
        },
      });
      delete m.graph.output[0]!.type!.tensorType!.shape;
      const vals = Array.from({ length: 18 }, (_, i) => ((i * 5) % 7) / 4 - 0.75);
      const r = await runAdjoint(m, { wrt: 'x', of: m.graph.output[0]!.name, dims: { x: [3, 6] }, values: { x: vals }, step: 0.05 });
      expect(r.relError).toBeLessThan(3e-2);
    });
  }
});

