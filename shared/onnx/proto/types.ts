/**
 * The ONNX protobuf messages this project reads and writes, as plain objects. Field numbers are
 * in codec.ts. Every message keeps `unknown`: the raw bytes of fields this schema does not model
 * (newer ONNX versions, training info, functions), written back verbatim on encode.
 */

export interface Unknown {
  unknown?: Uint8Array[];
}

export const TensorDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;
export type TensorDataType = number;

export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

export interface StringStringEntry extends Unknown {
  key: string;
  value: string;
}

export interface TensorProto extends Unknown {
  dims: number[];
  dataType: TensorDataType;
  name: string;
  docString?: string;
  rawData?: Uint8Array;
  /** Absolute byte offset of rawData inside the file it was decoded from, if any. */
  rawDataFileOffset?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  uint64Data?: number[];
  stringData?: Uint8Array[];
  externalData?: StringStringEntry[];
  /** 0 = DEFAULT, 1 = EXTERNAL */
  dataLocation?: number;
}

export interface Dimension extends Unknown {
  dimValue?: number;
  dimParam?: string;
}

export interface TensorTypeProto extends Unknown {
  elemType: TensorDataType;
  /** undefined = unknown rank */
  shape?: Dimension[];
}

export interface TypeProto extends Unknown {
  tensorType?: TensorTypeProto;
  denotation?: string;
}

export interface ValueInfoProto extends Unknown {
  name: string;
  type?: TypeProto;
  docString?: string;
}

export interface AttributeProto extends Unknown {
  name: string;
  type: number;
  refAttrName?: string;
  docString?: string;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
}

export interface NodeProto extends Unknown {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeProto[];
  docString?: string;
}

export interface GraphProto extends Unknown {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}

export interface OperatorSetId extends Unknown {
  domain: string;
  version: number;
}

export interface ModelProto extends Unknown {
  irVersion: number;
  opsetImport: OperatorSetId[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps: StringStringEntry[];
}
