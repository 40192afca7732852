/** Gradients of broadcasting arithmetic: Add, Sub, Mul, Div, Neg, Sum. */
import type { VjpRule } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

const add: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  return [0, 1].map((k) => (ctx.wants(k) ? unbroadcast(ctx, dy, ctx.input(k), ctx.output(0)) : undefined));
};

const sub: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  return [
    ctx.wants(0) ? unbroadcast(ctx, dy, ctx.input(0), ctx.output(0)) : undefined,
    ctx.wants(1) ? unbroadcast(ctx, ctx.b.neg(dy), ctx.input(1), ctx.output(0)) : undefined,
  ];
};

const mul: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  const [a, c] = [ctx.input(0), ctx.input(1)];
  return [
    ctx.wants(0) ? unbroadcast(ctx, ctx.b.mul(dy, c), a, ctx.output(0)) : undefined,
    ctx.wants(1) ? unbroadcast(ctx, ctx.b.mul(dy, a), c, ctx.output(0)) : undefined,
  ];
};

// d(a/c)/da = 1/c; d(a/c)/dc = -(a/c)/c = -y/c
const div: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  const [a, c, y] = [ctx.input(0), ctx.input(1), ctx.output(0)];
  const dyOverC = ctx.b.div(dy, c);
  return [
    ctx.wants(0) ? unbroadcast(ctx, dyOverC, a, y) : undefined,
    ctx.wants(1) ? unbroadcast(ctx, ctx.b.neg(ctx.b.mul(dyOverC, y)), c, y) : undefined,
  ];
};

const neg: VjpRule = (ctx) => [ctx.b.neg(ctx.dy()!)];

const sum: VjpRule = (ctx) => {
  const dy = ctx.dy()!;
  return ctx.node.input.map((name, k) => (ctx.wants(k) ? unbroadcast(ctx, dy, name, ctx.output(0)) : undefined));
};

export const arithmeticRules: Record<string, VjpRule> = { Add: add, Sub: sub, Mul: mul, Div: div, Neg: neg, Sum: sum };
