/**
 * SiLU as exported, y = Mul(x, Sigmoid(x)), differentiated as one chain:
 *   dx = dy * s * (1 + x - y),   s = sigmoid(x)
 * (from s + x s (1 - s) = s (1 + x - x s)). Node by node, the Mul and Sigmoid rules take six
 * full-size ops (two products, the sigmoid derivative's three, and the Sum of the two paths);
 * this takes four, and the UNets of the SD family apply SiLU after every GroupNorm.
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
    const elemType = ctx.shape(y).elemType;
    const one = b.scalar(1, elemType, 'one');
    const dx = b.mul(ctx.dy()!, b.mul(s, b.add(b.sub(x, y), one)));
    return { covers: [sigmoid], grads: [[x, dx]] };
  }
  return undefined;
};
