/** Gradients of MatMul (batched, broadcast batch dims, 1-D operands) and Gemm. */
import { attr } from '../../graph-builder.ts';
import { noCotangents, type VjpContext, type VjpRule } from '../rule.ts';
import { accurateReduceSum } from '../precision.ts';

type Dims = (number | null)[];

/**
 * Sums a gradient of dims `from` down to the (broadcast-compatible) dims `to`: leading axes that
 * `to` lacks and axes where `to` is statically 1 (a symbolic dim is taken as not broadcast).
 */
export function reduceToDims(ctx: VjpContext, g: string, from: Dims, to: Dims, elemType: number): string {
  const lead = from.length - to.length;
  if (lead < 0) ctx.fail('gradient has lower rank than its operand');
  const kept: number[] = [];
  to.forEach((d, i) => {
    if (d === 1 && from[i + lead] !== 1) kept.push(i + lead);
  });
  let out = g;
  if (kept.length > 0) out = accurateReduceSum(ctx, out, kept, true, elemType);
  if (lead > 0) out = accurateReduceSum(ctx, out, Array.from({ length: lead }, (_, i) => i), false, elemType);
  return out;
}

function swapLast2(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

/**
 * Matrix sizes compared for choosing which operand of a gradient product to transpose. A
 * symbolic dim is taken as larger than any static one (in exports it is a token or pixel
 * count), so a size is (number of symbolic dims, product of the static ones), ordered
 * lexicographically; a sum keeps the larger term, or adds two terms of the same degree.
 */
type Size = [degree: number, known: number];

function sizeOf(dims: readonly (number | null)[]): Size {
  return [dims.filter((d) => d === null).length, dims.reduce<number>((p, d) => p * (d ?? 1), 1)];
}

function addSizes(x: Size, y: Size): Size {
  if (x[0] !== y[0]) return x[0] > y[0] ? x : y;
  return [x[0], x[1] + y[1]];
}

/** Whether transposing matrix `big` costs more than transposing the two matrices `p` and `q`. */
function larger(big: readonly (number | null)[], p: readonly (number | null)[], q: readonly (number | null)[]): boolean {
  const [x, y] = [sizeOf(big), addSizes(sizeOf(p), sizeOf(q))];
  return x[0] !== y[0] ? x[0] > y[0] : x[1] > y[1];
}

function broadcastDims(a: Dims, b: Dims): Dims {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[i - (r - a.length)] ?? 1;
    const y = b[i - (r - b.length)] ?? 1;
    if (x === 1) return y;
    if (y === 1) return x;
    return x ?? y;
  });
}

const matMul: VjpRule = (ctx: VjpContext) => {
  const dy = ctx.dy()!;
  const [a, c] = [ctx.input(0), ctx.input(1)];
  const sa = ctx.shape(a);
  const sc = ctx.shape(c);
  const saDims = sa.dims ?? ctx.fail(`rank of '${a}' is unknown`);
  const scDims = sc.dims ?? ctx.fail(`rank of '${c}' is unknown`);
  const elemType = ctx.shape(ctx.output(0)).elemType || sa.elemType;
  const b = ctx.b;
  // Promote 1-D operands to matrices as the MatMul spec does, and the cotangent to match.
  const a2 = saDims.length === 1 ? b.unsqueeze(a, [0]) : a;
  const c2 = scDims.length === 1 ? b.unsqueeze(c, [1]) : c;
  const aDims: Dims = saDims.length === 1 ? [1, saDims[0]!] : saDims;
  const cDims: Dims = scDims.length === 1 ? [scDims[0]!, 1] : scDims;
  const batch = broadcastDims(aDims.slice(0, -2), cDims.slice(0, -2));
  const yDims: Dims = [...batch, aDims[aDims.length - 2]!, cDims[cDims.length - 1]!];
  const r = yDims.length;
  const insert: number[] = [];
  if (saDims.length === 1) insert.push(r - 2);
  if (scDims.length === 1) insert.push(r - 1);
  const dy2 = b.unsqueeze(dy, insert);

  const grads: (string | undefined)[] = [undefined, undefined];
  const [inner, cols] = [aDims[aDims.length - 1]!, cDims[cDims.length - 1]!];
  if (ctx.wants(0) && scDims.length === 2 && saDims.length >= 2 && !ctx.onPath(c) && typeof inner === 'number' && typeof cols === 'number') {
    // A weight: dA = dY W^T as one Gemm over the flattened rows with transB, which reads W where
    // it is (a Transpose of W would be folded into a second copy of the weight at load).
    const rows = b.reshape(dy, b.int64s([-1, cols]));
    grads[0] = b.reshape(b.op('Gemm', [rows, c], { transB: attr.int(1) }), b.shapeOf(a));
  } else if (ctx.wants(0)) {
    const [m, k, n] = [aDims[aDims.length - 2]!, inner, cols];
    // dY C^T transposes C; (C dY^T)^T transposes dY and the result instead.
    const product = larger([k, n], [m, n], [m, k])
      ? b.transpose(b.op('MatMul', [c2, b.transpose(dy2, swapLast2(r))]), swapLast2(r))
      : b.op('MatMul', [dy2, b.transpose(c2, swapLast2(cDims.length))]);
    const g = reduceToDims(ctx, product, [...batch, aDims[aDims.length - 2]!, aDims[aDims.length - 1]!], aDims, elemType);
    grads[0] = saDims.length === 1 ? b.squeeze(g, [0]) : g;
    if (g === product && saDims.length >= 2 && scDims.length >= 2) ctx.setOrigin(g, { left: a, right: c, output: ctx.output(0), dy });
  }
  if (ctx.wants(1)) {
    let g: string;
    const [k, n] = [cDims[0]!, cDims[1]!];
    if (cDims.length === 2 && r > 2 && typeof k === 'number' && typeof n === 'number') {
      // Flatten the batch into the contraction: A^T dY as a single Gemm, no batched partials to sum.
      const aFlat = b.reshape(a2, b.int64s([-1, k]));
      const dyFlat = b.reshape(dy2, b.int64s([-1, n]));
      g = b.op('Gemm', [aFlat, dyFlat], { transA: attr.int(1) });
    } else if (larger([aDims[aDims.length - 2]!, aDims[aDims.length - 1]!], [yDims[r - 2]!, yDims[r - 1]!], [cDims[cDims.length - 2]!, cDims[cDims.length - 1]!])) {
      // A^T dY would transpose A; (dY^T A)^T transposes dY and the result instead.
      g = b.transpose(b.op('MatMul', [b.transpose(dy2, swapLast2(r)), a2]), swapLast2(r));
      g = reduceToDims(ctx, g, [...batch, cDims[cDims.length - 2]!, cDims[cDims.length - 1]!], cDims, elemType);
    } else {
      g = b.op('MatMul', [b.transpose(a2, swapLast2(aDims.length)), dy2]);
      g = reduceToDims(ctx, g, [...batch, cDims[cDims.length - 2]!, cDims[cDims.length - 1]!], cDims, elemType);
    }
    grads[1] = scDims.length === 1 ? b.squeeze(g, [1]) : g;
  }
  return grads;
};

// Y = alpha * op(A) op(B) + beta * C with op() an optional transpose; each gradient is one Gemm.
const gemm: VjpRule = (ctx: VjpContext) => {
  const dy = ctx.dy()!;
  const [a, c] = [ctx.input(0), ctx.input(1)];
  const alpha = ctx.attrFloat('alpha', 1);
  const beta = ctx.attrFloat('beta', 1);
  const tA = ctx.attrInt('transA', 0) !== 0;
  const tB = ctx.attrInt('transB', 0) !== 0;
  const b = ctx.b;
  const gemmOp = (x: string, y: string, ta: boolean, tb: boolean) => {
    const attrs: Record<string, ReturnType<typeof attr.int>> = {};
    if (alpha !== 1) attrs['alpha'] = attr.float(alpha);
    if (ta) attrs['transA'] = attr.int(1);
    if (tb) attrs['transB'] = attr.int(1);
    return b.op('Gemm', [x, y], attrs);
  };
  const grads = noCotangents(ctx);
  if (ctx.wants(0)) grads[0] = tA ? gemmOp(c, dy, tB, true) : gemmOp(dy, c, false, !tB);
  if (ctx.wants(1)) grads[1] = tB ? gemmOp(dy, a, true, tA) : gemmOp(a, dy, !tA, false);
  if (ctx.wants(2)) {
    const sC = ctx.shape(ctx.input(2));
    const sY = ctx.shape(ctx.output(0));
    const cDims = sC.dims ?? ctx.fail('rank of Gemm input C is unknown');
    const yDims: Dims = sY.dims ?? [null, null];
    let g = reduceToDims(ctx, dy, yDims, cDims, sY.elemType || sC.elemType);
    if (beta !== 1) g = b.mul(g, b.scalar(beta, sY.elemType || sC.elemType, 'beta'));
    grads[2] = g;
  }
  return grads;
};

export const linearRules: Record<string, VjpRule> = { MatMul: matMul, Gemm: gemm };
