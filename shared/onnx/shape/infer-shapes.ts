/**
 * Static shape and type propagation over a forward graph, with partial evaluation of the small
 * integer tensors that exports use for shape arithmetic (Shape -> Gather -> Concat -> Reshape).
 * Unknown dims are null; gradient rules use ranks, element types and the dims that are known.
 * The exporter's own value_info fills in whatever an op rule here cannot derive; one rule per op
 * type lives in rules/.
 */
import { nodeAttributes } from '../node-attributes.ts';
import type { GraphProto, ValueInfoProto } from '../proto/types.ts';
import type { NodeView } from './rule.ts';
import { fromTensor } from './rules/helpers.ts';
import { shapeRules } from './rules/index.ts';
import type { ValueShape } from './value-shape.ts';

export class ShapeInferenceError extends Error {
  override name = 'ShapeInferenceError';
}

export function valueShapeFromInfo(info: ValueInfoProto): ValueShape | undefined {
  const t = info.type?.tensorType;
  if (!t) return undefined;
  const vs: ValueShape = { elemType: t.elemType };
  if (t.shape) vs.dims = t.shape.map((d) => (d.dimValue !== undefined && d.dimParam === undefined ? d.dimValue : null));
  return vs;
}

export function inferShapes(graph: GraphProto, opset: number): Map<string, ValueShape> {
  const shapes = new Map<string, ValueShape>();
  const hints = new Map<string, ValueShape>();
  for (const vi of [...graph.valueInfo, ...graph.output]) {
    const s = valueShapeFromInfo(vi);
    if (s) hints.set(vi.name, s);
  }
  for (const t of graph.initializer) shapes.set(t.name, fromTensor(t));
  for (const i of graph.input) {
    if (shapes.has(i.name)) continue;
    const s = valueShapeFromInfo(i);
    if (s) shapes.set(i.name, s);
  }
  for (const node of graph.node) {
    const view: NodeView = {
      ...nodeAttributes(node),
      node,
      opset,
      in: (k) => (node.input[k] ? shapes.get(node.input[k]!) : undefined),
    };
    const rule = node.domain === '' || node.domain === 'ai.onnx' ? shapeRules[node.opType] : undefined;
    let out: (ValueShape | undefined)[] = [];
    if (rule) {
      try {
        out = rule(view);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new ShapeInferenceError(`node '${node.name || node.output[0]}' (${node.opType}): shape inference failed: ${reason}`, { cause: err });
      }
    }
    node.output.forEach((name, k) => {
      if (!name) return;
      const derived = out[k];
      const hint = hints.get(name);
      shapes.set(name, merge(derived, hint) ?? { elemType: 0 });
    });
  }
  return shapes;
}

/** Combines derived knowledge with the exporter's annotation, preferring known values. */
function merge(a: ValueShape | undefined, b: ValueShape | undefined): ValueShape | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: ValueShape = { elemType: a.elemType || b.elemType };
  if (a.dims && b.dims && a.dims.length === b.dims.length) out.dims = a.dims.map((d, i) => d ?? b.dims![i]!);
  else out.dims = a.dims ?? b.dims;
  if (a.values) out.values = a.values;
  return out;
}
