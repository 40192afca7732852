/**
 * LayerNorm as exporters before opset 17 write it (no LayerNormalization op), differentiated as
 * one chain ending at the Div:
 *   m = ReduceMean(x), xc = x - m, v = ReduceMean(xc ^ 2), s = Sqrt(v + eps), y = xc / s
 * over the same trailing axes (the affine Mul and Add after it keep their own rules). With
 * g = dy, the gradient is the one LayerNormalization has, from the forward's own y and s:
 *   dx = (g - mean(g) - y * mean(g * y)) / s
 * Node by node, the Div, Sqrt, Add, ReduceMean, Pow and Sub rules take about twenty nodes and a
 * dozen full-size passes per normalization; this takes eight nodes: five full-size elementwise
 * ops, two reductions and one per-row reciprocal.
 */
import type { NodeProto } from '../../proto/types.ts';
import type { ChainRule, VjpContext } from '../rule.ts';
import { producedBy } from './chain-match.ts';
import { backward, computeType, toType } from './normalization.ts';
import { reduction } from './reduce.ts';

/** A ReduceMean's axes, normalized and sorted, when they are a static list and dims are kept. */
function meanAxes(ctx: VjpContext, n: NodeProto, rank: number): number[] | undefined {
  const red = reduction(ctx, 18, n);
  if (!red.keepdims || red.axes.kind !== 'list') return undefined;
  return [...new Set(red.axes.axes.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
}

/** The single constant value of a one-element constant, or undefined. */
function scalarConst(ctx: VjpContext, name: string | undefined): number | undefined {
  const v = name ? ctx.constValues(name) : undefined;
  return v && v.length === 1 ? v[0] : undefined;
}

export const layerNormChain: ChainRule = (ctx: VjpContext) => {
  const div = ctx.node;
  if (div.opType !== 'Div') return undefined;
  const [xcName, sName] = [ctx.input(0), ctx.input(1)];
  const sqrt = producedBy(ctx, sName, 'Sqrt');
  const add = producedBy(ctx, sqrt?.input[0], 'Add');
  if (!sqrt || !add) return undefined;
  const k = [0, 1].find((i) => scalarConst(ctx, add.input[1 - i]) !== undefined && producedBy(ctx, add.input[i], 'ReduceMean'));
  if (k === undefined || !(scalarConst(ctx, add.input[1 - k])! >= 0)) return undefined;
  const meanSq = producedBy(ctx, add.input[k], 'ReduceMean')!;
  const pow = producedBy(ctx, meanSq.input[0], 'Pow');
  if (!pow || pow.input[0] !== xcName || scalarConst(ctx, pow.input[1]) !== 2) return undefined;
  const sub = producedBy(ctx, xcName, 'Sub');
  const mean = producedBy(ctx, sub?.input[1], 'ReduceMean');
  if (!sub || !mean || mean.input[0] !== sub.input[0]) return undefined;
  const x = sub.input[0]!;
  const dims = ctx.shapeOrUndefined(x)?.dims;
  const yDims = ctx.shapeOrUndefined(ctx.output(0))?.dims;
  if (!dims || !yDims || yDims.length !== dims.length) return undefined;
  const rank = dims.length;
  const axes = meanAxes(ctx, mean, rank);
  const axesSq = meanAxes(ctx, meanSq, rank);
  if (!axes || !axesSq || axes.join() !== axesSq.join()) return undefined;
  // backward() normalizes over a trailing run of axes, which is what LayerNorm exports use.
  if (axes.some((a, i) => a !== rank - axes.length + i)) return undefined;
  // Every intermediate must get its cotangent from this chain alone.
  const inner: [string, NodeProto[]][] = [
    [mean.output[0]!, [sub]],
    [xcName, [pow, div]],
    [pow.output[0]!, [meanSq]],
    [meanSq.output[0]!, [add]],
    [add.output[0]!, [sqrt]],
    [sName, [div]],
  ];
  for (const [value, readers] of inner) {
    if (ctx.hasCotangent(value)) return undefined;
    if (ctx.gradientConsumers(value).some((n) => !readers.includes(n))) return undefined;
  }
  const et = ctx.shape(ctx.output(0)).elemType;
  const ct = computeType(et);
  const b = ctx.b;
  const stats = { xhat: toType(ctx, ctx.output(0), et, ct), invstd: b.op('Reciprocal', [toType(ctx, sName, et, ct)]) };
  const dx = backward(ctx, toType(ctx, ctx.dy()!, et, ct), stats, rank - axes.length, rank);
  return { covers: [sub, mean, pow, meanSq, add, sqrt], grads: [[x, toType(ctx, dx, ct, et)]] };
};
