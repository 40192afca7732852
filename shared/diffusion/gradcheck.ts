/**
 * `preciseinv gradcheck`: checks a prepared gradient graph two independent ways.
 * 1. Finite differences: for random directions v, J v from central differences
 *    (Richardson-extrapolated over h and h/2) gives <u, J v> with u = J v / |J v|, which must
 *    match <v, J^T u> from the gradient graph (the adjoint identity).
 * 2. Torch autograd: where the folder ships <component>/vjp_reference.safetensors, the
 *    gradient graph's output on those inputs must match torch's VJP. The error is normwise:
 *    max |ours - torch| / max |torch|, so near-zero entries cannot inflate it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type ort from 'onnxruntime-node';
import { gradName } from '../onnx/autodiff/build-vjp.ts';
import { tensorToFloat64 } from '../formats/safetensors.ts';
import { denoiserFeeds, toOrt } from './denoiser-feeds.ts';
import { loadModel } from '../onnx/model-io.ts';
import { fromOrtTensor, gradientSwitch, toOrtTensor } from '../onnx/ort-tensors.ts';
import { TensorDataType } from '../onnx/proto/types.ts';
import { mulberry32, randn } from '../numeric/random.ts';
import { openDenoiserSession } from './denoiser-session.ts';
import { readFolderManifest } from './folder-manifest.ts';
import { openModelFolder } from './model-folder.ts';

export interface GradcheckOptions {
  directions?: number;
  seed?: number;
  /** Overrides both tolerances. */
  tolerance?: number;
  /** Finite-difference step along the unit-variance direction. */
  step?: number;
}

export interface GradcheckReport {
  model: string;
  component: string;
  wrt: string;
  of: string;
  precision: 'fp32' | 'fp16';
  finiteDifference: { directions: number; step: number; maxRelError: number; tolerance: number };
  torch?: { gradMaxRelError: number; forwardMaxRelError: number; tolerance: number };
  maxRelError: number;
  ok: boolean;
}

const TOLERANCE = {
  fp32: { fd: 1e-3, torch: 1e-4 },
  fp16: { fd: 2e-2, torch: 2e-2 },
};

function normwiseError(ours: Float64Array, ref: Float64Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

export async function gradcheck(dir: string, options: GradcheckOptions = {}): Promise<GradcheckReport> {
  const folder = openModelFolder(dir);
  const record = readFolderManifest(folder.dir)?.gradientGraph;
  if (!record || !existsSync(join(folder.dir, record.path))) {
    throw new Error(`${dir} has no gradient graph yet: run \`preciseinv prepare ${dir}\` first`);
  }
  const { wrt, of } = record;
  const forwardModel = loadModel(folder.denoiser.path).model;
  const inputs = forwardModel.graph.input.filter((i) => !forwardModel.graph.initializer.some((t) => t.name === i.name));
  const wrtType = inputs.find((i) => i.name === wrt)?.type?.tensorType?.elemType ?? TensorDataType.FLOAT;
  const precision = wrtType === TensorDataType.FLOAT16 ? 'fp16' : 'fp32';
  const outType = forwardModel.graph.output.find((o) => o.name === of)?.type?.tensorType?.elemType ?? wrtType;
  const tolerance = {
    fd: options.tolerance ?? TOLERANCE[precision].fd,
    torch: options.tolerance ?? TOLERANCE[precision].torch,
  };

  const rand = mulberry32(options.seed ?? 7);
  const { feeds, reference, referencePath } = denoiserFeeds(folder.denoiser.path, inputs, rand);

  // One session, as the engine runs it: forward-only runs skip the gated backward.
  const { session } = await openDenoiserSession(folder, record);
  const zeroCotangent = (dims: readonly number[]) => ({ [gradName(of)]: toOrtTensor(outType, new Float64Array(dims.reduce((a, d) => a * d, 1)), dims) });
  // A denoiser's output has its latent's shape.
  const outDims = feeds[wrt]!.dims;
  const forward = { run: (f: Record<string, ort.Tensor>) => session.run({ ...f, ...zeroCotangent(outDims), ...gradientSwitch(false) }, [of]) };
  const backward = { run: (f: Record<string, ort.Tensor>) => session.run({ ...f, ...gradientSwitch(true) }) };
  try {
    const base = await forward.run(toOrt(feeds));
    const y0 = base[of]!;
    const x = feeds[wrt]!;
    const directions = options.directions ?? 3;
    const step = options.step ?? (precision === 'fp16' ? 5e-2 : 3e-3);
    let fdMax = 0;
    for (let d = 0; d < directions; d++) {
      const v = randn(x.data.length, rand);
      const shifted = async (h: number) => {
        const xs = x.data.map((xi, i) => xi + h * v[i]!);
        const out = await forward.run(toOrt({ ...feeds, [wrt]: { ...x, data: xs } }));
        return fromOrtTensor(out[of]!);
      };
      // Richardson extrapolation of central differences at h and h/2 cancels the h^2 term.
      const central = async (h: number) => {
        const yp = await shifted(h);
        const ym = await shifted(-h);
        return yp.map((p, i) => (p - ym[i]!) / (2 * h));
      };
      const coarse = await central(step);
      const fine = await central(step / 2);
      const jv = fine.map((f, i) => (4 * f - coarse[i]!) / 3);
      // The cotangent is J v itself (normalised): then <u, J v> = |J v| cannot cancel, and a
      // gradient that is off by 1% shows as a 1% error.
      let jvNorm = 0;
      for (let i = 0; i < jv.length; i++) jvNorm += jv[i]! ** 2;
      jvNorm = Math.sqrt(jvNorm);
      const u = jv.map((x) => x / Math.max(jvNorm, 1e-30));
      const jvp = jvNorm;
      const res = await backward.run({ ...toOrt(feeds), [gradName(of)]: toOrtTensor(outType, u, y0.dims) });
      const g = fromOrtTensor(res[gradName(wrt)]!);
      let vjp = 0;
      for (let i = 0; i < v.length; i++) vjp += v[i]! * g[i]!;
      fdMax = Math.max(fdMax, Math.abs(jvp - vjp) / Math.max(jvp, 1e-30));
    }

    let torch: GradcheckReport['torch'];
    if (reference && referencePath) {
      const cot = reference.tensors.get(gradName(of));
      const refGrad = reference.tensors.get(gradName(wrt));
      const refOut = reference.tensors.get(of);
      if (!cot || !refGrad || !refOut) throw new Error(`${referencePath} must hold '${gradName(of)}', '${gradName(wrt)}' and '${of}'`);
      const res = await backward.run({ ...toOrt(feeds), [gradName(of)]: toOrtTensor(outType, tensorToFloat64(cot), cot.shape) });
      torch = {
        gradMaxRelError: normwiseError(fromOrtTensor(res[gradName(wrt)]!), tensorToFloat64(refGrad)),
        forwardMaxRelError: normwiseError(fromOrtTensor(res[of]!), tensorToFloat64(refOut)),
        tolerance: tolerance.torch,
      };
    }
    const ok = fdMax <= tolerance.fd && (!torch || (torch.gradMaxRelError <= tolerance.torch && torch.forwardMaxRelError <= tolerance.torch));
    return {
      model: folder.dir,
      component: record.component,
      wrt,
      of,
      precision,
      finiteDifference: { directions, step, maxRelError: fdMax, tolerance: tolerance.fd },
      ...(torch ? { torch } : {}),
      maxRelError: Math.max(fdMax, torch?.gradMaxRelError ?? 0),
      ok,
    };
  } finally {
    await session.release();
  }
}
