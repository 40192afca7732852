/**
 * The contract between the reverse-mode traversal (build-vjp.ts) and the per-op gradient rules
 * (rules/*.ts). A rule sees one forward node, the cotangents of its outputs, and a builder to
 * emit gradient nodes; it returns the cotangent of each input that needs one.
 */
import type { GraphBuilder } from '../graph-builder.ts';
import type { NodeAttributes } from '../node-attributes.ts';
import type { NodeProto } from '../proto/types.ts';
import type { ValueShape } from '../shape/value-shape.ts';

/**
 * A cotangent known to be the product dY * C^T of a forward MatMul Y = A C (unbroadcast A of
 * rank >= 2), recorded by the MatMul rule for the rule of the op that produced A. Knowing the
 * factors lets that rule avoid materialising or re-reading the full-size cotangent of A.
 */
export interface MatMulLeftCotangent {
  /** The forward A, C and Y, and the cotangent of Y. */
  left: string;
  right: string;
  output: string;
  dy: string;
}

/** Attribute reads (attrInt, attrInts, ...) come from the reader shape inference uses too. */
export interface VjpContext extends NodeAttributes {
  readonly node: NodeProto;
  readonly b: GraphBuilder;
  /** Default-domain opset of the forward graph; emitted nodes must conform to it. */
  readonly opset: number;
  /** Cotangent flowing into output k (default 0), or undefined when no gradient reaches it. */
  dy(k?: number): string | undefined;
  /** Whether input k needs a cotangent: on a path from the differentiated input, through floating-point values. */
  wants(k: number): boolean;
  /** Name of forward input k ('' for an omitted optional input). */
  input(k: number): string;
  output(k: number): string;
  /** Static knowledge about a forward value; throws a build error naming this node if unknown. */
  shape(name: string): ValueShape;
  /** Static knowledge, or undefined. */
  shapeOrUndefined(name: string): ValueShape | undefined;
  /** Values of a constant (or statically known) integer input, e.g. axes or pads. */
  constInts(k: number): number[] | undefined;
  /** Values of any constant (initializer, Constant node) or statically known value, by name. */
  constValues(name: string): number[] | undefined;
  /** How cotangent `name` was formed, when a rule recorded it. */
  origin(name: string): MatMulLeftCotangent | undefined;
  /** Records how a cotangent this rule returns was formed. */
  setOrigin(name: string, origin: MatMulLeftCotangent): void;
  /** The forward node producing a value (undefined for graph inputs and initializers). */
  producer(name: string): NodeProto | undefined;
  /** Forward nodes on the gradient path that read a value. */
  gradientConsumers(name: string): readonly NodeProto[];
  /** Whether a value lies on a path from the differentiated input (needs a cotangent). */
  onPath(name: string): boolean;
  /**
   * Whether a value depends on the differentiated input through floating-point values, not only
   * through shapes (a Reshape whose target comes from Shape(input) is on the path, yet no
   * cotangent reaches the input through it).
   */
  differentiable(name: string): boolean;
  /** Whether some cotangent has already reached a value (always true for the differentiated output). */
  hasCotangent(name: string): boolean;
  /** A build error that names this node and op. */
  fail(reason: string): never;
  /**
   * State shared by the rule invocations of one build, under a key the rule owns (e.g. the
   * sibling attention heads of one split, which the attention rule orders one after another).
   */
  shared<T>(key: object, create: () => T): T;
}

/** Returns one entry per forward input: its cotangent name, or undefined for none. */
export type VjpRule = (ctx: VjpContext) => (string | undefined)[];

/**
 * A rule for a chain of forward nodes that ends at ctx.node, where differentiating the chain as
 * a whole is cheaper than node by node. It returns undefined when the chain does not match.
 */
export type ChainRule = (ctx: VjpContext) => ChainGradients | undefined;

export interface ChainGradients {
  /** The chain's other nodes; their intermediate values get no cotangent and their rules do not run. */
  covers: NodeProto[];
  /** A cotangent for each forward value the chain reads that lies on the gradient path. */
  grads: [value: string, cotangent: string][];
}

/** One empty slot per input of the node being differentiated, for a rule to fill. */
export function noCotangents(ctx: VjpContext): (string | undefined)[] {
  return ctx.node.input.map(() => undefined);
}

/** The slots of a rule that differentiates input 0 only: the node's other inputs (shapes, axes, pads, bounds, weights) get none. */
export function firstInputOnly(ctx: VjpContext, g: string | undefined): (string | undefined)[] {
  const slots = noCotangents(ctx);
  slots[0] = g;
  return slots;
}
