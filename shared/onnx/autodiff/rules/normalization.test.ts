import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, type Attr, type GraphBuilder } from '../../graph-builder.ts';
import { serializeModel } from '../../model-io.ts';
import { fromOrtTensor, toOrtTensor, gradientSwitch } from '../../ort-tensors.ts';
import { TensorDataType, type ModelProto } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { mulberry32, randn } from '../../../numeric/random.ts';
import { buildVjpGraph, gradName } from '../build-vjp.ts';
import { allNodes } from '../backward-gate.ts';

const F = TensorDataType.FLOAT;
const D = TensorDataType.DOUBLE;
const F16 = TensorDataType.FLOAT16;

interface NormCase {
  name: string;
  opset: number;
  op: string;
  x: number[];
  /** Declared dims of x when some are symbolic. */
  declared?: (number | string)[];
  scale: number[];
  attrs: Record<string, Attr>;
  /** Extra outputs of the forward node (LayerNormalization's Mean and InvStdDev). */
  outputs?: number;
  /** Scale and bias as constant ones and zeros (as exports of GroupNorm and affine-free norms have). */
  unitScale?: boolean;
}

function normModel(c: NormCase, elemType: number): ModelProto {
  const count = c.scale.reduce((p, q) => p * q, 1);
  return tinyModel({
    opset: c.opset,
    inputs: [
      { name: 'x', dims: c.declared ?? c.x, elemType },
      ...(c.unitScale ? [] : [{ name: 'scale', dims: c.scale, elemType }, { name: 'bias', dims: c.scale, elemType }]),
    ],
    constants: c.unitScale
      ? [{ name: 'scale', dims: c.scale, values: new Array<number>(count).fill(1), elemType }, { name: 'bias', dims: c.scale, values: new Array<number>(count).fill(0), elemType }]
      : [],
    build: (b: GraphBuilder) => {
      const y = b.node(c.op, ['x', 'scale', 'bias'], c.attrs, c.outputs ?? 1)[0]!;
      // A nonlinear consumer makes the cotangent reaching the norm depend on x.
      return [{ name: b.mul(y, 'x'), dims: c.x, elemType }];
    },
  });
}

async function adjointSeeds(c: NormCase, elemType: number, tol: number, seeds: number[]) {
  const model = normModel(c, elemType);
  const dims: Record<string, number[]> = c.unitScale ? { x: c.x } : { x: c.x, scale: c.scale, bias: c.scale };
  for (const seed of seeds) {
    const step = elemType === D ? 1e-5 : 1e-2;
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims, seed, step });
    expect(r.relError).toBeLessThan(tol);
    expect(r.forwardMismatch).toBeLessThan(elemType === D ? 1e-12 : 1e-5);
  }
}

/** Gradient of `model` w.r.t. x at fixed inputs, by the gradient graph. */
async function gradient(model: ModelProto, feeds: Record<string, { data: Float64Array; dims: number[] }>, u: Float64Array) {
  const of = model.graph.output[0]!.name;
  const session = await ort.InferenceSession.create(serializeModel(buildVjpGraph(model, { wrt: 'x', of })));
  const types = new Map(model.graph.input.map((i) => [i.name, i.type!.tensorType!.elemType]));
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(types.get(k)!, v.data, v.dims);
  const outType = model.graph.output[0]!.type!.tensorType!.elemType;
  ortFeeds[gradName(of)] = toOrtTensor(outType, u, feeds['x']!.dims);
  Object.assign(ortFeeds, gradientSwitch(true));
  const out = await session.run(ortFeeds);
  await session.release();
  return fromOrtTensor(out[gradName('x')]!);
}

/** Max abs difference of the float16 gradient from its wide twin, relative to the twin's max. */
async function halfVsWide(c: NormCase, wide: number): Promise<number> {
  const rand = mulberry32(99);
  const n = (d: number[]) => d.reduce((p, q) => p * q, 1);
  const feeds = {
    x: { data: randn(n(c.x), rand).map((v) => 3 + 2 * v), dims: c.x },
    scale: { data: randn(n(c.scale), rand), dims: c.scale },
    bias: { data: randn(n(c.scale), rand), dims: c.scale },
  };
  // Round the shared inputs to float16 first so both graphs see the same values.
  const half = (a: Float64Array) => Float64Array.from(fromOrtTensor(toOrtTensor(F16, a, [a.length])));
  for (const v of Object.values(feeds)) v.data = half(v.data);
  const u = half(randn(n(c.x), rand));
  const ref = await gradient(normModel(c, wide), feeds, u);
  const got = await gradient(normModel(c, F16), feeds, u);
  const scale = Math.max(...ref.map(Math.abs));
  expect(scale).toBeGreaterThan(1e-3);
  return Math.max(...ref.map((r, i) => Math.abs(r - got[i]!))) / scale;
}

const layerNormCases: NormCase[] = [
  { name: 'last axis', opset: 17, op: 'LayerNormalization', x: [2, 3, 5], scale: [5], attrs: {} },
  { name: 'axis 2 of 4, eps 1e-3', opset: 18, op: 'LayerNormalization', x: [2, 3, 4, 5], scale: [4, 5], attrs: { axis: attr.int(2), epsilon: attr.float(1e-3) } },
  { name: 'axis 0 (everything)', opset: 21, op: 'LayerNormalization', x: [3, 7], scale: [3, 7], attrs: { axis: attr.int(0) } },
  { name: 'symbolic batch and length', opset: 17, op: 'LayerNormalization', x: [2, 5, 6], declared: ['n', 'l', 6], scale: [6], attrs: { axis: attr.int(-1) } },
  { name: 'symbolic normalized dim, axis -2', opset: 18, op: 'LayerNormalization', x: [2, 5, 3], declared: [2, 'l', 3], scale: [5, 3], attrs: { axis: attr.int(-2) } },
  { name: 'constant unit scale, zero bias', opset: 17, op: 'LayerNormalization', x: [2, 5, 6], declared: ['n', 'l', 6], scale: [6], attrs: {}, unitScale: true },
];

describe('LayerNormalization input gradient', () => {
  for (const c of layerNormCases) {
    it(`opset ${c.opset}, ${c.name}: x ${JSON.stringify(c.x)} (float64)`, async () => {
      await adjointSeeds(c, D, 1e-6, [1, 2]);
    });
    it(`opset ${c.opset}, ${c.name}: x ${JSON.stringify(c.x)} (float32)`, async () => {
      await adjointSeeds(c, F, 2e-3, [3, 4]);
    });
  }

  it('reuses the forward Mean/InvStdDev outputs (float32, stash float)', async () => {
    const c: NormCase = { name: 'stats', opset: 17, op: 'LayerNormalization', x: [3, 4, 6], scale: [6], attrs: {}, outputs: 3 };
    const model = normModel(c, F);
    const vjp = buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name });
    expect(allNodes(vjp.graph).filter((n) => n.opType === 'LayerNormalization')).toHaveLength(1);
    await adjointSeeds(c, F, 2e-3, [1, 2, 3]);
  });

  it('float16 input: gradient within 1e-2 of its float64 twin', async () => {
    const err = await halfVsWide({ name: 'half', opset: 17, op: 'LayerNormalization', x: [2, 4, 32], scale: [32], attrs: {} }, D);
    expect(err).toBeLessThan(1e-2);
  });

  it('fails clearly when the scale lies on the gradient path', () => {
    const model = normModel(layerNormCases[0]!, D);
    expect(() => buildVjpGraph(model, { wrt: 'scale', of: model.graph.output[0]!.name })).toThrow(/scale lies on the gradient path/);
  });
});

const instanceCases: NormCase[] = [
  { name: '2-D spatial, odd sizes (manual statistics)', opset: 14, op: 'InstanceNormalization', x: [2, 3, 5, 7], scale: [3], attrs: {} },
  { name: '1-D spatial, eps 1e-2', opset: 17, op: 'InstanceNormalization', x: [3, 2, 9], scale: [2], attrs: { epsilon: attr.float(1e-2) } },
  { name: 'symbolic spatial dims', opset: 18, op: 'InstanceNormalization', x: [1, 4, 6, 5], declared: ['n', 4, 'h', 'w'], scale: [4], attrs: {} },
  { name: 'symbolic spatial dims (manual statistics)', opset: 16, op: 'InstanceNormalization', x: [2, 2, 3, 5], declared: ['n', 2, 'h', 'w'], scale: [2], attrs: {} },
  { name: 'constant unit scale, zero bias (GroupNorm as exported)', opset: 18, op: 'InstanceNormalization', x: [2, 3, 10], declared: ['n', 3, 'm'], scale: [3], attrs: {}, unitScale: true },
];

describe('InstanceNormalization input gradient', () => {
  for (const c of instanceCases) {
    it(`opset ${c.opset}, ${c.name}: x ${JSON.stringify(c.x)} (float32)`, async () => {
      await adjointSeeds(c, F, 2e-3, [1, 2, 3]);
    });
  }
  it('float16 input: gradient within 1e-2 of its float32 twin', async () => {
    const err = await halfVsWide({ name: 'half', opset: 17, op: 'InstanceNormalization', x: [2, 3, 8, 8], scale: [3], attrs: {} }, F);
    expect(err).toBeLessThan(1e-2);
  });
});

const groupCases: NormCase[] = [
  { name: 'opset 18, per-group scale, 3 groups of 2', opset: 18, op: 'GroupNormalization', x: [2, 6, 3, 5], scale: [3], attrs: { num_groups: attr.int(3) } },
  { name: 'opset 18, one group, 1-D spatial', opset: 18, op: 'GroupNormalization', x: [2, 4, 7], scale: [1], attrs: { num_groups: attr.int(1), epsilon: attr.float(1e-3) } },
  { name: 'opset 21, per-channel scale, 2 groups of 3', opset: 21, op: 'GroupNormalization', x: [2, 6, 5, 3], scale: [6], attrs: { num_groups: attr.int(2) } },
  { name: 'opset 21, groups = channels, symbolic dims', opset: 21, op: 'GroupNormalization', x: [2, 4, 3, 3], declared: ['n', 4, 'h', 'w'], scale: [4], attrs: { num_groups: attr.int(4) } },
  { name: 'opset 18, symbolic dims', opset: 18, op: 'GroupNormalization', x: [1, 6, 5, 2], declared: ['n', 6, 'h', 'w'], scale: [2], attrs: { num_groups: attr.int(2) } },
  { name: 'opset 21, constant unit scale', opset: 21, op: 'GroupNormalization', x: [2, 4, 3, 3], scale: [4], attrs: { num_groups: attr.int(2) }, unitScale: true },
];

describe('GroupNormalization input gradient', () => {
  for (const c of groupCases) {
    it(`${c.name}: x ${JSON.stringify(c.x)} (float64)`, async () => {
      // From opset 21 the forward statistics follow stash_type (float32 unless told otherwise).
      const wide = c.opset >= 21 ? { ...c, attrs: { ...c.attrs, stash_type: attr.int(D) } } : c;
      await adjointSeeds(wide, D, 1e-6, [1, 2]);
    });
    it(`${c.name}: x ${JSON.stringify(c.x)} (float32)`, async () => {
      await adjointSeeds(c, F, 2e-3, [3, 4]);
    });
  }
  it('opset 21, float16 input with stash_type float: within 1e-2 of its float64 twin', async () => {
    const err = await halfVsWide({ name: 'half', opset: 21, op: 'GroupNormalization', x: [2, 8, 6, 6], scale: [8], attrs: { num_groups: attr.int(4), stash_type: attr.int(F) } }, D);
    expect(err).toBeLessThan(1e-2);
  });
  it('fails clearly when an opset 21 model carries a per-group scale', () => {
    const model = normModel({ name: 'bad', opset: 21, op: 'GroupNormalization', x: [2, 6, 3], scale: [3], attrs: { num_groups: attr.int(3) } }, F);
    expect(() => buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name })).toThrow(/one per channel/);
  });
});
