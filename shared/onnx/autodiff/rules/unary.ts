/**
 * Gradients of elementwise ops: Pow, Sqrt, Reciprocal, Exp, Log, Erf, Sigmoid, Tanh, Relu, Gelu,
 * Sin, Cos, Abs, Clip, Identity, Dropout, Cast, CastLike, Where, Max, Min, HardSigmoid, Softplus,
 * LeakyRelu, Elu, Mish; comparisons and ArgMax/NonZero pass nothing back. Where the derivative
 * is a function of the forward output (Sigmoid, Tanh, Exp, Sqrt, Reciprocal, Relu), the forward
 * output is reused instead of recomputed.
 */
import { attr } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { FLOAT_TYPES } from '../../tensor.ts';
import { isLowPrecision } from '../precision.ts';
import { firstInputOnly, noCotangents, type VjpContext, type VjpRule } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

/** Element type of a forward value, falling back to the node's first output, then first input. */
export function elemTypeOf(ctx: VjpContext, name: string): number {
  const known = (v: string) => ctx.shapeOrUndefined(v)?.elemType;
  const t = known(name) || known(ctx.output(0)) || known(ctx.input(0));
  if (!t) ctx.fail(`element type of '${name}' is unknown`);
  return t;
}

/** A scalar constant of the node's output element type. */
function c(ctx: VjpContext, value: number): string {
  return ctx.b.scalar(value, elemTypeOf(ctx, ctx.output(0)));
}

/** dy masked by a boolean condition (zero where false). */
function masked(ctx: VjpContext, cond: string, g: string): string {
  return ctx.b.op('Where', [cond, g, c(ctx, 0)]);
}

/** Sum over every element to a scalar, accumulating low-precision types in float32. */
function sumAll(ctx: VjpContext, g: string, elemType: number): string {
  if (!isLowPrecision(elemType)) return ctx.b.op('ReduceSum', [g], { keepdims: attr.int(0) });
  const wide = ctx.b.op('ReduceSum', [ctx.b.cast(g, TensorDataType.FLOAT)], { keepdims: attr.int(0) });
  return ctx.b.cast(wide, elemType);
}

/** Elementwise rule dx = f(ctx, dy), for single-input ops. */
function unary(f: (ctx: VjpContext, dy: string) => string): VjpRule {
  return (ctx) => [f(ctx, ctx.dy()!)];
}

// d sqrt(x) = 0.5 / y
const sqrt = unary((ctx, dy) => ctx.b.div(ctx.b.mul(dy, c(ctx, 0.5)), ctx.output(0)));
// d (1/x) = -y^2
const reciprocal = unary((ctx, dy) => ctx.b.mul(ctx.b.mul(dy, ctx.output(0)), ctx.b.neg(ctx.output(0))));
const exp = unary((ctx, dy) => ctx.b.mul(dy, ctx.output(0)));
const log = unary((ctx, dy) => ctx.b.div(dy, ctx.input(0)));
// d erf(x) = 2/sqrt(pi) * exp(-x^2)
const erf = unary((ctx, dy) => {
  const x = ctx.input(0);
  const e = ctx.b.op('Exp', [ctx.b.mul(ctx.b.mul(x, x), c(ctx, -1))]);
  return ctx.b.mul(dy, ctx.b.mul(e, c(ctx, 2 / Math.sqrt(Math.PI))));
});
// d sigmoid = y (1 - y)
const sigmoid = unary((ctx, dy) => {
  const y = ctx.output(0);
  return ctx.b.mul(dy, ctx.b.mul(y, ctx.b.sub(c(ctx, 1), y)));
});
// d tanh = 1 - y^2
const tanh = unary((ctx, dy) => {
  const y = ctx.output(0);
  return ctx.b.mul(dy, ctx.b.sub(c(ctx, 1), ctx.b.mul(y, y)));
});
const relu = unary((ctx, dy) => masked(ctx, ctx.b.op('Greater', [ctx.output(0), c(ctx, 0)]), dy));
const sin = unary((ctx, dy) => ctx.b.mul(dy, ctx.b.op('Cos', [ctx.input(0)])));
const cos = unary((ctx, dy) => ctx.b.mul(dy, ctx.b.neg(ctx.b.op('Sin', [ctx.input(0)]))));
const abs = unary((ctx, dy) => ctx.b.mul(dy, ctx.b.op('Sign', [ctx.input(0)])));
const identity = unary((_ctx, dy) => dy);

// Softplus' = sigmoid(x)
const softplus = unary((ctx, dy) => ctx.b.mul(dy, ctx.b.op('Sigmoid', [ctx.input(0)])));
const leakyRelu = unary((ctx, dy) => {
  const alpha = ctx.attrFloat('alpha', 0.01);
  return ctx.b.op('Where', [ctx.b.op('Less', [ctx.input(0), c(ctx, 0)]), ctx.b.mul(dy, c(ctx, alpha)), dy]);
});
// Elu' = y + alpha for x < 0, 1 otherwise
const elu = unary((ctx, dy) => {
  const alpha = ctx.attrFloat('alpha', 1);
  const neg = ctx.b.mul(dy, ctx.b.add(ctx.output(0), c(ctx, alpha)));
  return ctx.b.op('Where', [ctx.b.op('Less', [ctx.input(0), c(ctx, 0)]), neg, dy]);
});
// HardSigmoid is linear (slope alpha) exactly where its output is strictly inside (0, 1).
const hardSigmoid = unary((ctx, dy) => {
  const y = ctx.output(0);
  const inside = ctx.b.op('And', [ctx.b.op('Greater', [y, c(ctx, 0)]), ctx.b.op('Less', [y, c(ctx, 1)])]);
  return masked(ctx, inside, ctx.b.mul(dy, c(ctx, ctx.attrFloat('alpha', 0.2))));
});
// mish = x tanh(sp(x)); mish' = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x))
const mish = unary((ctx, dy) => {
  const x = ctx.input(0);
  const t = ctx.b.op('Tanh', [ctx.b.op('Softplus', [x])]);
  const s = ctx.b.op('Sigmoid', [x]);
  const second = ctx.b.mul(ctx.b.mul(x, s), ctx.b.sub(c(ctx, 1), ctx.b.mul(t, t)));
  return ctx.b.mul(dy, ctx.b.add(t, second));
});

/**
 * Gelu (opset 20+). Exact: gelu = x Phi(x), gelu' = Phi(x) + x phi(x).
 * Tanh form: gelu = x (1 + t) / 2 with t = tanh(k (x + a x^3)), gelu' = (1 + t)/2 + x (1 - t^2) k (1 + 3 a x^2) / 2.
 */
const gelu = unary((ctx, dy) => {
  const x = ctx.input(0);
  const b = ctx.b;
  const x2 = b.mul(x, x);
  const mode = ctx.attrString('approximate', 'none');
  let d: string;
  if (mode === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const a = 0.044715;
    const t = b.op('Tanh', [b.mul(b.mul(x, b.add(b.mul(x2, c(ctx, a)), c(ctx, 1))), c(ctx, k))]);
    const first = b.mul(b.add(t, c(ctx, 1)), c(ctx, 0.5));
    const slope = b.mul(b.add(b.mul(x2, c(ctx, 3 * a)), c(ctx, 1)), c(ctx, 0.5 * k));
    d = b.add(first, b.mul(b.mul(x, b.sub(c(ctx, 1), b.mul(t, t))), slope));
  } else if (mode === 'none') {
    const cdf = b.mul(b.add(b.op('Erf', [b.mul(x, c(ctx, Math.SQRT1_2))]), c(ctx, 1)), c(ctx, 0.5));
    const pdf = b.mul(b.op('Exp', [b.mul(x2, c(ctx, -0.5))]), c(ctx, 1 / Math.sqrt(2 * Math.PI)));
    d = b.add(cdf, b.mul(x, pdf));
  } else {
    return ctx.fail(`unknown Gelu approximate='${mode}'`);
  }
  return b.mul(dy, d);
});

/** Pow(x, e): dx = dy e x^(e-1), de = dy y log(x); a constant scalar exponent is specialised. */
const pow: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  const b = ctx.b;
  const [x, e, y] = [ctx.input(0), ctx.input(1), ctx.output(0)];
  const xType = elemTypeOf(ctx, x);
  const eType = ctx.shapeOrUndefined(e)?.elemType || xType;
  let dx: string | undefined;
  if (ctx.wants(0)) {
    const p = ctx.wants(1) ? undefined : ctx.constInts(1);
    let local: string;
    if (p && p.length === 1) {
      const v = p[0]!;
      if (v === 1) local = dy;
      else if (v === 2) local = b.mul(b.mul(dy, x), c(ctx, 2));
      else if (v === 0.5) local = b.div(b.mul(dy, c(ctx, 0.5)), y);
      else local = b.mul(dy, b.mul(b.op('Pow', [x, c(ctx, v - 1)]), c(ctx, v)));
    } else {
      const eAsX = eType === xType ? e : b.cast(e, xType);
      const xPow = b.op('Pow', [x, b.sub(e, b.scalar(1, eType))]);
      local = b.mul(dy, b.mul(xPow, eAsX));
    }
    dx = unbroadcast(ctx, local, x, y);
  }
  let de: string | undefined;
  if (ctx.wants(1)) {
    let local = b.mul(b.mul(dy, y), b.op('Log', [x]));
    if (eType !== xType) local = b.cast(local, eType);
    de = unbroadcast(ctx, local, e, y);
  }
  return [dx, de];
};

/** Clip passes the cotangent where min <= x <= max; the bounds get what was clipped to them. */
const clip: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  const b = ctx.b;
  const x = ctx.input(0);
  const [lo, hi] = [ctx.input(1), ctx.input(2)];
  const elemType = elemTypeOf(ctx, ctx.output(0));
  const conds: string[] = [];
  if (lo) conds.push(b.op('GreaterOrEqual', [x, lo]));
  if (hi) conds.push(b.op('LessOrEqual', [x, hi]));
  const grads = noCotangents(ctx);
  if (ctx.wants(0)) {
    grads[0] = conds.length === 0 ? dy : masked(ctx, conds.length === 1 ? conds[0]! : b.op('And', conds), dy);
  }
  if (lo && ctx.wants(1)) grads[1] = sumAll(ctx, masked(ctx, b.op('Less', [x, lo]), dy), elemType);
  if (hi && ctx.wants(2)) grads[2] = sumAll(ctx, masked(ctx, b.op('Greater', [x, hi]), dy), elemType);
  return grads;
};

// Inference-mode Dropout is the identity on output 0; the mask output carries no gradient.
const dropout: VjpRule = (ctx) => {
  if (ctx.input(2)) {
    const training = ctx.constInts(2);
    if (!training || training[0] !== 0) ctx.fail('Dropout with training_mode not a constant false cannot be differentiated');
  }
  return firstInputOnly(ctx, ctx.dy(0));
};

function castBack(ctx: VjpContext, to: number): (string | undefined)[] {
  const from = ctx.shapeOrUndefined(ctx.input(0))?.elemType ?? 0;
  const dy = ctx.dy(0);
  if (!dy || !FLOAT_TYPES.has(from) || !FLOAT_TYPES.has(to)) return [undefined];
  return [from === to ? dy : ctx.b.cast(dy, from)];
}

// A cast between float types passes the cotangent back in the input's type; through integers nothing flows.
const cast: VjpRule = (ctx) => castBack(ctx, ctx.attrInt('to', 0));
const castLike: VjpRule = (ctx) => [castBack(ctx, ctx.shapeOrUndefined(ctx.input(1))?.elemType ?? 0)[0], undefined];

const where: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  const [cond, y] = [ctx.input(0), ctx.output(0)];
  const zero = c(ctx, 0);
  return [
    undefined,
    ctx.wants(1) ? unbroadcast(ctx, ctx.b.op('Where', [cond, dy, zero]), ctx.input(1), y) : undefined,
    ctx.wants(2) ? unbroadcast(ctx, ctx.b.op('Where', [cond, zero, dy]), ctx.input(2), y) : undefined,
  ];
};

/**
 * Max/Min route the cotangent to the operand that produced each result element; on ties the
 * first such operand gets all of it (a valid subgradient, no double counting).
 */
const extremum: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  const b = ctx.b;
  const y = ctx.output(0);
  const n = ctx.node.input.length;
  if (n === 1) return [dy];
  const zero = c(ctx, 0);
  const grads = noCotangents(ctx);
  let taken: string | undefined;
  for (let k = 0; k < n; k++) {
    const xk = ctx.input(k);
    let g: string;
    if (k === n - 1) {
      g = b.op('Where', [taken!, zero, dy]);
    } else {
      const eq = b.op('Equal', [xk, y]);
      const mine = taken ? b.op('And', [eq, b.op('Not', [taken])]) : eq;
      g = b.op('Where', [mine, dy, zero]);
      taken = taken ? b.op('Or', [taken, eq]) : eq;
    }
    grads[k] = ctx.wants(k) ? unbroadcast(ctx, g, xk, y) : undefined;
  }
  return grads;
};

// Boolean and index outputs (masks, argmax) carry no cotangent back to what they compare.
const noGradient: VjpRule = noCotangents;
const PREDICATES = ['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf', 'ArgMax', 'ArgMin', 'NonZero'];

export const unaryRules: Record<string, VjpRule> = {
  ...Object.fromEntries(PREDICATES.map((op) => [op, noGradient])),
  Pow: pow,
  Sqrt: sqrt,
  Reciprocal: reciprocal,
  Exp: exp,
  Log: log,
  Erf: erf,
  Sigmoid: sigmoid,
  Tanh: tanh,
  Relu: relu,
  Gelu: gelu,
  Sin: sin,
  Cos: cos,
  Abs: abs,
  Clip: clip,
  Identity: identity,
  Dropout: dropout,
  Cast: cast,
  CastLike: castLike,
  Where: where,
  Max: extremum,
  Min: extremum,
  HardSigmoid: hardSigmoid,
  Softplus: softplus,
  LeakyRelu: leakyRelu,
  Elu: elu,
  Mish: mish,
};
