/**
 * Typed reads of a node's attributes with the ONNX defaults a caller supplies; shape inference
 * and the gradient rules read attributes through this one reader.
 */
import type { AttributeProto, NodeProto, TensorProto } from './proto/types.ts';

export interface NodeAttributes {
  attribute(name: string): AttributeProto | undefined;
  attrInt(name: string, fallback: number): number;
  attrInts(name: string): number[] | undefined;
  attrFloat(name: string, fallback: number): number;
  attrString(name: string, fallback: string): string;
  attrTensor(name: string): TensorProto | undefined;
}

const utf8 = new TextDecoder();

export function nodeAttributes(node: NodeProto): NodeAttributes {
  const attribute = (name: string) => node.attribute.find((a) => a.name === name);
  return {
    attribute,
    attrInt: (name, fallback) => attribute(name)?.i ?? fallback,
    attrInts: (name) => attribute(name)?.ints,
    attrFloat: (name, fallback) => attribute(name)?.f ?? fallback,
    attrString: (name, fallback) => {
      const s = attribute(name)?.s;
      return s ? utf8.decode(s) : fallback;
    },
    attrTensor: (name) => attribute(name)?.t,
  };
}
