/** Einsum without ellipsis: each output letter takes the size its operands give it. */
import type { ShapeRule } from '../rule.ts';

export const einsumShapeRules: Record<string, ShapeRule> = {
  Einsum: (v) => {
    const eq = v.attrString('equation', '').replace(/\s/g, '');
    const [lhs, rhs] = eq.split('->');
    const terms = (lhs ?? '').split(',');
    const size = new Map<string, number | null>();
    terms.forEach((term, k) => {
      const dims = v.in(k)?.dims;
      if (!dims || term.includes('.')) return;
      [...term].forEach((c, i) => {
        const d = dims[i]!;
        if (!size.has(c) || size.get(c) === null || size.get(c) === 1) size.set(c, d);
      });
    });
    const elemType = v.in(0)?.elemType ?? 0;
    const out = rhs ?? [...new Set(terms.join(''))].filter((c) => terms.join('').split(c).length === 2).sort().join('');
    if (out.includes('.') || [...out].some((c) => !size.has(c))) return [{ elemType }];
    return [{ elemType, dims: [...out].map((c) => size.get(c)!) }];
  },
};
