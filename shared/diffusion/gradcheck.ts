/**
 * `preciseinv gradcheck`: checks a prepared gradient graph two independent ways.
 * 1. Finite differences: for random directions v, J v from central differences
 *    (Richardson-extrapolated over h and h/2) gives <u, J v> with u = J v / |J v|, which must
 *    match <v, J^T u> from the gradient graph (the adjoint identity).
 * 2. Torch autograd: where the folder ships <component>/vjp_reference.safetensors, the
 *    gradient graph's output on those inputs must match torch's VJP. The error is normwise:
 *    max |ours - torch| / max |torch|, so near-zero entries cannot inflate it.
 * 3. The fused step objective (onnx/autodiff/residual-objective.ts) in the same graph: its
 *    gradient against the same quantity formed from a forward run and a gradient run with r fed
 *    as the cotangent (the engine's two-run path), its loss's directional derivatives against
 *    central finite differences of the loss it reports, and, with the torch reference, its
 *    gradient at a target chosen so that r is torch's cotangent (a = 0, b = 1: then the
 *    gradient is sigma (2/n) J^T u, compared with torch's J^T u).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type ort from 'onnxruntime-node';
import { gradName } from '../onnx/autodiff/build-vjp.ts';
import { tensorToFloat64 } from '../formats/safetensors.ts';
import { denoiserFeeds, toOrt } from './denoiser-feeds.ts';
import { loadModel } from '../onnx/model-io.ts';
import { OBJECTIVE } from '../onnx/autodiff/residual-objective.ts';
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
  /** The fused objective's gradient: against the two-run path, finite differences and torch. */
  objective: { separateRunsMaxRelError: number; finiteDifference: { directions: number; step: number; maxRelError: number }; torchMaxRelError?: number; tolerance: { fd: number; exact: number } };
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
  const latentSize = outDims.reduce((a, d) => a * d, 1);
  /** The objective's inputs: x, y and the coefficients, one branch copy; without them, zeros (no objective). */
  const objectiveFeeds = (o?: { x: ArrayLike<number>; y: ArrayLike<number>; a: number; b: number; sigma: number }) => ({
    [OBJECTIVE.latent]: toOrtTensor(TensorDataType.FLOAT, o?.x ?? new Float64Array(latentSize), outDims),
    [OBJECTIVE.target]: toOrtTensor(TensorDataType.FLOAT, o?.y ?? new Float64Array(latentSize), outDims),
    [OBJECTIVE.a]: toOrtTensor(TensorDataType.DOUBLE, [o?.a ?? 0], []),
    [OBJECTIVE.b]: toOrtTensor(TensorDataType.DOUBLE, [o?.b ?? 0], []),
    [OBJECTIVE.sigma]: toOrtTensor(TensorDataType.DOUBLE, [o?.sigma ?? 0], []),
    [OBJECTIVE.mix]: toOrtTensor(TensorDataType.DOUBLE, [o ? 1 : 0], [1]),
  });
  const forward = { run: (f: Record<string, ort.Tensor>) => session.run({ ...f, ...zeroCotangent(outDims), ...objectiveFeeds(), ...gradientSwitch(false) }, [of]) };
  const backward = { run: (f: Record<string, ort.Tensor>) => session.run({ ...objectiveFeeds(), ...f, ...gradientSwitch(true) }) };
  /** The fused objective at latent x: loss per image and (with the gradient) d loss / d eps. */
  const fused = async (x: Float64Array, o: { y: ArrayLike<number>; a: number; b: number; sigma: number }, withGradient: boolean) => {
    const res = await session.run(
      { ...toOrt({ ...feeds, [wrt]: { ...feeds[wrt]!, data: x } }), ...zeroCotangent(outDims), ...objectiveFeeds({ x, ...o }), ...gradientSwitch(withGradient) },
      withGradient ? [OBJECTIVE.loss, OBJECTIVE.gradient] : [OBJECTIVE.loss],
    );
    return { loss: fromOrtTensor(res[OBJECTIVE.loss]!), gradient: withGradient ? fromOrtTensor(res[OBJECTIVE.gradient]!) : undefined };
  };
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

    /** Check 3 (see the top of this file). */
    const checkObjective = async () => {
      const n = latentSize / outDims[0]!;
      const m = fromOrtTensor(y0);
      // r = 0.1 b m (plus the a x term's rounding): a residual the model's Jacobian shapes.
      const coefficients = { a: 0.25, b: 1, sigma: 0.8 };
      const target = x.data.map((xi, k) => coefficients.a * xi + 0.9 * coefficients.b * m[k]!);
      const objective = { y: target, ...coefficients };
      const at = await fused(x.data, objective, true);
      const g = at.gradient!;
      // The engine's two-run path: r from the forward run as the cotangent of a gradient run.
      const r = Float32Array.from(x.data, (xi, k) => coefficients.a * xi + coefficients.b * m[k]! - target[k]!);
      const jtr = fromOrtTensor((await backward.run({ ...toOrt(feeds), [gradName(of)]: toOrtTensor(outType, r, outDims) }))[gradName(wrt)]!);
      const separate = r.map((rk, k) => coefficients.sigma * (2 / n) * (coefficients.a * rk + coefficients.b * jtr[k]!));
      const separateRunsMaxRelError = normwiseError(g, Float64Array.from(separate));

      // Directional derivatives of the summed loss along the gradient mixed with a random direction.
      // The gradient's direction is the loss's most curved (J^T J's leading one), so in fp32 the
      // step is a tenth of check 1's (at check 1's, LCM's fixtures leave a 2% truncation error);
      // fp16 keeps check 1's, below which its rounding takes over.
      const lossStep = precision === 'fp16' ? step : step / 10;
      let gNorm = 0;
      for (let k = 0; k < g.length; k++) gNorm += g[k]! ** 2;
      gNorm = Math.sqrt(gNorm);
      let fdWorst = 0;
      for (let d = 0; d < directions; d++) {
        const z = randn(g.length, rand);
        const zNorm = Math.sqrt(z.reduce((a, v) => a + v * v, 0));
        // Unit variance per element, like the directions of check 1.
        const v = g.map((gk, k) => (Math.sqrt(g.length) * (gk / Math.max(gNorm, 1e-30) + z[k]! / zNorm)) / Math.SQRT2);
        const total = async (h: number) => {
          // eps moves by h v, so x moves by sigma h v.
          const res = await fused(x.data.map((xi, k) => xi + coefficients.sigma * h * v[k]!), objective, false);
          return res.loss.reduce((a, l) => a + l, 0);
        };
        const central = async (h: number) => ((await total(h)) - (await total(-h))) / (2 * h);
        const fd = (4 * (await central(lossStep / 2)) - (await central(lossStep))) / 3;
        let analytic = 0;
        for (let k = 0; k < g.length; k++) analytic += g[k]! * v[k]!;
        fdWorst = Math.max(fdWorst, Math.abs(fd - analytic) / Math.max(Math.abs(analytic), 1e-30));
      }

      let torchMaxRelError: number | undefined;
      const cot = reference?.tensors.get(gradName(of));
      const refGrad = reference?.tensors.get(gradName(wrt));
      const refOut = reference?.tensors.get(of);
      if (cot && refGrad && refOut) {
        // a = 0, b = 1, y = m_torch(x) - u: r = u up to the two forwards' disagreement, and
        // sigma = n / 2 makes the gradient J^T r itself.
        const u = tensorToFloat64(cot);
        const mTorch = tensorToFloat64(refOut);
        const res = await fused(x.data, { y: mTorch.map((mk, k) => mk - u[k]!), a: 0, b: 1, sigma: n / 2 }, true);
        torchMaxRelError = normwiseError(res.gradient!, tensorToFloat64(refGrad));
      }
      return { separateRunsMaxRelError, finiteDifference: { directions, step: lossStep, maxRelError: fdWorst }, ...(torchMaxRelError !== undefined ? { torchMaxRelError } : {}) };
    };

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
    const objective = await checkObjective();
    const objectiveOk =
      objective.finiteDifference.maxRelError <= tolerance.fd &&
      objective.separateRunsMaxRelError <= tolerance.torch &&
      (objective.torchMaxRelError === undefined || objective.torchMaxRelError <= tolerance.torch);
    const ok = objectiveOk && fdMax <= tolerance.fd && (!torch || (torch.gradMaxRelError <= tolerance.torch && torch.forwardMaxRelError <= tolerance.torch));
    return {
      model: folder.dir,
      component: record.component,
      wrt,
      of,
      precision,
      finiteDifference: { directions, step, maxRelError: fdMax, tolerance: tolerance.fd },
      ...(torch ? { torch } : {}),
      objective: { ...objective, tolerance: { fd: tolerance.fd, exact: tolerance.torch } },
      maxRelError: Math.max(fdMax, torch?.gradMaxRelError ?? 0, objective.separateRunsMaxRelError, objective.finiteDifference.maxRelError, objective.torchMaxRelError ?? 0),
      ok,
    };
  } finally {
    await session.release();
  }
}
