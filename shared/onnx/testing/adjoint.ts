/**
 * The adjoint test for gradient graphs: for random directions v (input) and u (output
 * cotangent), <u, J v> from central finite differences of the forward graph must equal
 * <v, J^T u> from the gradient graph.
 */
import ort from 'onnxruntime-node';
import { buildVjpGraph, gradName } from '../autodiff/build-vjp.ts';
import type { DimValues } from '../shape/with-input-dims.ts';
import { serializeModel } from '../model-io.ts';
import { fromOrtTensor, toOrtTensor, gradientSwitch } from '../ort-tensors.ts';
import { TensorDataType, type ModelProto } from '../proto/types.ts';
import { mulberry32, randn } from '../../numeric/random.ts';

export interface AdjointOptions {
  wrt: string;
  of: string;
  /** Concrete dims of every graph input. */
  dims: Record<string, number[]>;
  /** Fixed values for inputs that are not random normals (indices, timesteps). */
  values?: Record<string, ArrayLike<number>>;
  seed?: number;
  /** Finite-difference step along v. */
  step?: number;
  /** Passed to the gradient graph builder (size-dependent rewrites). */
  typicalDims?: DimValues;
}

export interface AdjointResult {
  /** <u, J v> by central differences */
  jvp: number;
  /** <v, J^T u> from the gradient graph */
  vjp: number;
  relError: number;
  /** Forward output of the gradient graph vs the original graph, max abs difference. */
  forwardMismatch: number;
}

function elemTypeOf(model: ModelProto, name: string): number {
  return model.graph.input.find((i) => i.name === name)?.type?.tensorType?.elemType ?? TensorDataType.FLOAT;
}

export async function runAdjoint(model: ModelProto, options: AdjointOptions): Promise<AdjointResult> {
  const { wrt, of } = options;
  const rand = mulberry32(options.seed ?? 1234);
  const vjpModel = buildVjpGraph(model, { wrt, of, ...(options.typicalDims ? { typicalDims: options.typicalDims } : {}) });
  const forward = await ort.InferenceSession.create(serializeModel(model));
  const backward = await ort.InferenceSession.create(serializeModel(vjpModel));
  try {
    const feeds: Record<string, ort.Tensor> = {};
    const base: Record<string, Float64Array> = {};
    for (const input of model.graph.input) {
      const dims = options.dims[input.name];
      if (!dims) throw new Error(`no dims given for input '${input.name}'`);
      const n = dims.reduce((a, c) => a * c, 1);
      const given = options.values?.[input.name];
      const data = given ? Float64Array.from(given) : randn(n, rand);
      base[input.name] = data;
      feeds[input.name] = toOrtTensor(elemTypeOf(model, input.name), data, dims);
    }
    const wrtType = elemTypeOf(model, wrt);
    const x = base[wrt]!;
    const v = randn(x.length, rand);
    const y0 = fromOrtTensor((await forward.run(feeds))[of]!);
    const u = randn(y0.length, rand);
    const outDims = (await forward.run(feeds))[of]!.dims;

    const h = options.step ?? (wrtType === TensorDataType.DOUBLE ? 1e-6 : 1e-2);
    const shifted = async (sign: number) => {
      const xs = x.map((xi, i) => xi + sign * h * v[i]!);
      const out = await forward.run({ ...feeds, [wrt]: toOrtTensor(wrtType, xs, options.dims[wrt]!) });
      return fromOrtTensor(out[of]!);
    };
    const yp = await shifted(1);
    const ym = await shifted(-1);
    let jvp = 0;
    for (let i = 0; i < u.length; i++) jvp += u[i]! * ((yp[i]! - ym[i]!) / (2 * h));

    const outType = model.graph.output.find((o) => o.name === of)?.type?.tensorType?.elemType ?? TensorDataType.FLOAT;
    const res = await backward.run({ ...feeds, [gradName(of)]: toOrtTensor(outType, u, outDims), ...gradientSwitch(true) });
    const g = fromOrtTensor(res[gradName(wrt)]!);
    const yb = fromOrtTensor(res[of]!);
    let vjp = 0;
    for (let i = 0; i < v.length; i++) vjp += v[i]! * g[i]!;
    let forwardMismatch = 0;
    for (let i = 0; i < y0.length; i++) forwardMismatch = Math.max(forwardMismatch, Math.abs(y0[i]! - yb[i]!));
    const relError = Math.abs(jvp - vjp) / Math.max(Math.abs(jvp), Math.abs(vjp), 1e-12);
    return { jvp, vjp, relError, forwardMismatch };
  } finally {
    await forward.release();
    await backward.release();
  }
}
