/**
 * Gradients of data-movement ops: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand,
 * Concat, Split, Slice, Gather, Tile, Pad (and Shape/Size, which pass nothing back). Shapes,
 * offsets and axes are baked in as constants where static shape inference knows them; symbolic
 * dims fall back to Shape-based arithmetic evaluated at run time.
 */
import { attr } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { knownDims } from '../../shape/value-shape.ts';
import { accurateReduceSum, isLowPrecision } from '../precision.ts';
import { firstInputOnly, noCotangents, type VjpRule } from '../rule.ts';
import { asInt64, dimOf, intOp, intTensor, intVector, norm, rankOf, reshapeLike, zerosLike, type Int } from './shape-arithmetic.ts';
import { elemTypeOf } from './unary.ts';

const INT64_MIN = -(2 ** 63);

/** Reshape-like ops keep the element order: the cotangent is reshaped back. */
const reshapeBack: VjpRule = (ctx) => firstInputOnly(ctx, reshapeLike(ctx, ctx.dy()!, ctx.input(0)));

const transpose: VjpRule = (ctx) => {
  const r = rankOf(ctx, ctx.input(0));
  const perm = ctx.attrInts('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  return [ctx.b.transpose(ctx.dy()!, inv)];
};

/**
 * Expand: sum the cotangent over broadcast axes. Leading axes and axes where the input's dim is
 * statically 1 are reduced with constant axes; axes where the input's dim is symbolic are
 * compared at run time and reduced with a computed axes list.
 */
const expand: VjpRule = (ctx) => {
  const [x, y] = [ctx.input(0), ctx.output(0)];
  const xd = ctx.shape(x).dims;
  const yd = ctx.shape(y).dims;
  if (!xd || !yd) return ctx.fail(`rank of '${x}' or '${y}' is unknown`);
  const elemType = elemTypeOf(ctx, y);
  const lead = yd.length - xd.length;
  let g = ctx.dy()!;
  const leading = Array.from({ length: lead }, (_, i) => i);
  const ones = xd.flatMap((d, i) => (d === 1 && yd[i + lead] !== 1 ? [i + lead] : []));
  if (ones.length > 0) g = accurateReduceSum(ctx, g, ones, true, elemType);
  if (leading.length > 0) g = accurateReduceSum(ctx, g, leading, false, elemType);
  const unknown = xd.flatMap((d, i) => (d === null && yd[i + lead] !== 1 ? [i] : []));
  if (unknown.length === 0) return firstInputOnly(ctx, g);
  const b = ctx.b;
  const cand = b.int64s(unknown);
  const differs = b.op('Not', [b.op('Equal', [b.op('Gather', [b.shapeOf(x), cand]), b.op('Gather', [b.shapeOf(g), cand])])]);
  const axes = b.op('Gather', [cand, b.reshape(b.op('NonZero', [differs]), b.int64s([-1]))]);
  if (!isLowPrecision(elemType)) return firstInputOnly(ctx, b.reduceSumDynamic(g, axes, true));
  return firstInputOnly(ctx, b.cast(b.reduceSumDynamic(b.cast(g, TensorDataType.FLOAT), axes, true), elemType));
};

/** Concat: each input's cotangent is its window of the output cotangent along the axis. */
const concat: VjpRule = (ctx) => {
  const b = ctx.b;
  const dy = ctx.dy()!;
  const n = ctx.node.input.length;
  const axis = norm(ctx.attrInt('axis', 0), rankOf(ctx, ctx.output(0)));
  const sizes = ctx.node.input.map((name) => dimOf(ctx, name, axis));
  const wanted = ctx.node.input.map((_, k) => ctx.wants(k));
  if (wanted.every(Boolean)) {
    const parts = b.node('Split', [dy, intVector(b, sizes)], { axis: attr.int(axis) }, n);
    return parts;
  }
  const grads = noCotangents(ctx);
  let offset: Int = 0;
  for (let k = 0; k < n; k++) {
    const end = intOp(b, 'Add', offset, sizes[k]!);
    if (wanted[k]) grads[k] = b.op('Slice', [dy, intTensor(b, offset), intTensor(b, end), b.int64s([axis])]);
    offset = end;
  }
  return grads;
};

/** Split: concatenate the output cotangents, with zeros for outputs nothing flows back to. */
const split: VjpRule = (ctx) => {
  const elemType = elemTypeOf(ctx, ctx.input(0));
  const axis = norm(ctx.attrInt('axis', 0), rankOf(ctx, ctx.input(0)));
  const parts = ctx.node.output.map((o, k) => ctx.dy(k) ?? zerosLike(ctx, o, elemType));
  return firstInputOnly(ctx, parts.length === 1 ? parts[0]! : ctx.b.op('Concat', parts, { axis: attr.int(axis) }));
};

/**
 * Slice: the cotangent is placed back at the sliced positions with a single Pad (negative pad
 * amounts crop). Steps of magnitude k > 1 first interleave k-1 zeros after each element;
 * negative steps first reverse the cotangent. Only where a start, dim or length is symbolic
 * are the pad amounts computed at run time.
 */
const slice: VjpRule = (ctx) => {
  const b = ctx.b;
  const [x, y] = [ctx.input(0), ctx.output(0)];
  const r = rankOf(ctx, x);
  const startsStatic = ctx.constInts(1);
  const nAxes = startsStatic?.length ?? ctx.shape(ctx.input(1)).dims?.[0];
  if (typeof nAxes !== 'number') return ctx.fail('the number of sliced axes is unknown');
  const axes = ctx.input(3) ? ctx.constInts(3) : Array.from({ length: nAxes }, (_, i) => i);
  if (!axes) return ctx.fail('Slice axes are not constant');
  const steps = ctx.input(4) ? ctx.constInts(4) : axes.map(() => 1);
  if (!steps) return ctx.fail('Slice steps are not constant');
  const startsRuntime = startsStatic ? undefined : asInt64(ctx, ctx.input(1));

  let g = ctx.dy()!;
  const gDims: (number | null)[] = [...(ctx.shape(y).dims ?? new Array<null>(r).fill(null))];
  const begins: Int[] = new Array<Int>(r).fill(0);
  const endPads: Int[] = new Array<Int>(r).fill(0);
  const reversed: number[] = [];
  axes.forEach((rawAxis, i) => {
    const a = norm(rawAxis, r);
    const step = steps[i]!;
    const d = dimOf(ctx, x, a);
    const n = dimOf(ctx, y, a);
    let s: Int;
    if (startsStatic) s = startsStatic[i]!;
    else s = b.op('Slice', [startsRuntime!, b.int64s([i]), b.int64s([i + 1])]);
    // Normalised start: negative counts from the end, then clamped like the forward op does.
    const normed: Int = typeof s === 'number'
      ? (s < 0 ? intOp(b, 'Add', s, d) : s)
      : b.op('Where', [b.op('Less', [s, b.int64s([0])]), intOp(b, 'Add', s, d) as string, s]);
    let begin: Int;
    if (step > 0) {
      begin = typeof s === 'number' && s >= 0 ? s : intOp(b, 'Min', intOp(b, 'Max', normed, 0), d);
    } else {
      reversed.push(a);
      const first = intOp(b, 'Min', intOp(b, 'Max', normed, -1), intOp(b, 'Sub', d, 1));
      begin = intOp(b, 'Add', first, intOp(b, 'Mul', intOp(b, 'Sub', n, 1), step));
    }
    const k = Math.abs(step);
    begins[a] = begin;
    endPads[a] = intOp(b, 'Sub', intOp(b, 'Sub', d, begin), intOp(b, 'Mul', n, k));
  });
  if (reversed.length > 0) {
    const m = reversed.length;
    g = b.op('Slice', [g, b.int64s(new Array(m).fill(-1)), b.int64s(new Array(m).fill(INT64_MIN)), b.int64s(reversed), b.int64s(new Array(m).fill(-1))]);
  }
  axes.forEach((rawAxis, i) => {
    const k = Math.abs(steps[i]!);
    if (k === 1) return;
    const a = norm(rawAxis, r);
    // [.., n, ..] -> [.., n, 1, ..] -> pad to [.., n, k, ..] -> [.., n*k, ..]: k-1 zeros after each element.
    const padded = b.op('Pad', [b.unsqueeze(g, [a + 1]), b.int64s(Array.from({ length: 2 * (r + 1) }, (_, j) => (j === r + 1 + a + 1 ? k - 1 : 0)))]);
    let target: string;
    if (gDims.every((dd) => dd !== null)) {
      target = b.int64s(gDims.map((dd, j) => (j === a ? dd! * k : dd!)));
    } else {
      const s = b.shapeOf(g);
      target = b.op('Concat', [b.op('Slice', [s, b.int64s([0]), b.int64s([a])]), b.int64s([-1]), b.op('Slice', [s, b.int64s([a + 1]), b.int64s([r])])], { axis: attr.int(0) });
    }
    g = b.reshape(padded, target);
    gDims[a] = gDims[a] === null ? null : gDims[a]! * k;
  });
  const pads = [...begins, ...endPads];
  if (pads.every((p) => p === 0)) return firstInputOnly(ctx, g);
  return firstInputOnly(ctx, b.op('Pad', [g, intVector(b, pads)]));
};

/**
 * Gather along `axis` with indices off the gradient path. A constant scalar index or a constant
 * run of consecutive indices is a slice (gradient: Pad). Otherwise the cotangent is added back
 * at the gathered rows: ScatterElements with reduction 'add' from opset 16 (repeated indices
 * accumulate), and before that a one-hot MatMul, which accumulates the same way.
 */
const gather: VjpRule = (ctx) => {
  const b = ctx.b;
  const [x, idx, y] = [ctx.input(0), ctx.input(1), ctx.output(0)];
  const r = rankOf(ctx, x);
  const a = norm(ctx.attrInt('axis', 0), r);
  const elemType = elemTypeOf(ctx, y);
  const dy = ctx.dy()!;
  const idxRank = ctx.shape(idx).dims?.length;
  if (idxRank === undefined) return ctx.fail(`rank of indices '${idx}' is unknown`);
  const dimA = ctx.shape(x).dims?.[a];
  const constIdx = ctx.constInts(1);

  if (typeof dimA === 'number' && constIdx && constIdx.length > 0 && idxRank <= 1) {
    const ids = constIdx.map((i) => (i < 0 ? i + dimA : i));
    if (ids.every((v, j) => j === 0 || v === ids[j - 1]! + 1)) {
      const g = idxRank === 0 ? b.unsqueeze(dy, [a]) : dy;
      const pads = new Array<number>(2 * r).fill(0);
      pads[a] = ids[0]!;
      pads[r + a] = dimA - ids[0]! - ids.length;
      return firstInputOnly(ctx, b.op('Pad', [g, b.int64s(pads)]));
    }
  }

  const flatIdx = b.reshape(asInt64(ctx, idx), b.int64s([-1]));
  const xDims = knownDims(ctx.shapeOrUndefined(x));
  const idxDims = knownDims(ctx.shapeOrUndefined(idx));
  const m = idxDims ? idxDims.reduce((p, q) => p * q, 1) : undefined;

  if (ctx.opset >= 16) {
    // dy viewed as [x[:a], m, x[a+1:]], so indices and updates have the data's rank.
    let target: string;
    if (xDims && m !== undefined) target = b.int64s(xDims.map((d, i) => (i === a ? m : d)));
    else {
      const s = b.shapeOf(x);
      target = b.op('Concat', [b.op('Slice', [s, b.int64s([0]), b.int64s([a])]), b.int64s([-1]), b.op('Slice', [s, b.int64s([a + 1]), b.int64s([r])])], { axis: attr.int(0) });
    }
    const updates = b.reshape(dy, target);
    const column = b.reshape(flatIdx, b.int64s(Array.from({ length: r }, (_, i) => (i === a ? -1 : 1))));
    const indices = b.op('Expand', [column, xDims && m !== undefined ? target : b.shapeOf(updates)]);
    // Repeated rows accumulate in float32 for half types (ORT CPU has no float16 'add' scatter either).
    const low = isLowPrecision(elemType);
    const accType = low ? TensorDataType.FLOAT : elemType;
    const g = b.op('ScatterElements', [zerosLike(ctx, x, accType), indices, low ? b.cast(updates, accType) : updates], { axis: attr.int(a), reduction: attr.string('add') });
    return firstInputOnly(ctx, low ? b.cast(g, elemType) : g);
  }

  // One-hot [D, m] with onehot[d, j] = (idx[j] == d), then dx = onehot @ dy viewed as [x[:a], m, rest].
  const d = dimOf(ctx, x, a);
  const normIdx = typeof d === 'number'
    ? b.op('Where', [b.op('Less', [flatIdx, b.int64Scalar(0)]), b.add(flatIdx, b.int64Scalar(d)), flatIdx])
    : b.op('Where', [b.op('Less', [flatIdx, b.int64Scalar(0)]), b.add(flatIdx, d), flatIdx]);
  const dScalar = typeof d === 'number' ? b.int64Scalar(d) : b.reshape(d, b.int64s([]));
  const range = b.op('Range', [b.int64Scalar(0), dScalar, b.int64Scalar(1)]);
  const oneHot = b.cast(b.op('Equal', [b.unsqueeze(range, [1]), normIdx]), elemType);
  let target: string;
  if (xDims && m !== undefined) {
    const rest = xDims.slice(a + 1).reduce((p, q) => p * q, 1);
    target = b.int64s([...xDims.slice(0, a), m, rest]);
  } else {
    const s = b.shapeOf(x);
    const mT = b.reshape(b.op('Size', [idx]), b.int64s([1]));
    target = b.op('Concat', [b.op('Slice', [s, b.int64s([0]), b.int64s([a])]), mT, b.int64s([-1])], { axis: attr.int(0) });
  }
  const product = b.op('MatMul', [oneHot, b.reshape(dy, target)]);
  return firstInputOnly(ctx, reshapeLike(ctx, product, x));
};

/**
 * Tile: view the cotangent as [r0, d0, r1, d1, ...] and sum over the repeat axes. With static
 * dims only the axes actually repeated are split out.
 */
const tile: VjpRule = (ctx) => {
  const b = ctx.b;
  const x = ctx.input(0);
  const r = rankOf(ctx, x);
  const elemType = elemTypeOf(ctx, ctx.output(0));
  const reps = ctx.constInts(1);
  const xDims = knownDims(ctx.shapeOrUndefined(x));
  const dy = ctx.dy()!;
  if (reps && xDims) {
    if (reps.every((k) => k === 1)) return [dy, undefined];
    const target: number[] = [];
    const axes: number[] = [];
    xDims.forEach((d, i) => {
      if (reps[i]! !== 1) {
        axes.push(target.length);
        target.push(reps[i]!);
      }
      target.push(d);
    });
    return [accurateReduceSum(ctx, b.reshape(dy, b.int64s(target)), axes, false, elemType), undefined];
  }
  const repsT = reps ? b.int64s(reps) : asInt64(ctx, ctx.input(1));
  const pairs = b.op('Concat', [b.unsqueeze(repsT, [1]), b.unsqueeze(b.shapeOf(x), [1])], { axis: attr.int(1) });
  const view = b.reshape(dy, b.reshape(pairs, b.int64s([-1])));
  return [accurateReduceSum(ctx, view, Array.from({ length: r }, (_, i) => 2 * i), false, elemType), undefined];
};

/** Constant-mode Pad: the adjoint is the opposite Pad (cropping what was padded, and vice versa). */
const pad: VjpRule = (ctx) => {
  const mode = ctx.attrString('mode', 'constant');
  if (mode !== 'constant') ctx.fail(`Pad mode '${mode}' has no gradient rule; only constant padding is supported`);
  if (ctx.wants(2)) ctx.fail('gradient w.r.t. the Pad constant value is not supported');
  const b = ctx.b;
  const p = ctx.constInts(1);
  const negated = p ? b.int64s(p.map((v) => -v)) : b.neg(asInt64(ctx, ctx.input(1)));
  const inputs = [ctx.dy()!, negated];
  if (ctx.input(3)) inputs.push('', ctx.input(3));
  return firstInputOnly(ctx, b.op('Pad', inputs));
};

// Integer outputs (shape arithmetic) carry no cotangent back to the tensor they measure.
const noGradient: VjpRule = noCotangents;

export const shapeOpRules: Record<string, VjpRule> = {
  Shape: noGradient,
  Size: noGradient,
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: transpose,
  Expand: expand,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  Tile: tile,
  Pad: pad,
};
