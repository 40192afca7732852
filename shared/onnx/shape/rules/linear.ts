/** MatMul (numpy batch broadcasting, 1-D operands promoted and dropped) and Gemm. */
import type { Dims, ShapeRule } from '../rule.ts';
import { broadcast } from './helpers.ts';

export const linearShapeRules: Record<string, ShapeRule> = {
  MatMul: (v) => {
    const a = v.in(0)?.dims;
    const b = v.in(1)?.dims;
    const elemType = v.in(0)?.elemType ?? 0;
    if (!a || !b) return [{ elemType }];
    const a2 = a.length === 1 ? [1, a[0]!] : a;
    const b2 = b.length === 1 ? [b[0]!, 1] : b;
    const batch = broadcast([{ elemType, dims: a2.slice(0, -2) }, { elemType, dims: b2.slice(0, -2) }])!;
    const dims: Dims = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
    if (a.length === 1) dims.splice(dims.length - 2, 1);
    if (b.length === 1) dims.splice(dims.length - 1, 1);
    return [{ elemType, dims }];
  },
  Gemm: (v) => {
    const a = v.in(0)?.dims;
    const b = v.in(1)?.dims;
    const elemType = v.in(0)?.elemType ?? 0;
    if (!a || !b) return [{ elemType }];
    const m = v.attrInt('transA', 0) ? a[1]! : a[0]!;
    const n = v.attrInt('transB', 0) ? b[0]! : b[1]!;
    return [{ elemType, dims: [m, n] }];
  },
};
