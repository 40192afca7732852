/** Resize by sizes or scales, over all axes or (opset 18) the listed ones. */
import type { Dims, ShapeRule } from '../rule.ts';
import { ints, normAxis } from './helpers.ts';

export const resizeShapeRules: Record<string, ShapeRule> = {
  Resize: (v) => {
    const x = v.in(0);
    if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
    const sizes = v.node.input[3] ? ints(v, 3) : undefined;
    const scales = v.node.input[2] ? v.in(2)?.values : undefined;
    // From opset 18 scales/sizes may cover only the axes listed in `axes`; other dims are kept.
    const r = x.dims.length;
    const axes = (v.attrInts('axes') ?? x.dims.map((_, i) => i)).map((a) => normAxis(a, r));
    const dims: Dims = [...x.dims];
    axes.forEach((a, i) => {
      const d = x.dims![a]!;
      dims[a] = sizes ? (sizes[i] ?? null) : scales && d !== null && scales[i] != null ? Math.floor(d * scales[i]!) : null;
    });
    return [{ elemType: x.elemType, dims }];
  },
};
