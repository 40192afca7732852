/**
 * Extends a gated gradient graph (backward-gate.ts) with the loss of one inversion step and its
 * gradient, so a descent iteration costs one session run instead of a forward run (for the
 * residual, which the cotangent depends on) and then a gradient run:
 *
 *     x   = the latent as the engine holds it (float32; the model's input is x in the model's
 *           precision, once per branch copy when classifier-free guidance feeds it twice)
 *     m   = sum_k mix_k out_k                      (mix = [1] or [1 - w, w])
 *     r   = a x + b m - y                           (in float64, rounded to float32 once)
 *     L   = mean(r^2) per image                     (in float64: 'objective_loss')
 *     u_k = mix_k r                                  (the backward's cotangent, added to the fed one)
 *     dL/d eps = sigma (2/n) (a r + b sum_k J_k^T u_k)   ('objective_gradient', x = alpha x0 + sigma eps)
 *
 * Everything is added to the same graph, before and after its If: the session keeps one copy of
 * every weight. The objective's nodes are elementwise work on latent-sized tensors, run in every
 * call; a forward-only call (with_gradient false) still yields the loss, so backtracking trials
 * get their loss from the same nodes whether or not they also ask for the gradient. A call that
 * wants only the plain vector-Jacobian product of its own cotangent feeds mix = 0 (then u = 0 and
 * the fed cotangent reaches the backward unchanged).
 *
 * The arithmetic is the engine's (methods/preciseinv.ts), so both paths agree to float32
 * rounding: the residual and loss in float64 from float32 vectors, J^T r rounded to float32.
 * fp16 graphs get the loss scaling the engine applies to a fed cotangent: u is multiplied by the
 * power of two that brings max |r| near 256 and the product divided by it after.
 */
import { attr, GraphBuilder } from '../graph-builder.ts';
import { TensorDataType, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from '../proto/types.ts';
import { WITH_GRADIENT } from './backward-gate.ts';
import { defaultOpset, gradName, VjpBuildError } from './build-vjp.ts';

/** Names of the objective's inputs and outputs. */
export const OBJECTIVE = {
  /** x, float32 [images, ...latent]. */
  latent: 'objective_latent',
  /** y, float32 [images, ...latent]. */
  target: 'objective_target',
  /** a, b, sigma: float64 scalars (a float32 a would move r by float32's resolution of a x). */
  a: 'objective_a',
  b: 'objective_b',
  sigma: 'objective_sigma',
  /** Weight of each branch copy of the batch, float64 [copies]. */
  mix: 'objective_mix',
  /** mean(r^2) per image, float64 [images]. */
  loss: 'objective_loss',
  /** d loss / d eps, float32 [images, ...latent]; meaningful only when with_gradient is true. */
  gradient: 'objective_gradient',
} as const;

const FP16_COTANGENT_TARGET = 256;

function subgraphsOf(node: NodeProto): GraphProto[] {
  return node.attribute.flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}

/** Every name a graph and its subgraphs use (values and nodes). */
function namesIn(graph: GraphProto, into = new Set<string>()): Set<string> {
  for (const t of graph.initializer) into.add(t.name);
  for (const i of graph.input) into.add(i.name);
  for (const n of graph.node) {
    into.add(n.name);
    n.output.forEach((o) => into.add(o));
    for (const g of subgraphsOf(n)) namesIn(g, into);
  }
  return into;
}

/** Points every read of `from` inside `graph` (subgraphs included) at `to`. */
function renameReads(graph: GraphProto, from: string, to: string): void {
  for (const n of graph.node) {
    n.input = n.input.map((x) => (x === from ? to : x));
    for (const g of subgraphsOf(n)) renameReads(g, from, to);
  }
}

export function addResidualObjective(model: ModelProto, o: { wrt: string; of: string }): ModelProto {
  const graph: GraphProto = { ...model.graph, node: [...model.graph.node], initializer: [...model.graph.initializer], input: [...model.graph.input], output: [...model.graph.output] };
  const gateAt = graph.node.findIndex((n) => n.opType === 'If' && n.input[0] === WITH_GRADIENT);
  if (gateAt < 0) throw new VjpBuildError(`the graph has no If on '${WITH_GRADIENT}': the objective extends a gated gradient graph`);
  const gate = graph.node[gateAt]!;
  const thenBranch = gate.attribute.find((a) => a.name === 'then_branch')?.g;
  if (!thenBranch) throw new VjpBuildError('the gradient gate has no then_branch');
  const taken = namesIn(graph);
  const clash = Object.values(OBJECTIVE).find((name) => taken.has(name));
  if (clash) throw new VjpBuildError(`the graph already has a value named '${clash}'`);
  const wrtInfo = graph.input.find((i) => i.name === o.wrt);
  const shape = wrtInfo?.type?.tensorType?.shape;
  if (!wrtInfo || !shape) throw new VjpBuildError(`input '${o.wrt}' has no declared rank; the objective needs one`);
  const latentType = wrtInfo.type!.tensorType!.elemType;
  const outType = graph.output.find((x) => x.name === o.of)?.type?.tensorType?.elemType ?? latentType;
  const rank = shape.length;
  const cotangent = gradName(o.of);
  const gradient = gradName(o.wrt);
  if (!graph.input.some((i) => i.name === cotangent) || gate.output[0] !== gradient) throw new VjpBuildError(`the gated graph must take '${cotangent}' and its If must produce '${gradient}'`);

  const D = TensorDataType.DOUBLE;
  const F = TensorDataType.FLOAT;
  const b = new GraphBuilder(defaultOpset(model), [...taken, ...Object.values(OBJECTIVE)], 'objective/');
  const castD = (x: string) => b.cast(x, D);

  // [copies * images, ...] -> [copies, images, ...], the branch copies along the new axis 0.
  const latentShape = b.shapeOf(o.wrt);
  const inner = b.op('Slice', [latentShape, b.int64s([1]), b.int64s([Number.MAX_SAFE_INTEGER])]);
  const copies = b.shapeOf(OBJECTIVE.mix);
  const split = b.op('Concat', [copies, b.int64s([-1]), inner], { axis: attr.int(0) });
  const byCopy = (x: string) => b.reshape(x, split);
  const mixShape = b.op('Concat', [copies, b.int64s(new Array(rank).fill(1))], { axis: attr.int(0) });
  const mix = b.reshape(OBJECTIVE.mix, mixShape);

  const x = castD(OBJECTIVE.latent);
  const m = b.reduceSum(b.mul(byCopy(castD(o.of)), mix), [0], false);
  const { a, b: bCoef, sigma } = OBJECTIVE;
  const r64 = b.sub(b.add(b.mul(a, x), b.mul(bCoef, m)), castD(OBJECTIVE.target));
  // The residual the engine holds is float32: round once, then compute in float64 from it.
  const r = castD(b.cast(r64, F));
  const imageAxes = Array.from({ length: rank - 1 }, (_, k) => k + 1);
  const loss = b.reduceMean(b.mul(r, r), imageAxes, false);

  let scale: string | undefined;
  if (latentType === TensorDataType.FLOAT16) {
    const maxAbs = b.op('ReduceMax', [b.op('Abs', [r])], { keepdims: attr.int(0) });
    const exponent = b.op('Round', [b.div(b.op('Log', [b.div(b.scalar(FP16_COTANGENT_TARGET, D), maxAbs)]), b.scalar(Math.LN2, D))]);
    const power = b.op('Pow', [b.scalar(2, D), exponent]);
    scale = b.op('Where', [b.op('Greater', [maxAbs, b.scalar(0, D)]), power, b.scalar(1, D)]);
  }
  const weighted = b.mul(mix, b.unsqueeze(r, [0]));
  const u = b.cast(b.reshape(scale ? b.mul(weighted, scale) : weighted, latentShape), outType);
  const total = b.op('Add', [cotangent, u], {}, 'cotangent');
  const before = b.nodes.splice(0);
  renameReads(thenBranch, cotangent, total);

  let jtr = b.reduceSum(byCopy(castD(gradient)), [0], false);
  if (scale) jtr = b.div(jtr, scale);
  jtr = castD(b.cast(jtr, F));
  // n: elements of one image's latent (one row of the batch).
  const n = b.div(castD(b.op('Size', [o.wrt])), castD(b.op('Gather', [latentShape, b.int64Scalar(0)], { axis: attr.int(0) })));
  const coefficient = b.mul(sigma, b.div(b.scalar(2, D), n));
  const objectiveGradient = b.cast(b.mul(coefficient, b.add(b.mul(a, r), b.mul(bCoef, jtr))), F);
  for (const [value, name] of [[loss, OBJECTIVE.loss], [objectiveGradient, OBJECTIVE.gradient]] as const) {
    b.nodes.push({ input: [value], output: [name], name: b.fresh(`${name}_node`), opType: 'Identity', domain: '', attribute: [] });
  }
  const after = b.nodes.splice(0);

  graph.node = [...graph.node.slice(0, gateAt), ...before, gate, ...graph.node.slice(gateAt + 1), ...after];
  graph.initializer = [...graph.initializer, ...b.initializers];
  const scalarInput = (name: string): ValueInfoProto => ({ name, type: { tensorType: { elemType: D, shape: [] } } });
  graph.input = [
    ...graph.input,
    { name: OBJECTIVE.latent, type: { tensorType: { elemType: F, shape: shape.map((d, k) => (k === 0 ? { dimParam: 'objective_images' } : { ...d })) } } },
    { name: OBJECTIVE.target, type: { tensorType: { elemType: F, shape: shape.map((d, k) => (k === 0 ? { dimParam: 'objective_images' } : { ...d })) } } },
    scalarInput(OBJECTIVE.a),
    scalarInput(OBJECTIVE.b),
    scalarInput(OBJECTIVE.sigma),
    { name: OBJECTIVE.mix, type: { tensorType: { elemType: D, shape: [{ dimParam: 'objective_copies' }] } } },
  ];
  graph.output = [
    ...graph.output,
    { name: OBJECTIVE.loss, type: { tensorType: { elemType: D, shape: [{ dimParam: 'objective_images' }] } } },
    { name: OBJECTIVE.gradient, type: { tensorType: { elemType: F } } },
  ];
  return { ...model, graph, metadataProps: [...model.metadataProps, { key: 'preciseinv.objective', value: 'residual' }] };
}
