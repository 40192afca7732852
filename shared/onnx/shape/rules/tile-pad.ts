/** Tile and Pad: each dim grows by a known repeat count or pad width. */
import type { ShapeRule } from '../rule.ts';
import { ints } from './helpers.ts';

export const tilePadShapeRules: Record<string, ShapeRule> = {
  Tile: (v) => {
    const x = v.in(0);
    const reps = ints(v, 1);
    if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
    return [{ elemType: x.elemType, dims: x.dims.map((d, i) => (reps && d !== null ? d * reps[i]! : null)) }];
  },
  Pad: (v) => {
    const x = v.in(0);
    const pads = v.attrInts('pads') ?? ints(v, 1);
    if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
    const r = x.dims.length;
    return [{ elemType: x.elemType, dims: x.dims.map((d, i) => (pads && d !== null ? d + pads[i]! + pads[i + r]! : null)) }];
  },
};
