/**
 * GELU as exporters write it without a Gelu op, y = x * (erf(x / sqrt 2) + 1) * 0.5 (five nodes),
 * differentiated from x alone:
 *   y' = Phi(x) + x phi(x),   Phi(x) = (1 + erf(x / sqrt 2)) / 2,   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
 * recomputing erf instead of reading the forward's intermediates, so only x stays alive for the
 * backward (node by node, the Div, Add and Mul rules would keep three full-size intermediates).
 *
 * The gated form the SD feed-forwards use, out = h * gelu(gate) (GEGLU), is one chain too: its
 * product rule would read gelu(gate) itself, a fourth activation; here dh = dout * gelu(gate)
 * and dgate = dout * h * gelu'(gate) both come from the recomputed Phi, so h and gate are all the
 * backward reads.
 */
import type { NodeProto } from '../../proto/types.ts';
import type { ChainRule, VjpContext } from '../rule.ts';
import { producedBy } from './chain-match.ts';

function scalarConst(ctx: VjpContext, name: string | undefined): number | undefined {
  const v = name ? ctx.constValues(name) : undefined;
  return v && v.length === 1 ? v[0] : undefined;
}

const near = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) <= 1e-4 * Math.abs(b);

/** The other input of a two-input node whose input `k` is a constant near `value`. */
function withConstant(ctx: VjpContext, n: NodeProto | undefined, value: number): string | undefined {
  if (!n || n.input.length !== 2) return undefined;
  for (const k of [0, 1]) if (near(scalarConst(ctx, n.input[k]), value)) return n.input[1 - k];
  return undefined;
}

interface ErfGelu {
  x: string;
  /** The chain's nodes other than the last (the covered ones). */
  inner: NodeProto[];
  /** Intermediate values, each of which must get no cotangent but from the chain. */
  values: [string, NodeProto[]][];
}

/** Matches y = Mul(Mul(x, a), 0.5) or Mul(Mul(x, 0.5), a) with a = erf(x / sqrt 2) + 1, ending at `last`. */
function matchErfGelu(ctx: VjpContext, last: NodeProto): ErfGelu | undefined {
  if (last.opType !== 'Mul' || last.input.length !== 2) return undefined;
  const plusOne = (a: string | undefined) => {
    const add = producedBy(ctx, a, 'Add');
    const erf = producedBy(ctx, withConstant(ctx, add, 1), 'Erf');
    if (!add || !erf) return undefined;
    const scaleNode = ctx.producer(erf.input[0]!);
    const x = scaleNode?.opType === 'Div' && near(scalarConst(ctx, scaleNode.input[1]), Math.SQRT2)
      ? scaleNode.input[0]
      : scaleNode?.opType === 'Mul' ? withConstant(ctx, scaleNode, Math.SQRT1_2) : undefined;
    return x && scaleNode ? { x, add, erf, scale: scaleNode } : undefined;
  };
  for (const k of [0, 1]) {
    const inner = producedBy(ctx, last.input[k], 'Mul');
    const other = last.input[1 - k]!;
    if (!inner || inner.input.length !== 2) continue;
    // Mul(Mul(x, a), 0.5)
    if (near(scalarConst(ctx, other), 0.5)) {
      for (const j of [0, 1]) {
        const m = plusOne(inner.input[1 - j]);
        if (m && m.x === inner.input[j]) {
          return { x: m.x, inner: [inner, m.add, m.erf, m.scale], values: [[inner.output[0]!, [last]], [m.add.output[0]!, [inner]], [m.erf.output[0]!, [m.add]], [m.scale.output[0]!, [m.erf]]] };
        }
      }
    }
    // Mul(Mul(x, 0.5), a)
    const m = plusOne(other);
    const x = withConstant(ctx, inner, 0.5);
    if (m && x === m.x) {
      return { x, inner: [inner, m.add, m.erf, m.scale], values: [[inner.output[0]!, [last]], [other, [last]], [m.erf.output[0]!, [m.add]], [m.scale.output[0]!, [m.erf]]] };
    }
  }
  return undefined;
}

function exclusive(ctx: VjpContext, values: readonly [string, NodeProto[]][]): boolean {
  return values.every(([value, readers]) => !ctx.hasCotangent(value) && ctx.gradientConsumers(value).every((n) => readers.includes(n)));
}

/** Phi(x) and gelu'(x) = Phi(x) + x phi(x), from x. */
function cdfAndSlope(ctx: VjpContext, x: string): { phi: string; slope: string } {
  const b = ctx.b;
  const t = ctx.shape(x).elemType;
  const c = (v: number, hint: string) => b.scalar(v, t, hint);
  const erf = b.op('Erf', [b.mul(x, c(Math.SQRT1_2, 'inv_sqrt2'))], {}, 'gelu_recomputed_erf');
  const phi = b.mul(b.add(erf, c(1, 'one')), c(0.5, 'half'));
  const density = b.mul(b.op('Exp', [b.mul(b.mul(x, x), c(-0.5, 'minus_half'))]), c(1 / Math.sqrt(2 * Math.PI), 'inv_sqrt_2pi'));
  return { phi, slope: b.add(phi, b.mul(x, density)) };
}

export const geluChain: ChainRule = (ctx: VjpContext) => {
  const gelu = matchErfGelu(ctx, ctx.node);
  if (!gelu || !exclusive(ctx, gelu.values)) return undefined;
  const { slope } = cdfAndSlope(ctx, gelu.x);
  return { covers: gelu.inner, grads: [[gelu.x, ctx.b.mul(ctx.dy()!, slope)]] };
};

export const gatedGeluChain: ChainRule = (ctx: VjpContext) => {
  const node = ctx.node;
  if (node.opType !== 'Mul' || node.input.length !== 2) return undefined;
  for (const k of [0, 1]) {
    const last = producedBy(ctx, node.input[k], 'Mul');
    const gelu = last ? matchErfGelu(ctx, last) : undefined;
    const h = node.input[1 - k]!;
    const y = node.input[k]!;
    if (!gelu || !last || h === y) continue;
    const hd = ctx.shapeOrUndefined(h)?.dims;
    const xd = ctx.shapeOrUndefined(gelu.x)?.dims;
    const od = ctx.shapeOrUndefined(ctx.output(0))?.dims;
    // One shape throughout (no broadcast to undo); symbolic dims must be symbolic on every side.
    if (!hd || !xd || !od || hd.length !== od.length || xd.length !== od.length || hd.some((d, i) => d !== od[i] || xd[i] !== od[i])) continue;
    if (!exclusive(ctx, [...gelu.values, [y, [node]]])) continue;
    const b = ctx.b;
    const dy = ctx.dy()!;
    const { phi, slope } = cdfAndSlope(ctx, gelu.x);
    const grads: [string, string][] = [];
    if (ctx.onPath(h)) grads.push([h, b.mul(dy, b.mul(gelu.x, phi))]);
    if (ctx.onPath(gelu.x)) grads.push([gelu.x, b.mul(b.mul(dy, h), slope)]);
    return { covers: [last, ...gelu.inner], grads };
  }
  return undefined;
};
