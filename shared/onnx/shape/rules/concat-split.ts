/** Concat and Split along one axis (Split by attribute, input sizes or equal chunks). */
import type { ShapeRule } from '../rule.ts';
import type { ValueShape } from '../value-shape.ts';
import { ints, normAxis } from './helpers.ts';

export const concatSplitShapeRules: Record<string, ShapeRule> = {
  Concat: (v) => {
    const all = v.node.input.map((_, k) => v.in(k));
    const first = all.find((s) => s?.dims);
    const elemType = all[0]?.elemType ?? 0;
    if (!first?.dims || all.some((s) => !s?.dims)) return [{ elemType }];
    const axis = normAxis(v.attrInt('axis', 0), first.dims.length);
    const dims = first.dims.map((d, i) => {
      if (i !== axis) return all.map((s) => s!.dims![i]!).find((x) => x !== null) ?? d;
      let total = 0;
      for (const s of all) {
        const di = s!.dims![i]!;
        if (di === null) return null;
        total += di;
      }
      return total;
    });
    const s: ValueShape = { elemType, dims };
    if (first.dims.length === 1 && all.every((x) => x!.values)) s.values = all.flatMap((x) => x!.values!);
    return [s];
  },
  Split: (v) => {
    const x = v.in(0);
    const n = v.node.output.length;
    if (!x?.dims) return new Array(n).fill({ elemType: x?.elemType ?? 0 });
    const axis = normAxis(v.attrInt('axis', 0), x.dims.length);
    let sizes: (number | null)[] | undefined = v.attrInts('split') ?? (v.node.input[1] ? ints(v, 1) : undefined);
    const total = x.dims[axis]!;
    if (!sizes) {
      if (total === null) sizes = new Array(n).fill(null);
      else {
        const chunk = Math.ceil(total / n);
        sizes = Array.from({ length: n }, (_, i) => Math.min(chunk, total - chunk * i));
      }
    }
    return sizes.map((size) => ({ elemType: x.elemType, dims: x.dims!.map((d, i) => (i === axis ? size : d)) }));
  },
};
