/**
 * A forward-graph rewrite applied before differentiation: attention o = softmax(q kt) v over a
 * static head axis becomes one such chain per group of heads, joined by a Concat,
 *
 *   q, kt, v [.., H, L, d]  ->  Split into groups of g heads  ->  H/g x (MatMul, Softmax, MatMul)  ->  Concat
 *
 * so the [tokens x tokens] scores and probabilities exist one group at a time, in the forward
 * and, since the attention chain rule recomputes p per group, in the backward: at SD 1.5's 4096
 * image tokens 64 MiB per head instead of 512 MiB for all eight. Each group's products are the
 * batched product's own slices (a batched MatMul runs the same kernel per batch slice), so the
 * result is unchanged.
 *
 * Sizes are judged at the model's typical input dims (its native resolution, one image, 77
 * tokens), since exports leave token counts symbolic: g is the largest divisor of H whose p stays
 * within MAX_GROUP_PROBABILITY_BYTES, and attention whose whole p does is left as it is (most
 * cross-attention, and every attention at low resolution). Each group costs about 30 gradient
 * nodes, and onnxruntime's session setup grows faster than linearly with the node count, so
 * groups are as large as the budget allows.
 */
import { attr, GraphBuilder } from '../graph-builder.ts';
import { nodeAttributes } from '../node-attributes.ts';
import type { GraphProto, NodeProto } from '../proto/types.ts';
import type { ValueShape } from '../shape/value-shape.ts';
import { elementBytes } from '../tensor.ts';

/** Largest p (bytes, at the typical input dims) one group of heads may have. */
export const MAX_GROUP_PROBABILITY_BYTES = 64 * 2 ** 20;

interface Attention {
  scores: NodeProto;
  softmax: NodeProto;
  product: NodeProto;
  axis: number;
  heads: number;
  /** Heads per group. */
  group: number;
}

function findAttentions(graph: GraphProto, shapes: Map<string, ValueShape>, typical: Map<string, ValueShape>): Attention[] {
  const producer = new Map<string, NodeProto>();
  const readers = new Map<string, number>();
  for (const n of graph.node) {
    n.output.forEach((o) => producer.set(o, n));
    for (const x of n.input) readers.set(x, (readers.get(x) ?? 0) + 1);
  }
  const outputs = new Set(graph.output.map((o) => o.name));
  const found: Attention[] = [];
  for (const product of graph.node) {
    if (product.opType !== 'MatMul' || product.domain !== '') continue;
    const softmax = producer.get(product.input[0]!);
    if (!softmax || softmax.opType !== 'Softmax' || softmax.domain !== '') continue;
    const scores = producer.get(softmax.input[0]!);
    if (!scores || scores.opType !== 'MatMul' || scores.domain !== '') continue;
    // s and p must feed nothing else.
    if (readers.get(scores.output[0]!) !== 1 || readers.get(softmax.output[0]!) !== 1) continue;
    if (outputs.has(scores.output[0]!) || outputs.has(softmax.output[0]!)) continue;
    const dims = (name: string) => shapes.get(name)?.dims;
    const [qd, kd, vd, pd] = [dims(scores.input[0]!), dims(scores.input[1]!), dims(product.input[1]!), dims(softmax.output[0]!)];
    if (!qd || !kd || !vd || !pd) continue;
    const r = pd.length;
    if (r < 3 || qd.length !== r || kd.length !== r || vd.length !== r) continue;
    const axisAttr = nodeAttributes(softmax).attrInt('axis', -1);
    if ((axisAttr < 0 ? axisAttr + r : axisAttr) !== r - 1) continue;
    // The head axis: the innermost batch axis, static and shared by q, kt and v (no broadcast).
    const axis = r - 3;
    const heads = qd[axis];
    if (typeof heads !== 'number' || heads < 2 || kd[axis] !== heads || vd[axis] !== heads) continue;
    const typicalDims = typical.get(softmax.output[0]!)?.dims;
    if (!typicalDims || typicalDims.some((x) => x === null)) continue;
    const elemType = shapes.get(softmax.output[0]!)?.elemType ?? 1;
    const perHead = (typicalDims as number[]).reduce((a, x) => a * x, elementBytes(elemType)) / heads;
    let group = heads;
    while (group > 1 && (heads % group !== 0 || group * perHead > MAX_GROUP_PROBABILITY_BYTES)) group--;
    if (group === heads) continue;
    found.push({ scores, softmax, product, axis, heads, group });
  }
  return found;
}

/**
 * Rewrites `graph` in place (nodes stay topologically sorted); returns how many attentions were
 * split. `shapes` are the graph's static shapes, `typical` its shapes at the typical input dims;
 * `taken` holds every name in use, which new names avoid.
 */
export function splitAttentionHeads(graph: GraphProto, opset: number, shapes: Map<string, ValueShape>, typical: Map<string, ValueShape>, taken: Set<string>): number {
  const attentions = findAttentions(graph, shapes, typical);
  if (attentions.length === 0) return 0;
  const b = new GraphBuilder(opset, taken, 'heads/');
  const replaced = new Map<NodeProto, NodeProto[]>();
  for (const a of attentions) {
    const from = b.nodes.length;
    const groups = a.heads / a.group;
    const sizes = b.int64s(new Array<number>(groups).fill(a.group), 'head_sizes');
    const split = (x: string) => b.node('Split', [x, sizes], { axis: attr.int(a.axis) }, groups, 'head_split');
    const [qs, ks, vs] = [split(a.scores.input[0]!), split(a.scores.input[1]!), split(a.product.input[1]!)];
    const heads = qs.map((q, h) => {
      const s = b.op('MatMul', [q, ks[h]!], {}, 'head_scores');
      const softmaxAt = b.nodes.length;
      const p = b.op('Softmax', [s], {}, 'head_p');
      b.nodes[softmaxAt]!.attribute = a.softmax.attribute.map((x) => ({ ...x }));
      return b.op('MatMul', [p, vs[h]!], {}, 'head_o');
    });
    b.nodes.push({ input: heads, output: [a.product.output[0]!], name: b.fresh('head_concat_node'), opType: 'Concat', domain: '', attribute: [{ name: 'axis', type: 2, i: a.axis }] });
    replaced.set(a.product, b.nodes.slice(from));
  }
  const dropped = new Set(attentions.flatMap((a) => [a.scores, a.softmax]));
  graph.node = graph.node.flatMap((n) => (dropped.has(n) ? [] : replaced.get(n) ?? [n]));
  graph.initializer.push(...b.initializers);
  return attentions.length;
}
