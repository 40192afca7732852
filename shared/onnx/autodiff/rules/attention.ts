/**
 * Attention with small heads, differentiated as one chain: s = q k (MatMul), p = softmax(s) over
 * the last axis, o = p v (MatMul), where s and p feed nothing else that carries a gradient.
 *
 * Node by node, the gradient writes and re-reads [tokens x tokens] tensors several times: dp,
 * ds = p * (dp - rowsum(dp * p)), and two products that contract p and ds over their row index
 * (dv = p^T do, dk = q^T ds), which MLAS can only run by first transposing or repacking the
 * large operand. With d = head dim of q and dv of v, and the factors of softmax.ts
 * (doAug = [do, rowsum(do * o)], vAug = [v, -1], so ds = p * (doAug vAug^T)):
 *
 *   dq_ia = sum_c doAug_ic (p U)_i(a,c)           U_j(a,c) = k^T_ja vAug_jc
 *   dk^T_ja = sum_c vAug_jc (p^T W)_j(a,c)         W_i(a,c) = q_ia doAug_ic
 *   dv = p^T do                                    (shares the product with W)
 *
 * so the whole gradient reads p in one ordinary product with (dv+1)*d columns and one transposed
 * product with dv + (dv+1)*d columns, and never forms ds. That trades passes over the
 * [tokens x tokens] tensors for arithmetic, so it pays only while the columns are few and p does
 * not fit in cache. Measured on ONNX Runtime's CPU provider, one thread, on a 2-core EPYC: at
 * 1024 tokens the chain took about 20% less time than the node-by-node gradient at d = dv = 4
 * (20 and 24 columns) and about 50% more at d = dv = 8 (72 and 80 columns); at d = dv = 4 the
 * whole UNet gradient broke even with p near 10 MB and lost up to 20% below (256 tokens).
 * Heads up to (dv+1)*d = 32 therefore get an If on p's byte size at run time (token counts are
 * symbolic in exports) between the chain and the node-by-node form; wider heads, as in real SD
 * models (d >= 40), take the node-by-node form.
 *
 * Either form reads p, [tokens x tokens] per head: at SD 1.5's 4096 image tokens 512 MiB per
 * self-attention, more than the rest of what the backward needs together. Unless p is known to be
 * small, the backward recomputes it, softmax(q kt) from the saved q and kt (a product with d
 * columns, about a third of the attention's forward work), instead of keeping the forward's p
 * alive until the backward reaches it. The recomputation reads q through a Reshape (an alias,
 * no copy) whose target is computed from the incoming cotangent, or for a head split off by
 * split-attention-heads.ts from the gradients of the sibling head handled before it: that
 * dependency makes it run only once the backward has reached it, so one recomputed p (and its
 * ds) is alive at a time.
 */
import { attr, type GraphBuilder } from '../../graph-builder.ts';
import { nodeAttributes } from '../../node-attributes.ts';
import { TensorDataType, type AttributeProto, type GraphProto } from '../../proto/types.ts';
import { isLowPrecision } from '../precision.ts';
import type { ChainRule, VjpContext } from '../rule.ts';
import { producedBy } from './chain-match.ts';
import { reduceToDims } from './linear.ts';
import { centringFactors, swapLast2 } from './softmax.ts';

/** Largest (dv+1)*d for which the chain form is used (see above). */
export const MAX_CHAIN_COLUMNS = 32;
/** A static token axis shorter than this keeps the node-by-node gradient. */
export const MIN_CHAIN_TOKENS = 512;

export const attentionChain: ChainRule = (ctx: VjpContext) => {
  const node = ctx.node;
  if (node.opType !== 'MatMul') return undefined;
  const [p, v, o] = [ctx.input(0), ctx.input(1), ctx.output(0)];
  const softmax = producedBy(ctx, p, 'Softmax');
  if (!softmax) return undefined;
  const s = softmax.input[0]!;
  const scores = producedBy(ctx, s, 'MatMul');
  if (!scores) return undefined;
  const [q, kt] = [scores.input[0]!, scores.input[1]!];
  // s and p must get their cotangents from this chain alone.
  if (ctx.hasCotangent(p) || ctx.hasCotangent(s)) return undefined;
  if (ctx.gradientConsumers(p).some((n) => n !== node) || ctx.gradientConsumers(s).some((n) => n !== softmax)) return undefined;

  const dimsOf = (name: string) => ctx.shapeOrUndefined(name)?.dims;
  const [pd, qd, kd, vd, od] = [dimsOf(p), dimsOf(q), dimsOf(kt), dimsOf(v), dimsOf(o)];
  if (!pd || !qd || !kd || !vd || !od) return undefined;
  const r = pd.length;
  if (r < 2 || qd.length < 2 || kd.length < 2 || vd.length < 2 || od.length !== r) return undefined;
  const axis = nodeAttributes(softmax).attrInt('axis', -1);
  if ((axis < 0 ? axis + r : axis) !== r - 1) return undefined;
  // p is not broadcast against v, so o (and do) have p's batch dims.
  for (let i = 0; i < r - 2; i++) if (pd[i] === 1 && od[i] !== 1) return undefined;
  const d = qd[qd.length - 1];
  const dv = vd[vd.length - 1];
  if (typeof d !== 'number' || typeof dv !== 'number') return undefined;
  const wide = (dv + 1) * d > MAX_CHAIN_COLUMNS;
  const recompute = !knownSmall(pd, ctx.shape(p).elemType);

  const b = ctx.b;
  const elemType = ctx.shape(o).elemType;
  const dO = ctx.dy()!;
  // A key or value tied to the latent only through shape arithmetic needs no cotangent; inside
  // an If, unused branch outputs would still be computed.
  const wants = (x: string) => ctx.onPath(x) && ctx.differentiable(x);
  const [wantQ, wantK, wantV] = [wants(q), wants(kt), wants(v)];
  const { dyAug, vAug } = centringFactors(ctx, dO, o, v, vd, elemType);
  const batch = pd.slice(0, -2);
  const [lq, lk] = [pd[r - 2]!, pd[r - 1]!];
  const ranks = { p: r, q: qd.length, k: kd.length, v: vd.length };
  const forms = { q: wantQ, k: wantK, v: wantV, d, dv, elemType, ranks };
  const outputs = [wantQ, wantK, wantV].filter(Boolean).length;

  // Which form is cheaper depends on whether p fits in cache. With p's size static the choice is
  // made here; a short static token axis (cross-attention over 77 text tokens) keeps p small in
  // practice, so the node-by-node rules take it. Otherwise the token count is symbolic and an If
  // on the byte size of p picks the form at run time (the If itself measured about 0.2 ms).
  const grads: [string, string][] = [];
  // Sibling heads of one split (split-attention-heads.ts) share q's producer. In the backward
  // each waits for the gradients of the one handled before it, so one head's p and ds are alive
  // at a time: without that order every head's dq is formed first and all their ds wait for dk.
  const siblings = ctx.shared(ctx.producer(q) ?? node, () => ({ done: undefined as string | undefined }));
  const finish = (results: string[]) => {
    if (recompute && results.length > 0) siblings.done = zeroShapeOf(b, results, pd.length);
    let k = 0;
    if (wantQ) grads.push([q, reduceToDims(ctx, results[k++]!, [...batch, lq, d], qd, elemType)]);
    if (wantK) grads.push([kt, reduceToDims(ctx, results[k++]!, [...batch, d, lk], kd, elemType)]);
    if (wantV) grads.push([v, reduceToDims(ctx, results[k++]!, [...batch, lk, dv], vd, elemType)]);
    return { covers: [softmax, scores], grads };
  };
  const after = recompute && qd.length === od.length ? siblings.done : undefined;
  const probabilities = recompute ? recomputed(b, softmax.attribute, after ? orderedAfter(b, q, after) : anchoredTo(b, q, qd, dO, od), kt) : p;
  // dO v^T is [tokens x tokens] too: it also waits for the previous sibling.
  const values = { p: probabilities, q, kt, v, dO, dyAug: after ? orderedAfter(b, dyAug, after) : dyAug, vAug };
  // The node-by-node form: as the MatMul and Softmax rules would emit it, but on a recomputed p.
  const stepwise = () => (recompute ? finish(stepForm(b, values, forms)) : undefined);
  if (wide) return stepwise();
  if (pd.every((x) => typeof x === 'number')) {
    const bytes = (pd as number[]).reduce((a, x) => a * x, bytesPer(elemType));
    return bytes > chainTuning.minBytes ? finish(chainForm(b, values, forms)) : stepwise();
  }
  if ([lq, lk].some((x) => typeof x === 'number' && x < MIN_CHAIN_TOKENS)) return stepwise();
  // Cross-attention (keys and values off the path, e.g. from the text encoder) needs only dq:
  // no transposed product to save, and its key axis is the prompt length, short in practice.
  if (!wantK && !wantV) return stepwise();
  const pBytes = b.mul(b.op('Size', [p]), b.int64Scalar(bytesPer(elemType), 'elem_bytes'));
  const cond = b.op('Greater', [pBytes, b.int64Scalar(chainTuning.minBytes, 'chain_min_bytes')]);
  const branch = (form: typeof chainForm) => {
    const bb = b.branch();
    const outs = form(bb, values, forms);
    const graph: GraphProto = {
      name: bb.fresh('attention_branch'),
      node: bb.nodes,
      initializer: [],
      input: [],
      output: outs.map((name) => ({ name, type: { tensorType: { elemType } } })),
      valueInfo: [],
    };
    return attr.graph(graph);
  };
  return finish(b.node('If', [cond], { then_branch: branch(chainForm), else_branch: branch(stepForm) }, outputs, 'attention_dispatch'));
};

/** p of at most this many bytes is kept from the forward instead of recomputed. */
export const MAX_KEPT_PROBABILITY_BYTES = 4 * 2 ** 20;

function knownSmall(pd: readonly (number | null)[], elemType: number): boolean {
  return pd.every((x) => typeof x === 'number') && (pd as number[]).reduce((a, x) => a * x, bytesPer(elemType)) <= MAX_KEPT_PROBABILITY_BYTES;
}

/**
 * q read through a Reshape (an alias) to the cotangent's shape with its last dim replaced by
 * q's, which orders what reads it after the cotangent. Where q cannot take that shape (it
 * broadcasts over a batch dim) it is returned as it is.
 */
function anchoredTo(b: GraphBuilder, q: string, qd: readonly (number | null)[], dO: string, od: readonly (number | null)[]): string {
  const d = qd[qd.length - 1]!;
  const sameRank = od.length === qd.length && qd.slice(0, -2).every((x, i) => x !== 1 || od[i] === 1);
  if (!sameRank) return q;
  const target = od[od.length - 1] === d
    ? b.shapeOf(dO)
    : b.op('Concat', [b.op('Slice', [b.shapeOf(dO), b.int64s([0], 'starts'), b.int64s([-1], 'ends')]), b.int64s([d], 'head_dim')], { axis: attr.int(0) });
  return b.reshape(q, target);
}

/** x read through a Reshape to its own shape plus `after`, zeros computed from other values. */
function orderedAfter(b: GraphBuilder, x: string, after: string): string {
  return b.reshape(x, b.add(b.shapeOf(x), after));
}

/** softmax(q kt) as the forward computes it. */
function recomputed(b: GraphBuilder, softmaxAttributes: readonly AttributeProto[], q: string, kt: string): string {
  const scores = b.op('MatMul', [q, kt], {}, 'attention_recomputed_scores');
  const node = b.nodes.length;
  const probabilities = b.op('Softmax', [scores], {}, 'attention_recomputed_p');
  b.nodes[node]!.attribute = softmaxAttributes.map((a) => ({ ...a }));
  return probabilities;
}

/** A rank-`rank` int64 vector of zeros that is computed from (so ordered after) every value given. */
function zeroShapeOf(b: GraphBuilder, values: readonly string[], rank: number): string {
  const zeros = b.int64s(new Array<number>(rank).fill(0), 'zero_dims');
  return values.map((v) => b.mul(b.shapeOf(v), zeros)).reduce((a, c) => b.add(a, c));
}

/** Size at which the chain form starts to pay (see the header); tests move it to force a form. */
export const chainTuning = { minBytes: 10 * 2 ** 20 };

function bytesPer(elemType: number): number {
  return elemType === TensorDataType.DOUBLE ? 8 : isLowPrecision(elemType) ? 2 : 4;
}

interface Values { p: string; q: string; kt: string; v: string; dO: string; dyAug: string; vAug: string }
interface Forms { q: boolean; k: boolean; v: boolean; d: number; dv: number; elemType: number; ranks: { p: number; q: number; k: number; v: number } }

/** x repeated `times` times along its last axis. */
function tileLast(b: GraphBuilder, x: string, rank: number, times: number): string {
  return b.op('Tile', [x, b.int64s([...new Array<number>(rank - 1).fill(1), times], 'repeats')]);
}

function reduceSum(b: GraphBuilder, x: string, axes: number[], elemType: number): string {
  if (!isLowPrecision(elemType)) return b.reduceSum(x, axes, false);
  return b.cast(b.reduceSum(b.cast(x, TensorDataType.FLOAT), axes, false), elemType);
}

/**
 * The chain form: products of p with the expanded head columns U and W (see the header).
 * Returns the full-batch cotangents of q, kt, v (those wanted, in that order).
 */
function chainForm(b: GraphBuilder, x: Values, f: Forms): string[] {
  const { d, dv, ranks } = f;
  const r = ranks.p;
  const tile = (x: string, rank: number, times: number) => tileLast(b, x, rank, times);
  // [.., L, m] x [.., L, n] -> [.., L, m*n] with (a, c) -> a*n + c. A broadcasting Mul of
  // [.., L, m, 1] by [.., L, 1, n] runs ORT's general broadcast loop over inner runs of n
  // elements, about 2.4x slower here than two same-shape operands: a's entries are repeated n
  // times each by a product with a 0/1 matrix (exact), c is tiled m times.
  const outer = (a: string, c: string, cRank: number, m: number, n: number) => {
    const repeat = new Array<number>(m * m * n).fill(0);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) repeat[i * m * n + i * n + j] = 1;
    const spread = b.op('MatMul', [a, b.constant(f.elemType, [m, m * n], repeat, 'attention_repeat')]);
    return b.op('Mul', [spread, tile(c, cRank, m)], {}, 'attention_outer');
  };
  // [.., L, d*(dv+1)] -> [.., L, d], contracted over dv+1 against g [.., L, dv+1] tiled d times
  // (same-shape product, as above). The contracted axis is kept last: ORT reduces a trailing
  // axis much faster than an inner one.
  const contract = (a: string, g: string, gRank: number) => {
    const prod = b.op('Mul', [a, tile(g, gRank, d)], {}, 'attention_contract');
    const split = b.reshape(prod, b.int64s([...new Array<number>(r - 1).fill(0), d, dv + 1]));
    return reduceSum(b, split, [r], f.elemType);
  };
  const out: string[] = [];
  if (f.q) {
    const u = outer(b.transpose(x.kt, swapLast2(ranks.k)), x.vAug, ranks.v, d, dv + 1);
    out.push(contract(b.op('MatMul', [x.p, u], {}, 'attention_pu'), x.dyAug, r));
  }
  if (f.k || f.v) {
    const columns = [...(f.v ? [x.dO] : []), ...(f.k ? [outer(x.q, x.dyAug, r, d, dv + 1)] : [])];
    const w = columns.length === 1 ? columns[0]! : b.op('Concat', columns, { axis: attr.int(-1) });
    const t = b.op('MatMul', [b.transpose(x.p, swapLast2(r)), w], {}, 'attention_ptw');
    const total = (f.v ? dv : 0) + (f.k ? (dv + 1) * d : 0);
    const cols = (from: number, to: number) => (from === 0 && to === total ? t : b.op('Slice', [t, b.int64s([from]), b.int64s([to]), b.int64s([-1])]));
    if (f.k) out.push(b.transpose(contract(cols(f.v ? dv : 0, total), x.vAug, ranks.v), swapLast2(r)));
    if (f.v) out.push(cols(0, dv));
  }
  return out;
}

/**
 * The node-by-node form, as the MatMul and Softmax rules emit it: ds = p * (doAug vAug^T), then
 * dq = ds k, dkt = q^T ds and dv = (do^T p)^T (the large operand is never transposed).
 */
function stepForm(b: GraphBuilder, x: Values, f: Forms): string[] {
  const { ranks } = f;
  const r = ranks.p;
  const ds = b.op('Mul', [b.op('MatMul', [x.dyAug, b.transpose(x.vAug, swapLast2(ranks.v))]), x.p], {}, 'attention_ds');
  const out: string[] = [];
  if (f.q) out.push(b.op('MatMul', [ds, b.transpose(x.kt, swapLast2(ranks.k))]));
  if (f.k) out.push(b.op('MatMul', [b.transpose(x.q, swapLast2(ranks.q)), ds]));
  if (f.v) out.push(b.transpose(b.op('MatMul', [b.transpose(x.dO, swapLast2(r)), x.p]), swapLast2(r)));
  return out;
}
