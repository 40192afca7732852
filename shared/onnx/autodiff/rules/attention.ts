/**
 * Attention with small heads, differentiated as one chain: s = q k (MatMul), p = softmax(s) over
 * the last axis, o = p v (MatMul), where s and p feed nothing else that carries a gradient.
 *
 * Node by node, the gradient writes and re-reads [tokens x tokens] tensors several times: dp,
 * ds = p * (dp - rowsum(dp * p)), and two products that contract p and ds over their row index
 * (dv = p^T do, dk = q^T ds), which MLAS can only run by first transposing or repacking the
 * large operand. With d = head dim of q and dv of v, and the factors of softmax.ts
 * (doAug = [do, -rowsum(do * o)], vAug = [v, 1], so ds = p * (doAug vAug^T)):
 *
 *   dq_ia = sum_c doAug_ic (p U)_i(a,c)           U_j(a,c) = k^T_ja vAug_jc
 *   dk^T_ja = sum_c vAug_jc (p^T W)_j(a,c)         W_i(a,c) = q_ia doAug_ic
 *   dv = p^T do                                    (shares the product with W)
 *
 * so the whole gradient reads p in one ordinary product with (dv+1)*d columns and one transposed
 * product with dv + (dv+1)*d columns, and never forms ds. That only pays while those column
 * counts stay small: measured on ONNX Runtime's CPU provider at 1024 tokens, one thread, the
 * chain took about 20% less time than the node-by-node gradient at d = dv = 4 (20 and 24
 * columns) and about 50% more at d = dv = 8 (72 and 80 columns). Larger heads, as in real SD
 * models (d >= 40), keep the node-by-node gradient with the Softmax rule's own shortcut.
 */
import { attr } from '../../graph-builder.ts';
import type { NodeProto } from '../../proto/types.ts';
import { accurateReduceSum } from '../precision.ts';
import type { ChainRule, VjpContext } from '../rule.ts';
import { reduceToDims } from './linear.ts';
import { centringFactors, swapLast2 } from './softmax.ts';

/** Largest (dv+1)*d for which the chain form is used (see above). */
export const MAX_CHAIN_COLUMNS = 32;

const isStandard = (n: NodeProto) => n.domain === '' || n.domain === 'ai.onnx';

export const attentionChain: ChainRule = (ctx: VjpContext) => {
  const node = ctx.node;
  if (node.opType !== 'MatMul') return undefined;
  const [p, v, o] = [ctx.input(0), ctx.input(1), ctx.output(0)];
  const softmax = ctx.producer(p);
  if (!softmax || softmax.opType !== 'Softmax' || !isStandard(softmax)) return undefined;
  const s = softmax.input[0]!;
  const scores = ctx.producer(s);
  if (!scores || scores.opType !== 'MatMul' || !isStandard(scores)) return undefined;
  const [q, kt] = [scores.input[0]!, scores.input[1]!];
  // s and p must get their cotangents from this chain alone.
  if (ctx.hasCotangent(p) || ctx.hasCotangent(s)) return undefined;
  if (ctx.gradientConsumers(p).some((n) => n !== node) || ctx.gradientConsumers(s).some((n) => n !== softmax)) return undefined;

  const dimsOf = (name: string) => ctx.shapeOrUndefined(name)?.dims;
  const [pd, qd, kd, vd, od] = [dimsOf(p), dimsOf(q), dimsOf(kt), dimsOf(v), dimsOf(o)];
  if (!pd || !qd || !kd || !vd || !od) return undefined;
  const r = pd.length;
  if (r < 2 || qd.length < 2 || kd.length < 2 || vd.length < 2 || od.length !== r) return undefined;
  const axis = softmax.attribute.find((a) => a.name === 'axis')?.i ?? -1;
  if ((axis < 0 ? axis + r : axis) !== r - 1) return undefined;
  // p is not broadcast against v, so o (and do) have p's batch dims.
  for (let i = 0; i < r - 2; i++) if (pd[i] === 1 && od[i] !== 1) return undefined;
  const d = qd[qd.length - 1];
  const dv = vd[vd.length - 1];
  if (typeof d !== 'number' || typeof dv !== 'number' || (dv + 1) * d > MAX_CHAIN_COLUMNS) return undefined;

  const b = ctx.b;
  const elemType = ctx.shape(o).elemType;
  const dO = ctx.dy()!;
  const [wantQ, wantK, wantV] = [ctx.onPath(q), ctx.onPath(kt), ctx.onPath(v)];
  const { dyAug, vAug } = centringFactors(ctx, dO, o, v, vd, elemType);
  const batch = pd.slice(0, -2);
  const [lq, lk] = [pd[r - 2]!, pd[r - 1]!];
  // [.., L, m] x [.., L, n] -> [.., L, m*n] with (a, c) -> a*n + c; both views keep L and the batch.
  const outer = (x: string, xRank: number, y: string, yRank: number) => {
    const prod = b.op('Mul', [b.unsqueeze(x, [xRank]), b.unsqueeze(y, [yRank - 1])], {}, 'attention_outer');
    return b.reshape(prod, b.int64s([...new Array<number>(Math.max(xRank, yRank) - 1).fill(0), -1]));
  };
  // [.., L, d*(dv+1)] -> [.., L, d, dv+1], contracted over dv+1 against f [.., L, dv+1]. The
  // contracted axis is kept last: ORT reduces a trailing axis much faster than an inner one.
  const contract = (x: string, f: string, fRank: number) => {
    const split = b.reshape(x, b.int64s([...new Array<number>(r - 1).fill(0), d, dv + 1]));
    return accurateReduceSum(ctx, b.op('Mul', [split, b.unsqueeze(f, [fRank - 1])], {}, 'attention_contract'), [r], false, elemType);
  };

  const grads: [string, string][] = [];
  if (wantQ) {
    const k = b.transpose(kt, swapLast2(kd.length));
    const u = outer(k, kd.length, vAug, vd.length);
    const g = contract(b.op('MatMul', [p, u], {}, 'attention_pu'), dyAug, r);
    grads.push([q, reduceToDims(ctx, g, [...batch, lq, d], qd, elemType)]);
  }
  if (wantK || wantV) {
    const columns = [...(wantV ? [dO] : []), ...(wantK ? [outer(q, qd.length, dyAug, r)] : [])];
    const w = columns.length === 1 ? columns[0]! : b.op('Concat', columns, { axis: attr.int(-1) });
    const t = b.op('MatMul', [b.transpose(p, swapLast2(r)), w], {}, 'attention_ptw');
    const total = (wantV ? dv : 0) + (wantK ? (dv + 1) * d : 0);
    const cols = (from: number, to: number) => (from === 0 && to === total ? t : b.op('Slice', [t, b.int64s([from]), b.int64s([to]), b.int64s([-1])]));
    if (wantV) grads.push([v, reduceToDims(ctx, cols(0, dv), [...batch, lk, dv], vd, elemType)]);
    if (wantK) {
      const gk = contract(cols(wantV ? dv : 0, total), vAug, vd.length);
      grads.push([kt, reduceToDims(ctx, b.transpose(gk, swapLast2(r)), [...batch, d, lk], kd, elemType)]);
    }
  }
  return { covers: [softmax, scores], grads };
};
