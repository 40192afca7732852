/**
 * A graph whose symbolic input dims are given values, for shape inference at concrete sizes
 * (memory estimates, size-dependent rewrites) on graphs whose exports leave sizes symbolic.
 */
import type { GraphProto, ValueInfoProto } from '../proto/types.ts';

/** Concrete size per symbolic dim name, e.g. { batch_size: 1, height: 64 }. */
export type DimValues = Readonly<Record<string, number>>;

/** A shallow copy of `graph` whose inputs have each named symbolic dim set to its value. */
export function withInputDims(graph: GraphProto, dimValues: DimValues): GraphProto {
  const input: ValueInfoProto[] = graph.input.map((i) => {
    const t = i.type?.tensorType;
    if (!t?.shape) return i;
    const shape = t.shape.map((d) => (d.dimParam !== undefined && dimValues[d.dimParam] !== undefined ? { dimValue: dimValues[d.dimParam]! } : d));
    return { ...i, type: { ...i.type, tensorType: { ...t, shape } } };
  });
  return { ...graph, input };
}
