/**
 * Reading and writing ONNX model files, with weights in the protobuf or in external data files.
 * Errors name the file and what is wrong with it; writes go to a temporary file first so a
 * failure leaves nothing behind.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, normalize, isAbsolute } from 'node:path';
import { decodeModel, encodeModel } from './proto/codec.ts';
import { ProtobufDecodeError } from './proto/wire.ts';
import type { GraphProto, ModelProto, TensorProto } from './proto/types.ts';
import { elementBytes, elementCount, isExternal } from './tensor.ts';

export class OnnxModelError extends Error {
  override name = 'OnnxModelError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

export interface LoadedModel {
  model: ModelProto;
  /** Absolute path of the .onnx file. */
  path: string;
  /** Size of the .onnx file in bytes. */
  size: number;
}

export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export function externalRef(t: TensorProto): ExternalRef {
  const get = (k: string) => t.externalData?.find((e) => e.key === k)?.value;
  const location = get('location');
  if (!location) throw new Error(`tensor '${t.name}' is external but has no 'location'`);
  const offset = Number(get('offset') ?? 0);
  const lengthEntry = get('length');
  const length = lengthEntry !== undefined ? Number(lengthEntry) : elementCount(t.dims) * elementBytes(t.dataType);
  return { location, offset, length };
}

/** Every tensor a graph holds data for: initializers and Constant/attribute tensors, nested graphs included. */
export function* graphTensors(graph: GraphProto): Generator<TensorProto> {
  yield* graph.initializer;
  for (const node of graph.node) {
    for (const a of node.attribute) {
      if (a.t) yield a.t;
      if (a.tensors) yield* a.tensors;
      if (a.g) yield* graphTensors(a.g);
      for (const g of a.graphs ?? []) yield* graphTensors(g);
    }
  }
}

export function loadModel(file: string): LoadedModel {
  const path = normalize(isAbsolute(file) ? file : join(process.cwd(), file));
  if (!existsSync(path)) throw new OnnxModelError(file, 'no such file');
  const stat = statSync(path);
  if (!stat.isFile()) throw new OnnxModelError(file, 'not a regular file');
  if (stat.size === 0) throw new OnnxModelError(file, 'file is empty, expected an ONNX model');
  const bytes = readFileSync(path);
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    if (e instanceof ProtobufDecodeError) {
      const hint = /unexpected end of data/.test(e.message) ? 'the file is truncated or corrupt' : 'not an ONNX model';
      throw new OnnxModelError(file, `${hint} (${e.message})`);
    }
    throw e;
  }
  if (!model.opsetImport.length) throw new OnnxModelError(file, 'not an ONNX model (no opset_import)');
  checkExternalData(model, path);
  return { model, path, size: stat.size };
}

/** Fails if any external tensor points at a missing file or past its end. */
function checkExternalData(model: ModelProto, path: string): void {
  const dir = dirname(path);
  const sizes = new Map<string, number>();
  for (const t of graphTensors(model.graph)) {
    if (!isExternal(t)) continue;
    const ref = externalRef(t);
    if (isAbsolute(ref.location) || normalize(ref.location).startsWith('..')) {
      throw new OnnxModelError(path, `tensor '${t.name}' points outside the model folder (${ref.location})`);
    }
    const dataPath = join(dir, ref.location);
    let size = sizes.get(dataPath);
    if (size === undefined) {
      if (!existsSync(dataPath)) {
        throw new OnnxModelError(path, `external data file '${ref.location}' for tensor '${t.name}' is missing (expected at ${dataPath})`);
      }
      size = statSync(dataPath).size;
      sizes.set(dataPath, size);
    }
    if (ref.offset + ref.length > size) {
      throw new OnnxModelError(
        path,
        `tensor '${t.name}' needs bytes ${ref.offset}..${ref.offset + ref.length} of '${ref.location}', which has ${size} bytes (truncated?)`,
      );
    }
  }
}

/**
 * Turns embedded initializers of a loaded model into references to the same bytes inside the
 * original .onnx file, so a derived model saved beside it shares the weights instead of copying them.
 */
export function referenceEmbeddedWeights(model: ModelProto, sourceFile: string, minBytes = 1024): void {
  const location = basename(sourceFile);
  for (const t of model.graph.initializer) {
    if (isExternal(t) || !t.rawData || t.rawDataFileOffset === undefined || t.rawData.length < minBytes) continue;
    t.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(t.rawDataFileOffset) },
      { key: 'length', value: String(t.rawData.length) },
    ];
    t.dataLocation = 1;
    delete t.rawData;
    delete t.rawDataFileOffset;
  }
}

/** Writes a model atomically (temporary file + rename). */
export function saveModel(model: ModelProto, file: string): number {
  const rope = encodeModel(model);
  if (rope.length >= 2 ** 31) {
    throw new OnnxModelError(file, `serialized model would be ${rope.length} bytes; protobuf limits it to 2 GiB: keep weights external`);
  }
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const chunk of rope.chunks) writeSync(fd, chunk);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
  return rope.length;
}

export function serializeModel(model: ModelProto): Uint8Array {
  return encodeModel(model).toBytes();
}
