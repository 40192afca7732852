/**
 * Reverse-mode differentiation of an ONNX graph: given a forward model, builds a second model
 * that returns the forward output `of` together with the vector-Jacobian product
 * J_of(wrt)^T * grad_of, using only standard-domain ops at the forward graph's opset.
 *
 * Only nodes on a path from `wrt` to `of` are differentiated; everything else (shape
 * arithmetic, timestep embeddings, conditioning) is kept as forward computation.
 */
import { attr, GraphBuilder } from '../graph-builder.ts';
import { nodeAttributes } from '../node-attributes.ts';
import type { GraphProto, ModelProto, NodeProto, ValueInfoProto } from '../proto/types.ts';
import { inferShapes } from '../shape/infer-shapes.ts';
import { withInputDims, type DimValues } from '../shape/with-input-dims.ts';
import { gateBackward, nodeReads } from './backward-gate.ts';
import { splitAttentionHeads } from './split-attention-heads.ts';
import type { ValueShape } from '../shape/value-shape.ts';
import { FLOAT_TYPES, tensorValues } from '../tensor.ts';
import type { ChainGradients, MatMulLeftCotangent, VjpContext } from './rule.ts';
import { chainRules, vjpRules } from './rules/index.ts';

export const MIN_OPSET = 14;
export const MAX_OPSET = 21;

export class VjpBuildError extends Error {
  override name = 'VjpBuildError';
}

export interface VjpOptions {
  /** Graph input to differentiate with respect to, e.g. 'sample'. */
  wrt: string;
  /** Graph output to differentiate, e.g. 'out_sample'. */
  of: string;
  /**
   * Called after each forward node's gradient is emitted, with the nodes emitted for it (for
   * profiling tools that attribute gradient cost to forward ops; the graph does not change).
   */
  onEmit?: (forward: NodeProto, emitted: readonly NodeProto[]) => void;
  /**
   * Sizes of the symbolic input dims at which the model typically runs (its native resolution,
   * one image), for size-dependent choices such as how attention is split by head; without
   * them, only static sizes count. The graph stays valid at every size.
   */
  typicalDims?: DimValues;
}

/** Prefix of every node and value name the gradient half of a graph adds. */
export const GRADIENT_PREFIX = 'vjp/';

/** Whether a node of a gradient graph belongs to its backward half. */
export function isGradientNode(node: NodeProto): boolean {
  return node.name.startsWith(GRADIENT_PREFIX);
}

export function gradName(name: string): string {
  return `grad_${name}`;
}

export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!entry) throw new VjpBuildError('the model imports no default-domain (ai.onnx) opset');
  return entry.version;
}

export function buildVjpGraph(model: ModelProto, options: VjpOptions): ModelProto {
  const { wrt, of } = options;
  const opset = defaultOpset(model);
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new VjpBuildError(`opset ${opset} is not supported: gradient graphs are built for opsets ${MIN_OPSET} to ${MAX_OPSET}`);
  }
  // The forward half is the model's graph with large attentions split by head (same values).
  const graph: GraphProto = { ...model.graph, node: [...model.graph.node], initializer: [...model.graph.initializer] };
  topologicalOrder(graph);
  splitAttentionHeads(graph, opset, inferShapes(graph, opset), inferShapes(withInputDims(graph, options.typicalDims ?? {}), opset), namesIn(graph));
  const taken = namesIn(graph);

  const initNames = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((i) => !initNames.has(i.name));
  const wrtInfo = inputs.find((i) => i.name === wrt);
  if (!wrtInfo) {
    throw new VjpBuildError(`'${wrt}' is not an input of the graph; inputs are: ${inputs.map((i) => i.name).join(', ')}`);
  }
  const ofInfo = graph.output.find((o) => o.name === of);
  if (!ofInfo) {
    throw new VjpBuildError(`'${of}' is not an output of the graph; outputs are: ${graph.output.map((o) => o.name).join(', ')}`);
  }

  const order = topologicalOrder(graph);
  const active = activeNodes(order, wrt, of);
  if (active.size === 0) throw new VjpBuildError(`output '${of}' does not depend on input '${wrt}'`);

  const shapes = inferShapes(graph, opset);
  const constants = new Map(graph.initializer.map((t) => [t.name, t]));
  const constantNodes = new Map<string, NodeProto>();
  for (const n of graph.node) if (n.opType === 'Constant' && n.output[0]) constantNodes.set(n.output[0], n);

  const gradOf = gradName(of);
  const gradWrt = gradName(wrt);
  if (taken.has(gradOf) || taken.has(gradWrt)) throw new VjpBuildError(`the graph already uses the name '${gradOf}' or '${gradWrt}'`);
  taken.add(gradOf);
  taken.add(gradWrt);
  const b = new GraphBuilder(opset, taken, GRADIENT_PREFIX);

  // Cotangent contributions per forward value, summed when a value feeds several consumers.
  const contributions = new Map<string, string[]>([[of, [gradOf]]]);
  const origins = new Map<string, MatMulLeftCotangent>();
  // Values reached from wrt through floating-point values only (integer shape arithmetic and
  // boolean masks carry no cotangent); an unknown element type counts as floating point.
  const differentiable = new Set<string>([wrt]);
  for (const n of order) {
    if (!n.input.some((x) => differentiable.has(x))) continue;
    for (const o of n.output) {
      const t = shapes.get(o)?.elemType;
      if (o && (!t || FLOAT_TYPES.has(t))) differentiable.add(o);
    }
  }
  const onPath = new Set<string>([wrt]);
  for (const n of order) if (active.has(n)) n.output.forEach((o) => onPath.add(o));

  const producers = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of order) {
    n.output.forEach((o) => producers.set(o, n));
    if (active.has(n)) for (const x of n.input) consumers.set(x, [...(consumers.get(x) ?? []), n]);
  }
  // Nodes whose gradient a chain rule has already emitted.
  const covered = new Set<NodeProto>();
  const sharedState = new Map<object, unknown>();
  const contribute = (name: string, g: string) => {
    const list = contributions.get(name) ?? [];
    list.push(g);
    contributions.set(name, list);
  };

  const cotangent = (name: string): string | undefined => {
    const terms = contributions.get(name);
    if (!terms || terms.length === 0) return undefined;
    if (terms.length > 1) contributions.set(name, [concatDisjointPads(b, terms, shapes.get(name)) ?? b.sum(terms)]);
    return contributions.get(name)![0];
  };

  for (let idx = order.length - 1; idx >= 0; idx--) {
    const node = order[idx]!;
    if (!active.has(node) || covered.has(node)) continue;
    const label = `node '${node.name || node.output[0]}' (${node.domain ? `${node.domain}.` : ''}${node.opType})`;
    const fail = (reason: string): never => {
      throw new VjpBuildError(`${label}: ${reason}`);
    };
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      fail(`op from domain '${node.domain}' lies on the gradient path; only standard ONNX ops can be differentiated`);
    }
    const emittedFrom = b.nodes.length;
    // A node no cotangent reaches (e.g. Shape(sample) feeding a Reshape target) needs no rule.
    const dys = node.output.map((o) => (o && onPath.has(o) ? cotangent(o) : undefined));
    if (dys.every((d) => d === undefined)) continue;
    const ctx: VjpContext = {
      ...nodeAttributes(node),
      node,
      b,
      opset,
      dy: (k = 0) => dys[k],
      // An input tied to wrt only through shapes (an attention scale computed from a Shape) is
      // on the path, but its cotangent could only end in a Shape: not worth computing.
      wants: (k) => {
        const name = node.input[k];
        return !!name && onPath.has(name) && differentiable.has(name);
      },
      input: (k) => node.input[k] ?? '',
      output: (k) => node.output[k] ?? '',
      shape: (name) => shapes.get(name) ?? fail(`no static type/shape known for '${name}'`),
      shapeOrUndefined: (name) => shapes.get(name),
      constValues: (name) => constantValuesOf(name, constants, constantNodes, shapes),
      constInts: (k) => constantValuesOf(node.input[k], constants, constantNodes, shapes),
      origin: (name) => origins.get(name),
      setOrigin: (name, o) => origins.set(name, o),
      producer: (name) => producers.get(name),
      gradientConsumers: (name) => consumers.get(name) ?? [],
      onPath: (name) => onPath.has(name),
      differentiable: (name) => differentiable.has(name),
      hasCotangent: (name) => (contributions.get(name)?.length ?? 0) > 0,
      fail,
      shared: <T>(key: object, create: () => T): T => {
        if (!sharedState.has(key)) sharedState.set(key, create());
        return sharedState.get(key) as T;
      },
    };
    const chain = (chainRules[node.opType] ?? []).reduce<ChainGradients | undefined>((found, r) => found ?? r(ctx), undefined);
    if (chain) {
      chain.covers.forEach((n) => covered.add(n));
      for (const [name, g] of chain.grads) if (onPath.has(name)) contribute(name, g);
    } else {
      const rule = vjpRules[node.opType];
      if (!rule) fail(`no gradient rule for op '${node.opType}', which lies on the path from '${wrt}' to '${of}'`);
      const grads = rule!(ctx);
      // One slot per input keeps cotangents aligned with the inputs they belong to.
      if (grads.length !== node.input.length) {
        fail(`the '${node.opType}' gradient rule returned ${grads.length} cotangent slot(s) for the node's ${node.input.length} input(s); a rule returns one per input (undefined where none)`);
      }
      node.input.forEach((name, k) => {
        if (!name || !onPath.has(name)) return;
        const g = grads[k];
        if (g !== undefined) contribute(name, g);
      });
    }
    options.onEmit?.(node, b.nodes.slice(emittedFrom));
  }

  const finalGrad = cotangent(wrt);
  if (!finalGrad) throw new VjpBuildError(`no gradient reached '${wrt}'`);

  const newGraph: GraphProto = {
    ...graph,
    name: `${graph.name || 'graph'}_vjp`,
    node: [...order, ...b.nodes],
    initializer: [...graph.initializer, ...b.initializers],
    input: [...graph.input, { name: gradOf, type: ofInfo.type }],
    output: [ofInfo, { name: gradWrt, type: wrtInfo.type }],
    valueInfo: graph.valueInfo,
  };
  pruneDeadNodes(newGraph, [of, finalGrad]);
  gateBackward(newGraph, { cotangent: gradOf, wrt: wrtInfo, gradientOutput: gradWrt, finalGradient: finalGrad, isGradient: isGradientNode, fresh: (h) => b.fresh(h) });
  return {
    ...model,
    graph: newGraph,
    producerName: 'preciseinv',
    metadataProps: [
      ...model.metadataProps.filter((p) => !p.key.startsWith('preciseinv.')),
      { key: 'preciseinv.vjp.wrt', value: wrt },
      { key: 'preciseinv.vjp.of', value: of },
    ],
  };
}

function constantValuesOf(
  name: string | undefined,
  constants: Map<string, import('../proto/types.ts').TensorProto>,
  constantNodes: Map<string, NodeProto>,
  shapes: Map<string, ValueShape>,
): number[] | undefined {
  if (!name) return undefined;
  const t = constants.get(name) ?? constantNodes.get(name)?.attribute.find((a) => a.name === 'value')?.t;
  if (t && t.dataLocation !== 1) return tensorValues(t);
  const v = shapes.get(name)?.values;
  return v && v.every((x) => x !== null) ? (v as number[]) : undefined;
}

/** Every node and value name a graph uses. */
function namesIn(graph: GraphProto): Set<string> {
  const taken = new Set<string>([...graph.initializer.map((t) => t.name), ...graph.input.map((i) => i.name)]);
  for (const n of graph.node) {
    n.output.forEach((o) => taken.add(o));
    taken.add(n.name);
  }
  return taken;
}

/**
 * The graph's nodes, checked to be in topological order as the ONNX spec requires (values read
 * by subgraphs from the outer scope are not checked here; ORT checks them when it loads).
 */
export function topologicalOrder(graph: GraphProto): NodeProto[] {
  const available = new Set<string>(['', ...graph.input.map((i) => i.name), ...graph.initializer.map((t) => t.name)]);
  for (const n of graph.node) {
    const missing = n.input.filter((x) => !available.has(x));
    if (missing.length > 0) {
      throw new VjpBuildError(`node '${n.name}' (${n.opType}) reads ${missing.join(', ')} before any node produces it: the graph is not topologically sorted or is incomplete`);
    }
    n.output.forEach((o) => available.add(o));
  }
  return graph.node;
}

/** Nodes on some path from `wrt` to `of`. */
function activeNodes(order: NodeProto[], wrt: string, of: string): Set<NodeProto> {
  const fromWrt = new Set<string>([wrt]);
  const forward = new Set<NodeProto>();
  for (const n of order) {
    if (n.input.some((x) => fromWrt.has(x))) {
      forward.add(n);
      n.output.forEach((o) => fromWrt.add(o));
    }
  }
  const toOf = new Set<string>([of]);
  const active = new Set<NodeProto>();
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]!;
    if (forward.has(n) && n.output.some((o) => toOf.has(o))) {
      active.add(n);
      n.input.forEach((x) => toOf.add(x));
    }
  }
  return active;
}

/** Drops nodes and initializers that none of `roots` needs. */
function pruneDeadNodes(graph: GraphProto, roots: readonly string[]): void {
  const needed = new Set(roots);
  const kept: NodeProto[] = [];
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const n = graph.node[i]!;
    if (n.output.some((o) => needed.has(o))) {
      kept.push(n);
      nodeReads(n).forEach((x) => needed.add(x));
    }
  }
  graph.node = kept.reverse();
  graph.initializer = graph.initializer.filter((t) => needed.has(t.name));
}

/**
 * Cotangents of slices that tile a tensor along one axis (a chunk exported as several Slices)
 * arrive as zero-Pads of disjoint windows. Their sum is the Concat of the unpadded pieces,
 * which avoids materialising and adding full-size zero tensors.
 */
function concatDisjointPads(b: GraphBuilder, terms: readonly string[], target: ValueShape | undefined): string | undefined {
  const dims = target?.dims;
  if (!dims) return undefined;
  const pieces: { inner: string; begin: number; end: number }[] = [];
  let axis = -1;
  for (const term of terms) {
    const node = b.nodes.find((n) => n.output[0] === term);
    if (!node || node.opType !== 'Pad' || node.input.length !== 2) return undefined;
    if (node.attribute.some((a) => a.name === 'mode' && new TextDecoder().decode(a.s) !== 'constant')) return undefined;
    const pads = b.constantValues(node.input[1]!);
    if (!pads || pads.length !== 2 * dims.length || pads.some((p) => p < 0)) return undefined;
    const padded = pads.flatMap((p, j) => (p !== 0 ? [j % dims.length] : []));
    const padAxis = padded[0] ?? -1;
    if (padded.some((a) => a !== padAxis) || padAxis < 0) return undefined;
    if (axis >= 0 && padAxis !== axis) return undefined;
    axis = padAxis;
    pieces.push({ inner: node.input[0]!, begin: pads[padAxis]!, end: pads[padAxis + dims.length]! });
  }
  const size = dims[axis];
  if (typeof size !== 'number') return undefined;
  pieces.sort((p, q) => p.begin - q.begin);
  let cursor = 0;
  for (const p of pieces) {
    // Window [begin, size - end) must start where the previous one ended.
    if (p.begin !== cursor) return undefined;
    cursor = size - p.end;
  }
  if (cursor !== size) return undefined;
  return b.op('Concat', pieces.map((p) => p.inner), { axis: attr.int(axis) });
}
