/**
 * Builds small ONNX models in code for rule tests: declared graph inputs, constant
 * initializers, and nodes emitted through the same GraphBuilder the gradient code uses.
 */
import { GraphBuilder } from '../graph-builder.ts';
import { TensorDataType, type ModelProto, type TypeProto } from '../proto/types.ts';
import { makeTensor } from '../tensor.ts';

export interface TinyInput {
  name: string;
  dims: (number | string)[];
  elemType?: number;
}

export interface TinyModelSpec {
  opset: number;
  inputs: TinyInput[];
  /** Constant initializers (weights, axes, shapes). */
  constants?: { name: string; dims: number[]; values: ArrayLike<number>; elemType?: number }[];
  /** Emits the nodes; returns the names of the graph outputs with their element type and dims. */
  build: (b: GraphBuilder) => { name: string; dims: (number | string | null)[]; elemType?: number }[];
}

export function tensorType(elemType: number, dims: (number | string | null)[]): TypeProto {
  return {
    tensorType: {
      elemType,
      shape: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : d === null ? {} : { dimParam: d })),
    },
  };
}

export function tinyModel(spec: TinyModelSpec): ModelProto {
  const taken = [...spec.inputs.map((i) => i.name), ...(spec.constants ?? []).map((c) => c.name)];
  const b = new GraphBuilder(spec.opset, taken);
  const outputs = spec.build(b);
  return {
    irVersion: spec.opset >= 21 ? 10 : 8,
    opsetImport: [{ domain: '', version: spec.opset }],
    producerName: 'preciseinv-tests',
    metadataProps: [],
    graph: {
      name: 'tiny',
      node: b.nodes,
      initializer: [
        ...(spec.constants ?? []).map((c) => makeTensor(c.name, c.elemType ?? TensorDataType.FLOAT, c.dims, c.values)),
        ...b.initializers,
      ],
      input: spec.inputs.map((i) => ({ name: i.name, type: tensorType(i.elemType ?? TensorDataType.FLOAT, i.dims) })),
      output: outputs.map((o) => ({ name: o.name, type: tensorType(o.elemType ?? TensorDataType.FLOAT, o.dims) })),
      valueInfo: [],
    },
  };
}
