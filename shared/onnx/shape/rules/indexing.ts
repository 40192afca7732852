/** Ops that select or place elements by index: Slice, Gather, GatherElements, Scatter*. */
import type { Dims, ShapeRule } from '../rule.ts';
import type { ValueShape } from '../value-shape.ts';
import { ints, normAxis, same } from './helpers.ts';

const slice: ShapeRule = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const r = x.dims.length;
  const starts = ints(v, 1);
  const ends = ints(v, 2);
  const axes = v.node.input[3] ? ints(v, 3) : x.dims.map((_, i) => i).slice(0, starts?.length ?? 0);
  const steps = v.node.input[4] ? ints(v, 4) : starts?.map(() => 1);
  const dims: Dims = [...x.dims];
  if (!axes || !steps) return [{ elemType: x.elemType, dims: dims.map(() => null) }];
  axes.forEach((a, i) => {
    const ax = normAxis(a, r);
    const d = x.dims![ax]!;
    if (!starts || !ends || d === null) {
      dims[ax] = null;
      return;
    }
    const step = steps[i]!;
    const clampIdx = (t: number, lo: number, hi: number) => Math.min(Math.max(t < 0 ? t + d : t, lo), hi);
    const s = step > 0 ? clampIdx(starts[i]!, 0, d) : clampIdx(starts[i]!, -1, d - 1);
    const e = step > 0 ? clampIdx(ends[i]!, 0, d) : clampIdx(ends[i]!, -1, d - 1);
    dims[ax] = Math.max(0, Math.ceil((e - s) / step));
  });
  const out: ValueShape = { elemType: x.elemType, dims };
  if (x.values && r === 1 && starts && ends && steps && axes.length === 1) {
    const d = x.values.length;
    const step = steps[0]!;
    const clampIdx = (t: number, lo: number, hi: number) => Math.min(Math.max(t < 0 ? t + d : t, lo), hi);
    const s = step > 0 ? clampIdx(starts[0]!, 0, d) : clampIdx(starts[0]!, -1, d - 1);
    const e = step > 0 ? clampIdx(ends[0]!, 0, d) : clampIdx(ends[0]!, -1, d - 1);
    const vals: (number | null)[] = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) vals.push(x.values[i]!);
    out.values = vals;
  }
  return [out];
};

const gather: ShapeRule = (v) => {
  const x = v.in(0);
  const idx = v.in(1);
  if (!x?.dims || !idx?.dims) return [{ elemType: x?.elemType ?? 0 }];
  const axis = normAxis(v.attrInt('axis', 0), x.dims.length);
  const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
  const s: ValueShape = { elemType: x.elemType, dims };
  if (x.values && x.dims.length === 1 && idx.values) {
    s.values = idx.values.map((i) => (i === null ? null : (x.values![i < 0 ? i + x.values!.length : i] ?? null)));
  }
  return [s];
};

export const indexingShapeRules: Record<string, ShapeRule> = {
  Slice: slice,
  Gather: gather,
  GatherElements: (v) => [{ elemType: v.in(0)?.elemType ?? 0, ...(v.in(1)?.dims ? { dims: v.in(1)!.dims } : {}) }],
  ScatterND: same,
  ScatterElements: same,
};
