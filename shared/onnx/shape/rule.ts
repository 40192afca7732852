/**
 * The contract between shape inference (infer-shapes.ts) and its per-op rules (rules/*.ts): a
 * rule sees one forward node with what is known about its inputs and returns what it can derive
 * about each output (undefined where it derives nothing; the exporter's value_info fills in).
 */
import type { NodeAttributes } from '../node-attributes.ts';
import type { NodeProto } from '../proto/types.ts';
import type { ValueShape } from './value-shape.ts';

export type Dims = (number | null)[];
export type Values = (number | null)[] | undefined;

export interface NodeView extends NodeAttributes {
  node: NodeProto;
  opset: number;
  in(k: number): ValueShape | undefined;
}

export type ShapeRule = (v: NodeView) => (ValueShape | undefined)[];
