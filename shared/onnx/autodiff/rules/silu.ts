/**
 * SiLU as exported, y = Mul(x, Sigmoid(x)), differentiated as one chain that reads x alone:
 *   dx = dy * s * (1 + x (1 - s)),   s = sigmoid(x) recomputed
 * (from s + x s (1 - s)). The forward's s and y are not read, so they need not stay alive until
 * the backward: the UNets of the SD family apply SiLU after every GroupNorm, and keeping x, s and
 * y for each cost three activations where one suffices; the recomputed sigmoid is one pass.
 */
import type { ChainRule, VjpContext } from '../rule.ts';
import { producedBy } from './chain-match.ts';

export const siluChain: ChainRule = (ctx: VjpContext) => {
  const node = ctx.node;
  if (node.opType !== 'Mul' || node.input.length !== 2) return undefined;
  const y = ctx.output(0);
  for (const k of [0, 1]) {
    const s = ctx.input(k);
    const x = ctx.input(1 - k);
    const sigmoid = producedBy(ctx, s, 'Sigmoid');
    if (!sigmoid || sigmoid.input[0] !== x) continue;
    // s must get its cotangent from this Mul alone, and x and y must have one shape.
    if (ctx.hasCotangent(s) || ctx.gradientConsumers(s).some((n) => n !== node)) continue;
    const xd = ctx.shapeOrUndefined(x)?.dims;
    const yd = ctx.shapeOrUndefined(y)?.dims;
    if (!xd || !yd || xd.length !== yd.length) continue;
    const b = ctx.b;
    const one = b.scalar(1, ctx.shape(y).elemType, 'one');
    const sig = b.op('Sigmoid', [x], {}, 'silu_recomputed_sigmoid');
    const slope = b.mul(sig, b.add(b.mul(x, b.sub(one, sig)), one));
    return { covers: [sigmoid], grads: [[x, b.mul(ctx.dy()!, slope)]] };
  }
  return undefined;
};
