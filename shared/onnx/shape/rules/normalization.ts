/** Normalisations keep the input's shape; LayerNormalization's mean and inverse std keep the leading axes. */
import type { ShapeRule } from '../rule.ts';
import type { ValueShape } from '../value-shape.ts';
import { normAxis, same } from './helpers.ts';

export const normalizationShapeRules: Record<string, ShapeRule> = {
  InstanceNormalization: same,
  GroupNormalization: same,
  LayerNormalization: (v) => {
    const x = v.in(0);
    if (!x?.dims) return [x];
    const axis = normAxis(v.attrInt('axis', -1), x.dims.length);
    const stat: ValueShape = { elemType: v.attrInt('stash_type', 1), dims: x.dims.map((d, i) => (i < axis ? d : 1)) };
    return [x, stat, stat];
  },
};
