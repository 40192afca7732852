/**
 * Gradient of Einsum without ellipsis: operand k's gradient is the Einsum of the cotangent with
 * the other operands, written back to operand k's subscripts. Subscripts summed away inside
 * operand k alone are restored by Unsqueeze + Expand; pure permutations become a Transpose.
 */
import type { VjpContext, VjpRule } from '../rule.ts';
import { attr } from '../../graph-builder.ts';

interface Equation {
  terms: string[];
  output: string;
}

export function parseEquation(ctx: VjpContext, equation: string): Equation {
  const eq = equation.replace(/\s/g, '');
  if (eq.includes('.')) ctx.fail(`Einsum with ellipsis ('${equation}') is not supported`);
  const [lhs, rhs] = eq.split('->');
  const terms = (lhs ?? '').split(',');
  let output = rhs;
  if (output === undefined) {
    // Implicit form: subscripts that appear exactly once, in alphabetical order.
    const all = terms.join('');
    output = [...new Set(all)].filter((c) => all.split(c).length === 2).sort().join('');
  }
  for (const t of [...terms, output]) {
    if (!/^[A-Za-z]*$/.test(t)) ctx.fail(`cannot parse Einsum equation '${equation}'`);
  }
  return { terms, output };
}

const einsum: VjpRule = (ctx: VjpContext) => {
  const { terms, output } = parseEquation(ctx, ctx.attrString('equation', ''));
  if (terms.length !== ctx.node.input.length) ctx.fail(`equation has ${terms.length} operands but the node has ${ctx.node.input.length} inputs`);
  const dy = ctx.dy()!;
  const b = ctx.b;
  return terms.map((term, k) => {
    if (!ctx.wants(k)) return undefined;
    if (new Set(term).size !== term.length) ctx.fail(`operand ${k} repeats a subscript ('${term}'); diagonals are not supported`);
    const others = terms.filter((_, j) => j !== k);
    const available = new Set(output + others.join(''));
    const kept = [...term].filter((c) => available.has(c)).join('');
    let g: string;
    if (others.length === 0) {
      // One operand: its kept subscripts are exactly the output's, possibly permuted.
      g = b.transpose(dy, [...kept].map((c) => output.indexOf(c)));
    } else {
      const inputs = [dy, ...ctx.node.input.filter((_, j) => j !== k)];
      g = b.op('Einsum', inputs, { equation: attr.string(`${[output, ...others].join(',')}->${kept}`) });
    }
    if (kept.length === term.length) return g;
    // Subscripts summed only within this operand: the gradient is constant along them.
    const missing = [...term].flatMap((c, i) => (available.has(c) ? [] : [i]));
    const dims = ctx.shapeOrUndefined(ctx.input(k))?.dims;
    const shape = dims && dims.every((d) => d !== null) ? b.int64s(dims as number[], 'shape') : b.shapeOf(ctx.input(k));
    return b.op('Expand', [b.unsqueeze(g, missing), shape]);
  });
};

export const einsumRules: Record<string, VjpRule> = { Einsum: einsum };
