/**
 * Lays a gradient graph out so one session serves forward-only and gradient runs:
 *
 *   forward nodes + shape arithmetic on forward values  (always run)
 *   If(with_gradient) { backward nodes } else { zeros }  (the backward only when asked for)
 *
 * `with_gradient` is a required boolean scalar input (an overridable default would make ONNX
 * Runtime warn at every session start that it cannot treat it as a constant). ONNX Runtime
 * runs every node of a graph whatever outputs are fetched, so without the If a forward-only run
 * would cost a gradient run; and a second session for the forward would hold a second copy of
 * every weight (on a GPU, a second upload).
 *
 * Inside the branch the nodes that do not depend on the cotangent (values the backward
 * recomputes from saved forward values) come first. ONNX Runtime orders execution by a
 * depth-first walk back from the outputs that follows a node's highest-numbered input first;
 * numbered after them, the cotangent chain feeding a gradient node is walked, and so run,
 * before that node's recomputed operands, which are therefore computed just before they are
 * used instead of at the start of the backward, where every one of them would stay alive.
 *
 * Integer shape arithmetic on forward values (Shape, Size, Gather of shapes...) is left outside
 * the If: its results are tiny, and a Shape read inside the branch would keep the whole tensor it
 * measures alive until the backward, where outside it runs as soon as the tensor exists.
 */
import { AttributeType, TensorDataType, type GraphProto, type NodeProto, type ValueInfoProto } from '../proto/types.ts';
import { makeTensor } from '../tensor.ts';

export const WITH_GRADIENT = 'with_gradient';

const INTEGER_TYPES: ReadonlySet<number> = new Set([
  TensorDataType.INT64,
  TensorDataType.INT32,
  TensorDataType.INT16,
  TensorDataType.INT8,
  TensorDataType.UINT8,
  TensorDataType.BOOL,
]);

/** Ops whose outputs are never integer whatever their inputs (so not shape arithmetic). */
const FLOAT_PRODUCERS: ReadonlySet<string> = new Set(['RandomNormalLike', 'RandomUniformLike', 'EyeLike']);

function subgraphs(node: NodeProto): GraphProto[] {
  return node.attribute.flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}

/** Every value a node reads, including those its subgraphs read from outer scopes. */
export function nodeReads(node: NodeProto): string[] {
  const out = node.input.filter((x) => x !== '');
  for (const g of subgraphs(node)) for (const n of g.node) out.push(...nodeReads(n));
  return out;
}

/** Names of the graph's values that hold integers or booleans (shape arithmetic and masks). */
function integerValues(graph: GraphProto): Set<string> {
  const ints = new Set<string>();
  const typed = (vi: ValueInfoProto) => vi.type?.tensorType?.elemType;
  for (const t of graph.initializer) if (INTEGER_TYPES.has(t.dataType)) ints.add(t.name);
  for (const i of graph.input) if (INTEGER_TYPES.has(typed(i) ?? -1)) ints.add(i.name);
  for (const n of graph.node) {
    let isInt: boolean;
    if (n.opType === 'Shape' || n.opType === 'Size') isInt = true;
    else if (n.opType === 'Cast') isInt = INTEGER_TYPES.has(n.attribute.find((a) => a.name === 'to')?.i ?? -1);
    else if (n.opType === 'ConstantOfShape') isInt = INTEGER_TYPES.has(n.attribute.find((a) => a.name === 'value')?.t?.dataType ?? TensorDataType.FLOAT);
    else if (n.opType === 'Constant') isInt = INTEGER_TYPES.has(n.attribute.find((a) => a.name === 'value')?.t?.dataType ?? -1);
    else if (FLOAT_PRODUCERS.has(n.opType) || subgraphs(n).length > 0) isInt = false;
    else {
      const inputs = n.input.filter((x) => x !== '');
      isInt = inputs.length > 0 && inputs.every((x) => ints.has(x));
    }
    if (isInt) n.output.forEach((o) => o && ints.add(o));
  }
  return ints;
}

export interface GateOptions {
  /** The cotangent input (grad_<of>). */
  cotangent: string;
  /** The wrt input and the name the gradient output gets. */
  wrt: ValueInfoProto;
  gradientOutput: string;
  /** The value holding the finished gradient. */
  finalGradient: string;
  /** Predicate telling gradient nodes from forward ones. */
  isGradient: (node: NodeProto) => boolean;
  fresh: (hint: string) => string;
}

/** Rewrites `graph` (nodes in topological order, dead nodes pruned) into the gated layout. */
export function gateBackward(graph: GraphProto, o: GateOptions): void {
  if (graph.input.some((i) => i.name === WITH_GRADIENT) || graph.initializer.some((t) => t.name === WITH_GRADIENT)) {
    throw new Error(`the graph already has a value named '${WITH_GRADIENT}'`);
  }
  const elemType = o.wrt.type?.tensorType?.elemType ?? TensorDataType.FLOAT;
  const ints = integerValues(graph);
  const dependent = new Set<string>([o.cotangent]);
  const forward: NodeProto[] = [];
  const hoisted: NodeProto[] = [];
  const recomputed: NodeProto[] = [];
  const backward: NodeProto[] = [];
  const outside = new Set<string>();
  for (const i of graph.input) outside.add(i.name);
  for (const t of graph.initializer) outside.add(t.name);
  for (const n of graph.node) {
    const reads = nodeReads(n);
    if (!o.isGradient(n)) {
      forward.push(n);
      n.output.forEach((x) => outside.add(x));
      continue;
    }
    if (reads.some((x) => dependent.has(x))) {
      n.output.forEach((x) => dependent.add(x));
      backward.push(n);
    } else if (reads.every((x) => outside.has(x)) && n.output.every((x) => !x || ints.has(x))) {
      hoisted.push(n);
      n.output.forEach((x) => outside.add(x));
    } else {
      recomputed.push(n);
    }
  }
  const branchOut = o.fresh('gradient');
  const thenBranch: GraphProto = {
    name: o.fresh('backward'),
    node: [...recomputed, ...backward, { input: [o.finalGradient], output: [branchOut], name: o.fresh('gradient_node'), opType: 'Identity', domain: '', attribute: [] }],
    initializer: [],
    input: [],
    output: [{ name: branchOut, type: { tensorType: { elemType } } }],
    valueInfo: [],
  };
  // No gradient asked for: zeros of the latent's shape, so the output is always well formed.
  const shape = o.fresh('no_gradient_shape');
  const zeros = o.fresh('no_gradient');
  const elseBranch: GraphProto = {
    name: o.fresh('no_backward'),
    node: [
      { input: [o.wrt.name], output: [shape], name: o.fresh('no_gradient_shape_node'), opType: 'Shape', domain: '', attribute: [] },
      {
        input: [shape],
        output: [zeros],
        name: o.fresh('no_gradient_node'),
        opType: 'ConstantOfShape',
        domain: '',
        attribute: [{ name: 'value', type: AttributeType.TENSOR, t: makeTensor('value', elemType, [1], [0]) }],
      },
    ],
    initializer: [],
    input: [],
    output: [{ name: zeros, type: { tensorType: { elemType } } }],
    valueInfo: [],
  };
  const gate: NodeProto = {
    input: [WITH_GRADIENT],
    output: [o.gradientOutput],
    name: o.fresh('gradient_gate'),
    opType: 'If',
    domain: '',
    attribute: [
      { name: 'then_branch', type: AttributeType.GRAPH, g: thenBranch },
      { name: 'else_branch', type: AttributeType.GRAPH, g: elseBranch },
    ],
  };
  graph.node = [...forward, ...hoisted, gate];
  graph.input = [...graph.input, { name: WITH_GRADIENT, type: { tensorType: { elemType: TensorDataType.BOOL, shape: [] } } }];
}

/** The backward branch of a gated gradient graph, or undefined for a graph without one. */
export function backwardBranch(graph: GraphProto): GraphProto | undefined {
  const gate = graph.node.find((n) => n.opType === 'If' && n.input[0] === WITH_GRADIENT);
  return gate?.attribute.find((a) => a.name === 'then_branch')?.g;
}

/**
 * Every node of a gated gradient graph, the backward branch's included (its own subgraphs, such
 * as the attention dispatch, stay nested): the flat view tests and reports look at.
 */
export function allNodes(graph: GraphProto): NodeProto[] {
  return graph.node.flatMap((n) => (n.opType === 'If' && n.input[0] === WITH_GRADIENT ? backwardBranch(graph)!.node : [n]));
}
