/** Ops that rearrange dims without moving data: Reshape, Flatten, Transpose, (Un)Squeeze, Expand. */
import type { Dims, ShapeRule } from '../rule.ts';
import type { ValueShape } from '../value-shape.ts';
import { axesOf, broadcast, normAxis, numel } from './helpers.ts';

export const reshapeShapeRules: Record<string, ShapeRule> = {
  Reshape: (v) => {
    const x = v.in(0);
    const target = v.in(1)?.values;
    const elemType = x?.elemType ?? 0;
    const rankFromShape = v.in(1)?.dims?.[0];
    if (!target) return [{ elemType, ...(typeof rankFromShape === 'number' ? { dims: new Array(rankFromShape).fill(null) } : {}) }];
    const allowZero = v.attrInt('allowzero', 0) === 1;
    const dims: Dims = target.map((d, i) => (d === 0 && !allowZero ? (x?.dims?.[i] ?? null) : d));
    const neg = dims.indexOf(-1);
    if (neg >= 0) {
      const total = numel(x?.dims);
      const rest = numel(dims.filter((_, i) => i !== neg));
      dims[neg] = total !== null && rest !== null && rest !== 0 ? total / rest : null;
    }
    const s: ValueShape = { elemType, dims };
    if (x?.values) s.values = x.values;
    return [s];
  },
  Flatten: (v) => {
    const x = v.in(0);
    if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
    const axis = normAxis(v.attrInt('axis', 1), x.dims.length);
    return [{ elemType: x.elemType, dims: [numel(x.dims.slice(0, axis)), numel(x.dims.slice(axis))] }];
  },
  Transpose: (v) => {
    const x = v.in(0);
    if (!x?.dims) return [x];
    const perm = v.attrInts('perm') ?? x.dims.map((_, i) => x.dims!.length - 1 - i);
    return [{ elemType: x.elemType, dims: perm.map((p) => x.dims![p]!) }];
  },
  Unsqueeze: (v) => {
    const x = v.in(0);
    const axes = axesOf(v, 1);
    if (!x?.dims || !axes) return [{ elemType: x?.elemType ?? 0 }];
    const r = x.dims.length + axes.length;
    const norm = new Set(axes.map((a) => normAxis(a, r)));
    const dims: Dims = [];
    let j = 0;
    for (let i = 0; i < r; i++) dims.push(norm.has(i) ? 1 : x.dims[j++]!);
    return [{ elemType: x.elemType, dims, ...(x.values ? { values: x.values } : {}) }];
  },
  Squeeze: (v) => {
    const x = v.in(0);
    if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
    const axes = axesOf(v, 1);
    const r = x.dims.length;
    const drop = axes ? new Set(axes.map((a) => normAxis(a, r))) : new Set(x.dims.flatMap((d, i) => (d === 1 ? [i] : [])));
    if (!axes && x.dims.some((d) => d === null)) return [{ elemType: x.elemType }];
    return [{ elemType: x.elemType, dims: x.dims.filter((_, i) => !drop.has(i)), ...(x.values ? { values: x.values } : {}) }];
  },
  Expand: (v) => {
    const x = v.in(0);
    const target = v.in(1)?.values;
    const elemType = x?.elemType ?? 0;
    if (!target) {
      const n = v.in(1)?.dims?.[0];
      return [{ elemType, ...(typeof n === 'number' && x?.dims ? { dims: new Array(Math.max(n, x.dims.length)).fill(null) } : {}) }];
    }
    const dims = broadcast([x, { elemType, dims: target.map((d) => (d === null ? null : d)) }]);
    return [{ elemType, ...(dims ? { dims } : {}) }];
  },
};
