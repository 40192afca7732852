/**
 * Input gradients of LayerNormalization, InstanceNormalization and GroupNormalization (scale
 * and bias are constants). With xhat the standardized input, invstd = 1/sqrt(var + eps) and
 * g = dy * scale, all over the normalized axes:
 *   dx = invstd * (g - mean(g) - xhat * mean(g * xhat)).
 * Low-precision inputs are handled in float32 throughout (statistics and the two means).
 */
import { attr } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { makeTensor } from '../../tensor.ts';
import { firstInputOnly, type VjpContext, type VjpRule } from '../rule.ts';
import { isLowPrecision } from '../precision.ts';

export interface Stats {
  /** Standardized input, in the compute type. */
  xhat: string;
  /** 1 / sqrt(var + eps), kept dims over the normalized axes, in the compute type. */
  invstd: string;
}

export function computeType(elemType: number): number {
  return isLowPrecision(elemType) ? TensorDataType.FLOAT : elemType;
}

export function toType(ctx: VjpContext, x: string, from: number, to: number): string {
  return from === to ? x : ctx.b.cast(x, to);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/**
 * Standardizes x (already in compute type `ct`) over axes [axis, rank). From opset 17, in
 * float32, one LayerNormalization with unit scale yields xhat and invstd in a single fused
 * kernel (ORT has no double-precision statistics for it, so float64 is computed op by op).
 */
function standardize(ctx: VjpContext, x: string, dims: (number | null)[], axis: number, eps: number, ct: number): Stats {
  const b = ctx.b;
  const rank = dims.length;
  if (ctx.opset >= 17 && ct === TensorDataType.FLOAT) {
    const normDims = dims.slice(axis);
    // Unit scale filled at run time (folded by ORT when static): no large constant in the file.
    const shape = normDims.every((d) => d !== null)
      ? b.int64s(normDims as number[], 'norm_shape')
      : b.op('Shape', [x], { start: attr.int(axis) });
    const ones = b.op('ConstantOfShape', [shape], { value: attr.tensor(makeTensor('value', ct, [1], [1])) });
    const [xhat, , invstd] = b.node('LayerNormalization', [x, ones], {
      axis: attr.int(axis),
      epsilon: attr.float(eps),
      stash_type: attr.int(ct),
    }, 3, 'standardize');
    return { xhat: xhat!, invstd: invstd! };
  }
  const axes = range(axis, rank);
  const mean = b.reduceMean(x, axes, true);
  const xc = b.sub(x, mean);
  const variance = b.reduceMean(b.mul(xc, xc), axes, true);
  const invstd = b.op('Reciprocal', [b.op('Sqrt', [b.add(variance, b.scalar(eps, ct, 'eps'))])]);
  return { xhat: b.mul(xc, invstd), invstd };
}

/** dx from g = dy * scale and the statistics, over axes [axis, rank). */
export function backward(ctx: VjpContext, g: string, s: Stats, axis: number, rank: number): string {
  const b = ctx.b;
  const axes = range(axis, rank);
  const meanG = b.reduceMean(g, axes, true);
  const meanGX = b.reduceMean(b.mul(g, s.xhat), axes, true);
  return b.mul(b.sub(b.sub(g, meanG), b.mul(s.xhat, meanGX)), s.invstd);
}

function onlyData(ctx: VjpContext, what: string): void {
  if (ctx.wants(1)) ctx.fail(`the ${what} scale lies on the gradient path; only the data input gradient is supported`);
  if (ctx.wants(2)) ctx.fail(`the ${what} bias lies on the gradient path; only the data input gradient is supported`);
}

/**
 * dy * scale, where a constant all-ones scale (GroupNorm exported as InstanceNormalization over
 * groups, LayerNorm without affine parameters) costs nothing: such scales are common, and at
 * small sizes every full-size op counts.
 */
function scaled(ctx: VjpContext, dy: string, scale: () => string): string {
  const values = ctx.constInts(1);
  if (values && values.length > 0 && values.every((v) => v === 1)) return dy;
  return ctx.b.mul(dy, scale());
}

function dimsOf(ctx: VjpContext, name: string): (number | null)[] {
  return ctx.shape(name).dims ?? ctx.fail(`rank of '${name}' is unknown`);
}

const layerNorm: VjpRule = (ctx: VjpContext) => {
  onlyData(ctx, 'LayerNormalization');
  if (ctx.dy(1) !== undefined || ctx.dy(2) !== undefined) ctx.fail('the Mean/InvStdDev outputs lie on the gradient path; only Y can be differentiated');
  const b = ctx.b;
  const x = ctx.input(0);
  const dims = dimsOf(ctx, x);
  const rank = dims.length;
  const rawAxis = ctx.attrInt('axis', -1);
  const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
  const et = ctx.shape(x).elemType;
  const ct = computeType(et);
  const xc = toType(ctx, x, et, ct);
  // Reuse the forward node's statistics when it exports them in the compute type.
  const [meanOut, invOut] = [ctx.output(1), ctx.output(2)];
  let stats: Stats;
  if (meanOut && invOut && ctx.shapeOrUndefined(invOut)?.elemType === ct && ctx.shapeOrUndefined(meanOut)?.elemType === ct) {
    stats = { xhat: b.mul(b.sub(xc, meanOut), invOut), invstd: invOut };
  } else {
    stats = standardize(ctx, xc, dims, axis, ctx.attrFloat('epsilon', 1e-5), ct);
  }
  const g = scaled(ctx, toType(ctx, ctx.dy()!, et, ct), () => toType(ctx, ctx.input(1), ctx.shape(ctx.input(1)).elemType || et, ct));
  return firstInputOnly(ctx, toType(ctx, backward(ctx, g, stats, axis, rank), ct, et));
};

const instanceNorm: VjpRule = (ctx: VjpContext) => {
  onlyData(ctx, 'InstanceNormalization');
  const b = ctx.b;
  const x = ctx.input(0);
  const dims = dimsOf(ctx, x);
  const rank = dims.length;
  if (rank < 3) ctx.fail('InstanceNormalization needs an input of rank 3 or more');
  const et = ctx.shape(x).elemType;
  const ct = computeType(et);
  const stats = standardize(ctx, toType(ctx, x, et, ct), dims, 2, ctx.attrFloat('epsilon', 1e-5), ct);
  const g = scaled(ctx, toType(ctx, ctx.dy()!, et, ct), () => b.unsqueeze(toType(ctx, ctx.input(1), et, ct), range(1, rank - 1)));
  return firstInputOnly(ctx, toType(ctx, backward(ctx, g, stats, 2, rank), ct, et));
};

// Opset 18 scales per group ([G]); opset 21 per channel ([C]).
const groupNorm: VjpRule = (ctx: VjpContext) => {
  onlyData(ctx, 'GroupNormalization');
  const b = ctx.b;
  const x = ctx.input(0);
  const dims = dimsOf(ctx, x);
  const rank = dims.length;
  if (rank < 3) ctx.fail('GroupNormalization gradient needs an input of rank 3 or more');
  const groups = ctx.attrInt('num_groups', 0);
  if (groups <= 0) ctx.fail('GroupNormalization has no valid num_groups');
  const perChannel = ctx.opset >= 21;
  const scaleLen = ctx.shapeOrUndefined(ctx.input(1))?.dims?.[0];
  const expected = perChannel ? dims[1] : groups;
  if (typeof scaleLen === 'number' && typeof expected === 'number' && scaleLen !== expected) {
    ctx.fail(`scale has ${scaleLen} entries; opset ${ctx.opset} GroupNormalization expects ${perChannel ? 'one per channel' : 'one per group'} (${expected})`);
  }
  const et = ctx.shape(x).elemType;
  const ct = computeType(et);
  const grouped = b.int64s([0, groups, -1], 'group_shape');
  const rest = dims.slice(1);
  const groupSize = rest.every((d) => d !== null) ? (rest as number[]).reduce((p, d) => p * d, 1) / groups : null;
  const xr = b.reshape(toType(ctx, x, et, ct), grouped);
  const stats = standardize(ctx, xr, [dims[0]!, groups, groupSize], 2, ctx.attrFloat('epsilon', 1e-5), ct);
  const scale = () => toType(ctx, ctx.input(1), et, ct);
  const dy = toType(ctx, ctx.dy()!, et, ct);
  const gr = perChannel
    ? b.reshape(scaled(ctx, dy, () => b.unsqueeze(scale(), range(1, rank - 1))), grouped)
    : scaled(ctx, b.reshape(dy, grouped), () => b.unsqueeze(scale(), [1]));
  const dxr = backward(ctx, gr, stats, 2, 3);
  const target = dims.every((d) => d !== null) ? b.int64s(dims as number[], 'shape') : b.shapeOf(x);
  return firstInputOnly(ctx, toType(ctx, b.reshape(dxr, target), ct, et));
};

export const normalizationRules: Record<string, VjpRule> = {
  LayerNormalization: layerNorm,
  InstanceNormalization: instanceNorm,
  GroupNormalization: groupNorm,
};
