import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, type GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType, type ModelProto } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { mulberry32, randn } from '../../../numeric/random.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { serializeModel } from '../../model-io.ts';
import { buildVjpGraph, gradName } from '../build-vjp.ts';
import { gradientSwitch } from '../../ort-tensors.ts';

const D = TensorDataType.DOUBLE;
const F = TensorDataType.FLOAT;

type Dims = (number | string)[];

/** One-output model over the given inputs; dims of the output may stay unknown. */
function model(opset: number, inputs: { name: string; dims: Dims; elemType?: number }[], build: (b: GraphBuilder) => string, elemType: number = D): ModelProto {
  return tinyModel({
    opset,
    inputs: inputs.map((i) => ({ elemType, ...i })),
    build: (b) => [{ name: build(b), dims: [], elemType }],
  });
}

function withUnknownOutputShape(m: ModelProto): ModelProto {
  const t = m.graph.output[0]!.type!.tensorType!;
  delete t.shape;
  return m;
}

const positive = (n: number, seed = 7) => Array.from(randn(n, mulberry32(seed)), (v) => Math.abs(v) + 0.5);
const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

async function adjoint(m: ModelProto, wrt: string, dims: Record<string, number[]>, opts: { values?: Record<string, ArrayLike<number>>; step?: number } = {}) {
  const r = await runAdjoint(withUnknownOutputShape(m), { wrt, of: m.graph.output[0]!.name, dims, ...opts });
  // ORT evaluates float16 ops on CPU in float32 between Casts and drops Cast pairs depending on
  // how a value is consumed, so the same forward nodes can round one float16 ulp apart (outputs
  // here are below 1 in magnitude: ulp 2^-11) inside a gradient graph; wider types match exactly.
  const half = m.graph.output[0]!.type?.tensorType?.elemType === TensorDataType.FLOAT16;
  expect(r.forwardMismatch).toBeLessThanOrEqual(half ? 2 ** -11 : 0);
  return r.relError;
}

describe('unary gradient rules (double, exact)', () => {
  const shape = [3, 5, 7];
  const cases: { op: string; positive?: boolean; opset?: number }[] = [
    { op: 'Sqrt', positive: true },
    { op: 'Reciprocal', positive: true },
    { op: 'Exp' },
    { op: 'Log', positive: true },
    { op: 'Sigmoid' },
    { op: 'Tanh', opset: 21 },
    { op: 'Relu', opset: 17 },
    { op: 'Sin' },
    { op: 'Cos', opset: 18 },
    { op: 'Abs' },
    { op: 'Identity' },
  ];
  for (const { op, positive: pos, opset = 14 } of cases) {
    it(`${op} on [3,5,7], opset ${opset}`, async () => {
      const m = model(opset, [{ name: 'x', dims: shape }], (b) => b.op(op, ['x']));
      const values = pos ? { x: positive(count(shape)) } : undefined;
      expect(await adjoint(m, 'x', { x: shape }, { values })).toBeLessThan(1e-6);
    });
  }

  for (const [label, p] of [['2', 2], ['0.5', 0.5], ['3', 3], ['-1.5', -1.5], ['1', 1]] as const) {
    it(`Pow with constant exponent ${label}`, async () => {
      const m = model(17, [{ name: 'x', dims: [4, 3] }], (b) => b.mul(b.op('Pow', ['x', b.scalar(p, D)]), 'x'));
      expect(await adjoint(m, 'x', { x: [4, 3] }, { values: { x: positive(12) } })).toBeLessThan(1e-6);
    });
  }

  it('Pow with a float exponent tensor broadcast against a double base [3,1]', async () => {
    const m = model(14, [{ name: 'x', dims: [3, 1] }, { name: 'e', dims: [5], elemType: F }], (b) => b.op('Pow', ['x', 'e']));
    expect(await adjoint(m, 'x', { x: [3, 1], e: [5] }, { values: { x: positive(3), e: [0.5, 1.5, -2, 3, 2.25] } })).toBeLessThan(1e-6);
  });

  it('Pow with the exponent on the path, broadcast [5] against base [2,3,5]', async () => {
    const m = model(18, [{ name: 'x', dims: [2, 3, 5] }, { name: 'e', dims: [5] }], (b) => b.op('Pow', ['x', 'e']));
    expect(await adjoint(m, 'e', { x: [2, 3, 5], e: [5] }, { values: { x: positive(30) } })).toBeLessThan(1e-6);
  });

  it('Pow with both base and exponent on the path (x^x)', async () => {
    const m = model(21, [{ name: 'x', dims: [7] }], (b) => b.op('Pow', ['x', 'x']));
    expect(await adjoint(m, 'x', { x: [7] }, { values: { x: positive(7) } })).toBeLessThan(1e-6);
  });

  it('Pow with an int64 exponent input', async () => {
    const m = model(14, [{ name: 'x', dims: [6] }, { name: 'e', dims: [1], elemType: TensorDataType.INT64 }], (b) => b.op('Pow', ['x', 'e']));
    expect(await adjoint(m, 'x', { x: [6], e: [1] }, { values: { e: [3] } })).toBeLessThan(1e-6);
  });

  it('Clip with min and max passes the cotangent only inside the range', async () => {
    const m = model(14, [{ name: 'x', dims: [5, 9] }], (b) => b.mul(b.op('Clip', ['x', b.scalar(-0.7, D), b.scalar(0.9, D)]), 'x'));
    expect(await adjoint(m, 'x', { x: [5, 9] })).toBeLessThan(1e-6);
  });

  it('Clip with only a max bound', async () => {
    const m = model(17, [{ name: 'x', dims: [5, 9] }], (b) => b.op('Clip', ['x', '', b.scalar(0.3, D)]));
    expect(await adjoint(m, 'x', { x: [5, 9] })).toBeLessThan(1e-6);
  });

  for (const wrt of ['lo', 'hi']) {
    it(`Clip gradient w.r.t. its ${wrt} bound`, async () => {
      const m = model(18, [{ name: 'x', dims: [4, 5] }, { name: 'lo', dims: [] }, { name: 'hi', dims: [] }], (b) => b.op('Clip', ['x', 'lo', 'hi']));
      expect(await adjoint(m, wrt, { x: [4, 5], lo: [], hi: [] }, { values: { lo: [-0.4], hi: [0.6] } })).toBeLessThan(1e-6);
    });
  }

  it('Dropout (inference, with ratio and training_mode=false) is the identity', async () => {
    const m = model(14, [{ name: 'x', dims: [3, 4] }], (b) => {
      const y = b.node('Dropout', ['x', b.scalar(0.3, D), b.constant(TensorDataType.BOOL, [], [0])], {}, 2)[0]!;
      return b.mul(y, 'x');
    });
    expect(await adjoint(m, 'x', { x: [3, 4] })).toBeLessThan(1e-6);
  });

  it('Dropout with training_mode=true fails at build time', () => {
    const m = model(14, [{ name: 'x', dims: [3] }], (b) => b.op('Dropout', ['x', b.scalar(0.3, D), b.constant(TensorDataType.BOOL, [], [1])]));
    expect(() => buildVjpGraph(m, { wrt: 'x', of: m.graph.output[0]!.name })).toThrow(/Dropout.*training_mode/);
  });

  it('Cast double -> float -> double passes the cotangent back in double', async () => {
    const m = model(14, [{ name: 'x', dims: [3, 5] }], (b) => {
      const f = b.cast(b.mul('x', 'x'), F);
      return b.mul(b.cast(b.op('Sigmoid', [f]), D), 'x');
    });
    expect(await adjoint(m, 'x', { x: [3, 5] }, { step: 1e-3 })).toBeLessThan(1e-3);
  });

  it('CastLike to float and back (opset 15+)', async () => {
    const m = model(21, [{ name: 'x', dims: [5] }, { name: 'f', dims: [1], elemType: F }], (b) => b.cast(b.op('Tanh', [b.op('CastLike', ['x', 'f'])]), D));
    expect(await adjoint(m, 'x', { x: [5], f: [1] }, { step: 1e-3 })).toBeLessThan(1e-3);
  });

  it('Cast to int64 stops the gradient; the other path still flows', async () => {
    const m = model(14, [{ name: 'x', dims: [6] }], (b) => b.add(b.cast(b.cast(b.mul('x', b.scalar(10, D)), TensorDataType.INT64), D), b.mul('x', 'x')));
    expect(await adjoint(m, 'x', { x: [6] })).toBeLessThan(1e-6);
  });

  for (const wrt of ['x', 'y']) {
    it(`Where routes to ${wrt} under a broadcast condition, x [3,1,5], y [4,5], cond [3,4,5]`, async () => {
      const m = model(17, [{ name: 'x', dims: [3, 1, 5] }, { name: 'y', dims: [4, 5] }, { name: 'c', dims: [3, 4, 5] }], (b) =>
        b.op('Where', [b.op('Greater', ['c', b.scalar(0, D)]), 'x', 'y']),
      );
      expect(await adjoint(m, wrt, { x: [3, 1, 5], y: [4, 5], c: [3, 4, 5] })).toBeLessThan(1e-6);
    });
  }

  it('Where with a symbolic batch dim', async () => {
    const m = model(14, [{ name: 'x', dims: ['N', 1, 5] }, { name: 'y', dims: [4, 5] }], (b) =>
      b.op('Where', [b.op('Less', ['y', b.scalar(0.2, D)]), b.mul('x', 'x'), 'y']),
    );
    expect(await adjoint(m, 'x', { x: [3, 1, 5], y: [4, 5] })).toBeLessThan(1e-6);
  });

  it('a mask computed from x itself (Greater on the path) passes nothing back through the comparison', async () => {
    const m = model(14, [{ name: 'x', dims: [4, 6] }], (b) => b.op('Where', [b.op('Greater', ['x', b.scalar(0.3, D)]), b.op('Exp', ['x']), b.op('Sin', ['x'])]));
    expect(await adjoint(m, 'x', { x: [4, 6] })).toBeLessThan(1e-6);
  });

  for (const op of ['Max', 'Min']) {
    for (const wrt of ['x', 'y']) {
      it(`${op} of two broadcast operands, x [2,1,3] y [4,3], w.r.t. ${wrt}`, async () => {
        const m = model(14, [{ name: 'x', dims: [2, 1, 3] }, { name: 'y', dims: [4, 3] }], (b) => b.op(op, ['x', 'y']));
        expect(await adjoint(m, wrt, { x: [2, 1, 3], y: [4, 3] })).toBeLessThan(1e-6);
      });
    }
    it(`${op} of three operands, the middle one on the path`, async () => {
      const m = model(18, [{ name: 'x', dims: [5, 3] }, { name: 'a', dims: [3] }, { name: 'c', dims: [5, 1] }], (b) => b.op(op, ['a', 'x', 'c']));
      expect(await adjoint(m, 'x', { x: [5, 3], a: [3], c: [5, 1] })).toBeLessThan(1e-6);
    });
    it(`${op}(x, x) counts the tie once`, async () => {
      const m = model(14, [{ name: 'x', dims: [7] }], (b) => b.op(op, ['x', 'x', 'x']));
      expect(await adjoint(m, 'x', { x: [7] })).toBeLessThan(1e-6);
    });
  }
});

/** Gradient graph output for input x and cotangent u (float32 model, one input 'x'). */
async function floatVjp(m: ModelProto, x: Float32Array, u: Float32Array, dims: number[]): Promise<Float32Array> {
  const of = m.graph.output[0]!.name;
  const session = await ort.InferenceSession.create(serializeModel(buildVjpGraph(m, { wrt: 'x', of })));
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, dims), [gradName(of)]: new ort.Tensor('float32', u, dims), ...gradientSwitch(true) });
    return out[gradName('x')]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const erfD = (x: number) => (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
const sigm = (x: number) => 1 / (1 + Math.exp(-x));
const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
/** erf by its Taylor series: enough terms for |x| < 6 in double. */
function erfRef(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('unary gradient rules ORT runs in float32 only', () => {
  const shape = [4, 7];
  const k = Math.sqrt(2 / Math.PI);
  const cases: { op: string; opset: number; attrs?: Record<string, ReturnType<typeof attr.int>>; d: (x: number) => number }[] = [
    { op: 'Erf', opset: 14, d: erfD },
    { op: 'Gelu', opset: 20, d: (x) => 0.5 * (1 + erfRef(x / Math.SQRT2)) + x * phi(x) },
    {
      op: 'Gelu', opset: 21, attrs: { approximate: attr.string('tanh') },
      d: (x) => {
        const t = Math.tanh(k * (x + 0.044715 * x ** 3));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
      },
    },
    { op: 'Gelu', opset: 20, attrs: { approximate: attr.string('none') }, d: (x) => 0.5 * (1 + erfRef(x / Math.SQRT2)) + x * phi(x) },
    { op: 'Softplus', opset: 14, d: sigm },
    { op: 'LeakyRelu', opset: 14, attrs: { alpha: attr.float(0.2) }, d: (x) => (x < 0 ? 0.2 : 1) },
    { op: 'Elu', opset: 17, attrs: { alpha: attr.float(0.7) }, d: (x) => (x < 0 ? 0.7 * Math.exp(x) : 1) },
    { op: 'HardSigmoid', opset: 14, attrs: { alpha: attr.float(0.3), beta: attr.float(0.4) }, d: (x) => (0.3 * x + 0.4 > 0 && 0.3 * x + 0.4 < 1 ? 0.3 : 0) },
    {
      op: 'Mish', opset: 18,
      d: (x) => {
        const t = Math.tanh(Math.log1p(Math.exp(x)));
        return t + x * (1 - t * t) * sigm(x);
      },
    },
  ];
  for (const { op, opset, attrs, d } of cases) {
    const label = `${op} ${JSON.stringify(attrs ? Object.values(attrs).map((a) => a.value) : [])} opset ${opset}`;
    const xs = Float32Array.from(randn(28, mulberry32(3)), (v) => 2 * v);
    it(`${label}: adjoint identity by float32 central differences`, async () => {
      const m = model(opset, [{ name: 'x', dims: shape }], (b) => b.op(op, ['x'], attrs ?? {}), F);
      // float32 differences bottom out near 1e-4 relative, whatever the step.
      expect(await adjoint(m, 'x', { x: shape }, { values: { x: xs }, step: 3e-3 })).toBeLessThan(1e-3);
    });
    it(`${label}: cotangent matches the analytic derivative`, async () => {
      const m = model(opset, [{ name: 'x', dims: shape }], (b) => b.op(op, ['x'], attrs ?? {}), F);
      const u = Float32Array.from(randn(28, mulberry32(5)));
      const g = await floatVjp(withUnknownOutputShape(m), xs, u, shape);
      const err = Math.max(...Array.from(g, (gi, i) => Math.abs(gi - u[i]! * d(xs[i]!)) / (1 + Math.abs(u[i]!))));
      expect(err).toBeLessThan(1e-5);
    });
  }
});

describe('float16', () => {
  it('a chain of elementwise rules on float16 builds a graph that runs (opset 20)', async () => {
    const H = TensorDataType.FLOAT16;
    const m = model(20, [{ name: 'x', dims: [3, 'K'] }], (b) => {
      const h = (v: number) => b.scalar(v, H);
      const a = b.op('Gelu', [b.op('Clip', ['x', h(-1.2), h(1.1)])]);
      const p = b.op('Pow', [b.op('Sqrt', [b.op('Exp', ['x'])]), h(2)]);
      const w = b.op('Where', [b.op('Greater', ['x', h(0)]), b.op('Max', [a, p]), b.op('Erf', ['x'])]);
      return b.cast(b.op('Tanh', [b.cast(w, F)]), H);
    }, H);
    const vals = Array.from({ length: 18 }, (_, i) => ((i * 5) % 7) / 4 - 0.8);
    expect(await adjoint(m, 'x', { x: [3, 6] }, { values: { x: vals }, step: 0.05 })).toBeLessThan(3e-2);
  });
});

