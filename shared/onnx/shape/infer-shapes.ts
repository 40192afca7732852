/**
 * Static shape and type propagation over a forward graph, with partial evaluation of the small
 * integer tensors that exports use for shape arithmetic (Shape -> Gather -> Concat -> Reshape).
 * Unknown dims are null; gradient rules use ranks, element types and the dims that are known.
 * The exporter's own value_info fills in whatever an op rule here cannot derive.
 */
import { TensorDataType, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../proto/types.ts';
import { tensorValues } from '../tensor.ts';
import type { ValueShape } from './value-shape.ts';

type Dims = (number | null)[];
type Values = (number | null)[] | undefined;

interface NodeView {
  node: NodeProto;
  opset: number;
  in(k: number): ValueShape | undefined;
  attrInt(name: string, fallback: number): number;
  attrInts(name: string): number[] | undefined;
  attrString(name: string, fallback: string): string;
  attrTensor(name: string): TensorProto | undefined;
}

type ShapeRule = (v: NodeView) => (ValueShape | undefined)[];

const MAX_TRACKED_VALUES = 64;

export function valueShapeFromInfo(info: ValueInfoProto): ValueShape | undefined {
  const t = info.type?.tensorType;
  if (!t) return undefined;
  const vs: ValueShape = { elemType: t.elemType };
  if (t.shape) vs.dims = t.shape.map((d) => (d.dimValue !== undefined && d.dimParam === undefined ? d.dimValue : null));
  return vs;
}

function fromTensor(t: TensorProto): ValueShape {
  const vs: ValueShape = { elemType: t.dataType, dims: [...t.dims] };
  const n = t.dims.reduce((a, b) => a * b, 1);
  const isInt = t.dataType === TensorDataType.INT64 || t.dataType === TensorDataType.INT32;
  if (isInt && n <= MAX_TRACKED_VALUES && t.dataLocation !== 1) vs.values = tensorValues(t);
  return vs;
}

export function inferShapes(graph: GraphProto, opset: number): Map<string, ValueShape> {
  const shapes = new Map<string, ValueShape>();
  const hints = new Map<string, ValueShape>();
  for (const vi of [...graph.valueInfo, ...graph.output]) {
    const s = valueShapeFromInfo(vi);
    if (s) hints.set(vi.name, s);
  }
  for (const t of graph.initializer) shapes.set(t.name, fromTensor(t));
  for (const i of graph.input) {
    if (shapes.has(i.name)) continue;
    const s = valueShapeFromInfo(i);
    if (s) shapes.set(i.name, s);
  }
  for (const node of graph.node) {
    const view: NodeView = {
      node,
      opset,
      in: (k) => (node.input[k] ? shapes.get(node.input[k]!) : undefined),
      attrInt: (name, fallback) => node.attribute.find((a) => a.name === name)?.i ?? fallback,
      attrInts: (name) => node.attribute.find((a) => a.name === name)?.ints,
      attrString: (name, fallback) => {
        const s = node.attribute.find((a) => a.name === name)?.s;
        return s ? new TextDecoder().decode(s) : fallback;
      },
      attrTensor: (name) => node.attribute.find((a) => a.name === name)?.t,
    };
    let out: (ValueShape | undefined)[] = [];
    const rule = node.domain === '' || node.domain === 'ai.onnx' ? shapeRules[node.opType] : undefined;
    if (rule) {
      try {
        out = rule(view);
      } catch {
        out = [];
      }
    }
    node.output.forEach((name, k) => {
      if (!name) return;
      const derived = out[k];
      const hint = hints.get(name);
      shapes.set(name, merge(derived, hint) ?? { elemType: 0 });
    });
  }
  return shapes;
}

/** Combines derived knowledge with the exporter's annotation, preferring known values. */
function merge(a: ValueShape | undefined, b: ValueShape | undefined): ValueShape | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: ValueShape = { elemType: a.elemType || b.elemType };
  if (a.dims && b.dims && a.dims.length === b.dims.length) out.dims = a.dims.map((d, i) => d ?? b.dims![i]!);
  else out.dims = a.dims ?? b.dims;
  if (a.values) out.values = a.values;
  return out;
}

// ------------------------------------------------------------------ helpers

const same = (v: NodeView) => [v.in(0)];

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function broadcast(shapes: (ValueShape | undefined)[]): Dims | undefined {
  if (shapes.some((s) => !s?.dims)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.dims!.length));
  const out: Dims = [];
  for (let i = 0; i < rank; i++) {
    let d: number | null = 1;
    for (const s of shapes) {
      const dims = s!.dims!;
      const di = dims[i - (rank - dims.length)];
      if (di === undefined || di === 1) continue;
      if (di === null) d = d === 1 ? null : d;
      else d = di;
    }
    out.push(d);
  }
  return out;
}

function elementwiseValues(v: NodeView, f: (a: number, b: number) => number): Values {
  const a = v.in(0)?.values;
  const b = v.in(1)?.values;
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  if (a.length !== n && a.length !== 1) return undefined;
  if (b.length !== n && b.length !== 1) return undefined;
  return Array.from({ length: n }, (_, i) => {
    const x = a[a.length === 1 ? 0 : i]!;
    const y = b[b.length === 1 ? 0 : i]!;
    return x === null || y === null ? null : f(x, y);
  });
}

function binary(f?: (a: number, b: number) => number, boolOut = false): ShapeRule {
  return (v) => {
    const dims = broadcast([v.in(0), v.in(1)]);
    const s: ValueShape = { elemType: boolOut ? TensorDataType.BOOL : (v.in(0)?.elemType ?? 0) };
    if (dims) s.dims = dims;
    if (f) {
      const vals = elementwiseValues(v, f);
      if (vals) s.values = vals;
    }
    return [s];
  };
}

/** Values of an int input, from the inputs' tracked values or undefined. */
function ints(v: NodeView, k: number): number[] | undefined {
  const vals = v.in(k)?.values;
  return vals && vals.every((x) => x !== null) ? (vals as number[]) : undefined;
}

function axesOf(v: NodeView, inputIndex: number): number[] | undefined {
  return v.attrInts('axes') ?? (v.node.input[inputIndex] ? ints(v, inputIndex) : undefined);
}

function convOut(inp: number | null, k: number, stride: number, pb: number, pe: number, dil: number): number | null {
  if (inp === null) return null;
  return Math.floor((inp + pb + pe - ((k - 1) * dil + 1)) / stride) + 1;
}

function numel(d: Dims | undefined): number | null {
  if (!d) return null;
  let n = 1;
  for (const x of d) {
    if (x === null) return null;
    n *= x;
  }
  return n;
}

// ------------------------------------------------------------------ rules

const shapeRules: Record<string, ShapeRule> = {};

for (const op of [
  'Identity', 'Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Neg', 'Erf', 'Abs', 'Softmax',
  'LogSoftmax', 'Gelu', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Clip', 'LeakyRelu', 'HardSigmoid', 'Softplus',
  'Mish', 'Elu', 'Selu', 'HardSwish', 'Sign', 'InstanceNormalization', 'GroupNormalization', 'IsNaN', 'IsInf', 'Not',
  'CumSum', 'Trilu',
]) {
  shapeRules[op] = same;
}
shapeRules['Identity'] = (v) => [v.in(0)];
shapeRules['Neg'] = (v) => {
  const s = v.in(0);
  return [s ? { ...s, ...(s.values ? { values: s.values.map((x) => (x === null ? null : -x)) } : {}) } : undefined];
};
shapeRules['IsNaN'] = (v) => [v.in(0) && { ...v.in(0)!, elemType: TensorDataType.BOOL, values: undefined }];
shapeRules['IsInf'] = shapeRules['IsNaN'];
shapeRules['Dropout'] = (v) => [v.in(0), v.in(0) && { ...v.in(0)!, elemType: TensorDataType.BOOL }];
shapeRules['LayerNormalization'] = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [x];
  const axis = normAxis(v.attrInt('axis', -1), x.dims.length);
  const stat: ValueShape = { elemType: v.attrInt('stash_type', 1), dims: x.dims.map((d, i) => (i < axis ? d : 1)) };
  return [x, stat, stat];
};
shapeRules['Cast'] = (v) => {
  const s = v.in(0);
  const to = v.attrInt('to', 0);
  return [s && { ...s, elemType: to, values: to === TensorDataType.INT64 || to === TensorDataType.INT32 ? s.values : undefined }];
};
shapeRules['CastLike'] = (v) => [v.in(0) && { ...v.in(0)!, elemType: v.in(1)?.elemType ?? 0 }];

shapeRules['Add'] = binary((a, b) => a + b);
shapeRules['Sub'] = binary((a, b) => a - b);
shapeRules['Mul'] = binary((a, b) => a * b);
shapeRules['Div'] = binary((a, b) => Math.trunc(a / b));
shapeRules['Pow'] = binary();
shapeRules['Mod'] = binary((a, b) => a % b);
shapeRules['Max'] = binary(Math.max);
shapeRules['Min'] = binary(Math.min);
shapeRules['Equal'] = binary((a, b) => (a === b ? 1 : 0), true);
shapeRules['Less'] = binary((a, b) => (a < b ? 1 : 0), true);
shapeRules['Greater'] = binary((a, b) => (a > b ? 1 : 0), true);
shapeRules['LessOrEqual'] = binary((a, b) => (a <= b ? 1 : 0), true);
shapeRules['GreaterOrEqual'] = binary((a, b) => (a >= b ? 1 : 0), true);
shapeRules['And'] = binary(undefined, true);
shapeRules['Or'] = binary(undefined, true);
shapeRules['Sum'] = (v) => {
  const all = v.node.input.map((_, k) => v.in(k));
  const dims = broadcast(all);
  return [{ elemType: all[0]?.elemType ?? 0, ...(dims ? { dims } : {}) }];
};
shapeRules['Mean'] = shapeRules['Sum'];
shapeRules['Where'] = (v) => {
  const dims = broadcast([v.in(0), v.in(1), v.in(2)]);
  const s: ValueShape = { elemType: v.in(1)?.elemType ?? v.in(2)?.elemType ?? 0 };
  if (dims) s.dims = dims;
  const c = v.in(0)?.values;
  const x = v.in(1)?.values;
  const y = v.in(2)?.values;
  if (c && x && y && c.length === x.length && x.length === y.length) {
    s.values = c.map((ci, i) => (ci === null ? null : ci ? x[i]! : y[i]!));
  }
  return [s];
};

shapeRules['MatMul'] = (v) => {
  const a = v.in(0)?.dims;
  const b = v.in(1)?.dims;
  const elemType = v.in(0)?.elemType ?? 0;
  if (!a || !b) return [{ elemType }];
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcast([{ elemType, dims: a2.slice(0, -2) }, { elemType, dims: b2.slice(0, -2) }])!;
  const dims: Dims = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) dims.splice(dims.length - 2, 1);
  if (b.length === 1) dims.splice(dims.length - 1, 1);
  return [{ elemType, dims }];
};
shapeRules['Gemm'] = (v) => {
  const a = v.in(0)?.dims;
  const b = v.in(1)?.dims;
  const elemType = v.in(0)?.elemType ?? 0;
  if (!a || !b) return [{ elemType }];
  const m = v.attrInt('transA', 0) ? a[1]! : a[0]!;
  const n = v.attrInt('transB', 0) ? b[0]! : b[1]!;
  return [{ elemType, dims: [m, n] }];
};

function convLike(transpose: boolean): ShapeRule {
  return (v) => {
    const x = v.in(0);
    const w = v.in(1)?.dims;
    const elemType = x?.elemType ?? 0;
    if (!x?.dims || !w) return [{ elemType }];
    const spatial = x.dims.length - 2;
    const kernel = v.attrInts('kernel_shape') ?? (w.slice(2) as number[]);
    const strides = v.attrInts('strides') ?? new Array(spatial).fill(1);
    const dil = v.attrInts('dilations') ?? new Array(spatial).fill(1);
    const pads = v.attrInts('pads') ?? new Array(2 * spatial).fill(0);
    const autoPad = v.attrString('auto_pad', 'NOTSET');
    const group = v.attrInt('group', 1);
    const outC = transpose ? (w[1] === null ? null : w[1]! * group) : w[0]!;
    const dims: Dims = [x.dims[0]!, outC];
    const outPad = v.attrInts('output_padding') ?? new Array(spatial).fill(0);
    const outShape = v.attrInts('output_shape');
    for (let i = 0; i < spatial; i++) {
      const inp = x.dims[2 + i]!;
      const s = strides[i]!;
      if (transpose) {
        if (outShape) dims.push(outShape[i]!);
        else if (inp === null) dims.push(null);
        else dims.push(s * (inp - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + spatial]!);
      } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
        dims.push(inp === null ? null : Math.ceil(inp / s));
      } else if (autoPad === 'VALID') {
        dims.push(convOut(inp, kernel[i]!, s, 0, 0, dil[i]!));
      } else {
        dims.push(convOut(inp, kernel[i]!, s, pads[i]!, pads[i + spatial]!, dil[i]!));
      }
    }
    return [{ elemType, dims }];
  };
}
shapeRules['Conv'] = convLike(false);
shapeRules['ConvTranspose'] = convLike(true);

shapeRules['Shape'] = (v) => {
  const dims = v.in(0)?.dims;
  const s: ValueShape = { elemType: TensorDataType.INT64 };
  if (!dims) return [s];
  const r = dims.length;
  const clamp = (x: number) => Math.min(Math.max(normAxis(x, r), 0), r);
  const start = clamp(v.attrInt('start', 0));
  const end = clamp(v.attrInt('end', r));
  const values = dims.slice(start, end);
  return [{ ...s, dims: [values.length], values }];
};
shapeRules['Size'] = (v) => {
  const n = numel(v.in(0)?.dims);
  return [{ elemType: TensorDataType.INT64, dims: [], values: [n] }];
};
shapeRules['Constant'] = (v) => {
  const t = v.attrTensor('value');
  if (t) return [fromTensor(t)];
  const vi = v.attrInts('value_ints');
  if (vi) return [{ elemType: TensorDataType.INT64, dims: [vi.length], values: vi }];
  const n = v.node.attribute.find((a) => a.name === 'value_int');
  if (n?.i !== undefined) return [{ elemType: TensorDataType.INT64, dims: [], values: [n.i] }];
  const f = v.node.attribute.find((a) => a.name === 'value_float' || a.name === 'value_floats');
  if (f) return [{ elemType: TensorDataType.FLOAT, dims: f.name === 'value_float' ? [] : [f.floats?.length ?? 0] }];
  return [];
};
shapeRules['ConstantOfShape'] = (v) => {
  const dims = v.in(0)?.values;
  const t = v.attrTensor('value');
  const elemType = t?.dataType ?? TensorDataType.FLOAT;
  const s: ValueShape = { elemType };
  if (dims) s.dims = dims;
  const n = numel(dims);
  if (t && n !== null && n <= MAX_TRACKED_VALUES && (elemType === TensorDataType.INT64 || elemType === TensorDataType.INT32)) {
    s.values = new Array(n).fill(tensorValues(t)[0] ?? 0);
  }
  return [s];
};
shapeRules['Range'] = (v) => {
  const [start, limit, delta] = [0, 1, 2].map((k) => v.in(k)?.values?.[0]);
  const elemType = v.in(0)?.elemType ?? 0;
  if (start == null || limit == null || delta == null) return [{ elemType, dims: [null] }];
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const s: ValueShape = { elemType, dims: [n] };
  if (n <= MAX_TRACKED_VALUES) s.values = Array.from({ length: n }, (_, i) => start + i * delta);
  return [s];
};

shapeRules['Reshape'] = (v) => {
  const x = v.in(0);
  const target = v.in(1)?.values;
  const elemType = x?.elemType ?? 0;
  const rankFromShape = v.in(1)?.dims?.[0];
  if (!target) return [{ elemType, ...(typeof rankFromShape === 'number' ? { dims: new Array(rankFromShape).fill(null) } : {}) }];
  const allowZero = v.attrInt('allowzero', 0) === 1;
  const dims: Dims = target.map((d, i) => (d === 0 && !allowZero ? (x?.dims?.[i] ?? null) : d));
  const neg = dims.indexOf(-1);
  if (neg >= 0) {
    const total = numel(x?.dims);
    const rest = numel(dims.filter((_, i) => i !== neg));
    dims[neg] = total !== null && rest !== null && rest !== 0 ? total / rest : null;
  }
  const s: ValueShape = { elemType, dims };
  if (x?.values) s.values = x.values;
  return [s];
};
shapeRules['Flatten'] = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const axis = normAxis(v.attrInt('axis', 1), x.dims.length);
  return [{ elemType: x.elemType, dims: [numel(x.dims.slice(0, axis)), numel(x.dims.slice(axis))] }];
};
shapeRules['Transpose'] = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [x];
  const perm = v.attrInts('perm') ?? x.dims.map((_, i) => x.dims!.length - 1 - i);
  return [{ elemType: x.elemType, dims: perm.map((p) => x.dims![p]!) }];
};
shapeRules['Unsqueeze'] = (v) => {
  const x = v.in(0);
  const axes = axesOf(v, 1);
  if (!x?.dims || !axes) return [{ elemType: x?.elemType ?? 0 }];
  const r = x.dims.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, r)));
  const dims: Dims = [];
  let j = 0;
  for (let i = 0; i < r; i++) dims.push(norm.has(i) ? 1 : x.dims[j++]!);
  return [{ elemType: x.elemType, dims, ...(x.values ? { values: x.values } : {}) }];
};
shapeRules['Squeeze'] = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const axes = axesOf(v, 1);
  const r = x.dims.length;
  const drop = axes ? new Set(axes.map((a) => normAxis(a, r))) : new Set(x.dims.flatMap((d, i) => (d === 1 ? [i] : [])));
  if (!axes && x.dims.some((d) => d === null)) return [{ elemType: x.elemType }];
  return [{ elemType: x.elemType, dims: x.dims.filter((_, i) => !drop.has(i)), ...(x.values ? { values: x.values } : {}) }];
};
shapeRules['Expand'] = (v) => {
  const x = v.in(0);
  const target = v.in(1)?.values;
  const elemType = x?.elemType ?? 0;
  if (!target) {
    const n = v.in(1)?.dims?.[0];
    return [{ elemType, ...(typeof n === 'number' && x?.dims ? { dims: new Array(Math.max(n, x.dims.length)).fill(null) } : {}) }];
  }
  const dims = broadcast([x, { elemType, dims: target.map((d) => (d === null ? null : d)) }]);
  return [{ elemType, ...(dims ? { dims } : {}) }];
};
shapeRules['Concat'] = (v) => {
  const all = v.node.input.map((_, k) => v.in(k));
  const first = all.find((s) => s?.dims);
  const elemType = all[0]?.elemType ?? 0;
  if (!first?.dims || all.some((s) => !s?.dims)) return [{ elemType }];
  const axis = normAxis(v.attrInt('axis', 0), first.dims.length);
  const dims = first.dims.map((d, i) => {
    if (i !== axis) return all.map((s) => s!.dims![i]!).find((x) => x !== null) ?? d;
    let total = 0;
    for (const s of all) {
      const di = s!.dims![i]!;
      if (di === null) return null;
      total += di;
    }
    return total;
  });
  const s: ValueShape = { elemType, dims };
  if (first.dims.length === 1 && all.every((x) => x!.values)) s.values = all.flatMap((x) => x!.values!);
  return [s];
};
shapeRules['Split'] = (v) => {
  const x = v.in(0);
  const n = v.node.output.length;
  if (!x?.dims) return new Array(n).fill({ elemType: x?.elemType ?? 0 });
  const axis = normAxis(v.attrInt('axis', 0), x.dims.length);
  let sizes: (number | null)[] | undefined = v.attrInts('split') ?? (v.node.input[1] ? ints(v, 1) : undefined);
  const total = x.dims[axis]!;
  if (!sizes) {
    if (total === null) sizes = new Array(n).fill(null);
    else {
      const chunk = Math.ceil(total / n);
      sizes = Array.from({ length: n }, (_, i) => Math.min(chunk, total - chunk * i));
    }
  }
  return sizes.map((size) => ({ elemType: x.elemType, dims: x.dims!.map((d, i) => (i === axis ? size : d)) }));
};
shapeRules['Slice'] = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const r = x.dims.length;
  const starts = ints(v, 1);
  const ends = ints(v, 2);
  const axes = v.node.input[3] ? ints(v, 3) : x.dims.map((_, i) => i).slice(0, starts?.length ?? 0);
  const steps = v.node.input[4] ? ints(v, 4) : starts?.map(() => 1);
  const dims: Dims = [...x.dims];
  if (!axes || !steps) return [{ elemType: x.elemType, dims: dims.map(() => null) }];
  axes.forEach((a, i) => {
    const ax = normAxis(a, r);
    const d = x.dims![ax]!;
    if (!starts || !ends || d === null) {
      dims[ax] = null;
      return;
    }
    const step = steps[i]!;
    const clampIdx = (t: number, lo: number, hi: number) => Math.min(Math.max(t < 0 ? t + d : t, lo), hi);
    const s = step > 0 ? clampIdx(starts[i]!, 0, d) : clampIdx(starts[i]!, -1, d - 1);
    const e = step > 0 ? clampIdx(ends[i]!, 0, d) : clampIdx(ends[i]!, -1, d - 1);
    dims[ax] = Math.max(0, Math.ceil((e - s) / step));
  });
  const out: ValueShape = { elemType: x.elemType, dims };
  if (x.values && r === 1 && starts && ends && steps && axes.length === 1) {
    const d = x.values.length;
    const step = steps[0]!;
    const clampIdx = (t: number, lo: number, hi: number) => Math.min(Math.max(t < 0 ? t + d : t, lo), hi);
    const s = step > 0 ? clampIdx(starts[0]!, 0, d) : clampIdx(starts[0]!, -1, d - 1);
    const e = step > 0 ? clampIdx(ends[0]!, 0, d) : clampIdx(ends[0]!, -1, d - 1);
    const vals: (number | null)[] = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) vals.push(x.values[i]!);
    out.values = vals;
  }
  return [out];
};
shapeRules['Gather'] = (v) => {
  const x = v.in(0);
  const idx = v.in(1);
  if (!x?.dims || !idx?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const axis = normAxis(v.attrInt('axis', 0), x.dims.length);
  const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
  const s: ValueShape = { elemType: x.elemType, dims };
  if (x.values && x.dims.length === 1 && idx.values) {
    s.values = idx.values.map((i) => (i === null ? null : (x.values![i < 0 ? i + x.values!.length : i] ?? null)));
  }
  return [s];
};
shapeRules['GatherElements'] = (v) => [{ elemType: v.in(0)?.elemType ?? 0, ...(v.in(1)?.dims ? { dims: v.in(1)!.dims } : {}) }];
shapeRules['ScatterND'] = same;
shapeRules['ScatterElements'] = same;
shapeRules['Tile'] = (v) => {
  const x = v.in(0);
  const reps = ints(v, 1);
  if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
  return [{ elemType: x.elemType, dims: x.dims.map((d, i) => (reps && d !== null ? d * reps[i]! : null)) }];
};
shapeRules['Pad'] = (v) => {
  const x = v.in(0);
  const pads = v.attrInts('pads') ?? ints(v, 1);
  if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const r = x.dims.length;
  return [{ elemType: x.elemType, dims: x.dims.map((d, i) => (pads && d !== null ? d + pads[i]! + pads[i + r]! : null)) }];
};

function reduce(axesFromInputSince: number): ShapeRule {
  return (v) => {
    const x = v.in(0);
    if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
    const keep = v.attrInt('keepdims', 1) === 1;
    const axes = v.opset >= axesFromInputSince ? (v.node.input[1] ? ints(v, 1) : []) : (v.attrInts('axes') ?? []);
    if (axes === undefined) return [{ elemType: x.elemType, ...(keep ? { dims: x.dims.map(() => null) } : {}) }];
    const r = x.dims.length;
    const noop = v.attrInt('noop_with_empty_axes', 0) === 1;
    const set = new Set(axes.length === 0 ? (noop ? [] : x.dims.map((_, i) => i)) : axes.map((a) => normAxis(a, r)));
    const dims = keep ? x.dims.map((d, i) => (set.has(i) ? 1 : d)) : x.dims.filter((_, i) => !set.has(i));
    return [{ elemType: x.elemType, dims }];
  };
}
shapeRules['ReduceSum'] = reduce(13);
for (const op of ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp']) {
  shapeRules[op] = reduce(18);
}
shapeRules['ArgMax'] = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [{ elemType: TensorDataType.INT64 }];
  const axis = normAxis(v.attrInt('axis', 0), x.dims.length);
  const keep = v.attrInt('keepdims', 1) === 1;
  return [{ elemType: TensorDataType.INT64, dims: keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis) }];
};
shapeRules['ArgMin'] = shapeRules['ArgMax'];

shapeRules['Resize'] = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const sizes = v.node.input[3] ? ints(v, 3) : undefined;
  const scales = v.node.input[2] ? v.in(2)?.values : undefined;
  // From opset 18 scales/sizes may cover only the axes listed in `axes`; other dims are kept.
  const r = x.dims.length;
  const axes = (v.attrInts('axes') ?? x.dims.map((_, i) => i)).map((a) => normAxis(a, r));
  const dims: Dims = [...x.dims];
  axes.forEach((a, i) => {
    const d = x.dims![a]!;
    dims[a] = sizes ? (sizes[i] ?? null) : scales && d !== null && scales[i] != null ? Math.floor(d * scales[i]!) : null;
  });
  return [{ elemType: x.elemType, dims }];
};

shapeRules['Einsum'] = (v) => {
  const eq = v.attrString('equation', '').replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->');
  const terms = (lhs ?? '').split(',');
  const size = new Map<string, number | null>();
  terms.forEach((term, k) => {
    const dims = v.in(k)?.dims;
    if (!dims || term.includes('.')) return;
    [...term].forEach((c, i) => {
      const d = dims[i]!;
      if (!size.has(c) || size.get(c) === null || size.get(c) === 1) size.set(c, d);
    });
  });
  const elemType = v.in(0)?.elemType ?? 0;
  const out = rhs ?? [...new Set(terms.join(''))].filter((c) => terms.join('').split(c).length === 2).sort().join('');
  if (out.includes('.') || [...out].some((c) => !size.has(c))) return [{ elemType }];
  return [{ elemType, dims: [...out].map((c) => size.get(c)!) }];
};

shapeRules['NonZero'] = (v) => [{ elemType: TensorDataType.INT64, ...(v.in(0)?.dims ? { dims: [v.in(0)!.dims!.length, null] } : {}) }];
