/**
 * What a gradient graph keeps alive for its backward half: the forward values (and graph inputs)
 * that the gated backward (backward-gate.ts) reads, with their sizes at given input dims. This is the part of a
 * gradient run's memory that the rules decide; the rest (weights, the forward's own transient
 * values, the backward's transient cotangents) is the same for any reverse-mode implementation.
 * Torch autograd's counterpart is the set of tensors its graph saves for backward.
 */
import type { ModelProto } from '../proto/types.ts';
import { inferShapes } from '../shape/infer-shapes.ts';
import { withInputDims, type DimValues } from '../shape/with-input-dims.ts';
import { elementBytes } from '../tensor.ts';
import { WITH_GRADIENT, nodeReads } from './backward-gate.ts';
import { defaultOpset, isGradientNode } from './build-vjp.ts';

export interface SavedValue {
  name: string;
  /** Op type of the forward node that produces it, or 'input'. */
  producer: string;
  dims?: (number | null)[];
  /** Size at the given dims; undefined where some dim stayed unknown. */
  bytes?: number;
}

export interface SavedValues {
  values: SavedValue[];
  /** Sum over the values whose size is known. */
  bytes: number;
  /** Values whose size could not be derived. */
  unknown: number;
}

/**
 * @param dimValues concrete dims per symbolic dim name (e.g. { batch_size: 1, height: 64, ... })
 */
export function savedForBackward(vjp: ModelProto, dimValues: DimValues): SavedValues {
  const graph = vjp.graph;
  const shapes = inferShapes(withInputDims(graph, dimValues), defaultOpset(vjp));
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const producer = new Map<string, string>();
  for (const i of graph.input) if (!initializers.has(i.name)) producer.set(i.name, 'input');
  for (const n of graph.node) if (!isGradientNode(n)) n.output.forEach((o) => producer.set(o, n.opType));
  const saved = new Set<string>();
  const gate = graph.node.find((n) => n.opType === 'If' && n.input[0] === WITH_GRADIENT);
  if (!gate) throw new Error('not a gated gradient graph: no If on the with_gradient input');
  for (const x of nodeReads(gate)) if (producer.has(x)) saved.add(x);
  const values: SavedValue[] = [...saved].map((name) => {
    const s = shapes.get(name);
    const dims = s?.dims;
    const known = dims && dims.every((d) => d !== null) ? (dims as number[]) : undefined;
    const bytes = known && s ? known.reduce((a, d) => a * d, elementBytes(s.elemType)) : undefined;
    return { name, producer: producer.get(name)!, dims, bytes };
  });
  values.sort((a, b) => (b.bytes ?? 0) - (a.bytes ?? 0));
  return {
    values,
    bytes: values.reduce((a, v) => a + (v.bytes ?? 0), 0),
    unknown: values.filter((v) => v.bytes === undefined).length,
  };
}
