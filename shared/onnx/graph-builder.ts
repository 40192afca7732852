/**
 * Emits ONNX nodes into a graph under construction: unique names, typed attributes, small
 * constants, and the helpers whose signatures changed across opsets 13..21 (reductions,
 * Squeeze/Unsqueeze, Split), so gradient rules are written once for every opset.
 */
import { AttributeType, TensorDataType, type AttributeProto, type GraphProto, type NodeProto, type TensorProto } from './proto/types.ts';
import { makeTensor, tensorValues } from './tensor.ts';

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorProto }
  | { kind: 'graph'; value: GraphProto };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: TensorProto): Attr => ({ kind: 'tensor', value }),
  graph: (value: GraphProto): Attr => ({ kind: 'graph', value }),
};

function toAttributeProto(name: string, a: Attr): AttributeProto {
  switch (a.kind) {
    case 'int': return { name, type: AttributeType.INT, i: a.value };
    case 'float': return { name, type: AttributeType.FLOAT, f: a.value };
    case 'ints': return { name, type: AttributeType.INTS, ints: [...a.value] };
    case 'floats': return { name, type: AttributeType.FLOATS, floats: [...a.value] };
    case 'string': return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor': return { name, type: AttributeType.TENSOR, t: a.value };
    case 'graph': return { name, type: AttributeType.GRAPH, g: a.value };
  }
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used: Set<string>;
  /** Per name base, the suffix below which every suffix is taken (keeps naming linear in graph size). */
  private readonly nextSuffix: Map<string, number>;
  private readonly constCache = new Map<string, string>();

  /**
   * @param opset the default-domain opset the emitted nodes must conform to
   * @param takenNames names already used in the graph (never reused)
   * @param prefix prepended to every generated name
   */
  constructor(
    readonly opset: number,
    takenNames: Iterable<string> = [],
    readonly prefix = '',
    private readonly parent?: GraphBuilder,
  ) {
    this.used = parent ? parent.used : new Set(takenNames);
    this.nextSuffix = parent ? parent.nextSuffix : new Map();
  }

  /**
   * A builder for the body of a subgraph (an If branch): it collects its own nodes, while names
   * stay unique across the whole graph and constants become initializers of the outer graph
   * (which subgraphs may read).
   */
  branch(): GraphBuilder {
    return new GraphBuilder(this.opset, [], this.prefix, this);
  }

  /** A name not used anywhere in the graph yet. */
  fresh(hint: string): string {
    const base = `${this.prefix}${hint.replace(/[^A-Za-z0-9_./:-]/g, '_')}`;
    let name = base;
    let i = this.nextSuffix.get(base) ?? 1;
    if (this.used.has(name)) {
      for (; this.used.has(`${base}_${i}`); i++);
      name = `${base}_${i}`;
      this.nextSuffix.set(base, i + 1);
    }
    this.used.add(name);
    return name;
  }

  /** Emits one node; returns its output names. */
  node(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputs = 1, hint = opType): string[] {
    const outs = Array.from({ length: outputs }, (_, k) => this.fresh(`${hint}_out${k}`));
    this.nodes.push({
      input: [...inputs],
      output: outs,
      name: this.fresh(`${hint}_node`),
      opType,
      domain: '',
      attribute: Object.entries(attrs).map(([k, v]) => toAttributeProto(k, v)),
    });
    return outs;
  }

  /** Emits a single-output node and returns its output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, hint = opType): string {
    return this.node(opType, inputs, attrs, 1, hint)[0]!;
  }

  /** A constant initializer (deduplicated by content). */
  constant(dataType: number, dims: readonly number[], values: readonly number[], hint = 'const'): string {
    if (this.parent) return this.parent.constant(dataType, dims, values, hint);
    const key = `${dataType}|${dims.join(',')}|${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh(hint);
    this.initializers.push(makeTensor(name, dataType, dims, values));
    this.constCache.set(key, name);
    return name;
  }

  /** Values of a constant this builder emitted, or undefined. */
  constantValues(name: string): number[] | undefined {
    if (this.parent) return this.parent.constantValues(name);
    const t = this.initializers.find((x) => x.name === name);
    return t ? tensorValues(t) : undefined;
  }

  int64s(values: readonly number[], hint = 'ints'): string {
    return this.constant(TensorDataType.INT64, [values.length], values, hint);
  }

  int64Scalar(value: number, hint = 'int'): string {
    return this.constant(TensorDataType.INT64, [], [value], hint);
  }

  /** A scalar of the given floating element type (matches the tensor it combines with). */
  scalar(value: number, dataType: number, hint = 'scalar'): string {
    return this.constant(dataType, [], [value], hint);
  }

  cast(x: string, to: number): string {
    return this.op('Cast', [x], { to: attr.int(to) });
  }

  /** ReduceSum over the given axes; an empty list reduces nothing. */
  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    return this.op('ReduceSum', [x, this.int64s(axes, 'axes')], { keepdims: attr.int(keepdims ? 1 : 0) });
  }

  /** ReduceSum whose axes are a runtime tensor; an empty axes tensor reduces nothing. */
  reduceSumDynamic(x: string, axes: string, keepdims: boolean): string {
    return this.op('ReduceSum', [x, axes], { keepdims: attr.int(keepdims ? 1 : 0), noop_with_empty_axes: attr.int(1) });
  }

  reduceMean(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    const k = { keepdims: attr.int(keepdims ? 1 : 0) };
    // ReduceMean takes axes as an input from opset 18, as an attribute before.
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.int64s(axes, 'axes')], k);
    return this.op('ReduceMean', [x], { ...k, axes: attr.ints(axes) });
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    return this.op('Unsqueeze', [x, this.int64s(axes, 'axes')]);
  }

  squeeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    return this.op('Squeeze', [x, this.int64s(axes, 'axes')]);
  }

  reshape(x: string, shape: string): string {
    return this.op('Reshape', [x, shape]);
  }

  shapeOf(x: string): string {
    return this.op('Shape', [x]);
  }

  transpose(x: string, perm: readonly number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.op('Transpose', [x], { perm: attr.ints(perm) });
  }

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  div(a: string, b: string): string {
    return this.op('Div', [a, b]);
  }

  neg(a: string): string {
    return this.op('Neg', [a]);
  }

  /** Sums several cotangent contributions into one tensor. */
  sum(terms: readonly string[]): string {
    if (terms.length === 0) throw new Error('sum of no terms');
    if (terms.length === 1) return terms[0]!;
    return this.op('Sum', terms);
  }
}
