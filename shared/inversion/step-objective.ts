/**
 * The step objective (denoiser.ts: StepObjective) from two model runs: a forward run for m(x),
 * whose residual r becomes the cotangent of a gradient-graph run. This is the evaluation a
 * denoiser without a fused objective graph gets, and the reference the fused graph is checked
 * against; the arithmetic (float64 on float32 vectors) is the fused graph's.
 */
import type { Denoiser, ObjectiveValue, StepObjective } from './denoiser.ts';

export async function objectiveBySeparateRuns(
  denoiser: Denoiser,
  x: Float32Array,
  rows: readonly number[],
  timestep: number,
  objective: StepObjective,
  withGradient: boolean,
): Promise<ObjectiveValue> {
  const n = denoiser.sampleSize;
  const { target, a, b, sigma } = objective;
  const m = await denoiser.predict(x, rows, timestep);
  const r = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) r[k] = a * x[k]! + b * m[k]! - target[k]!;
  const loss = rows.map((_, j) => {
    let s = 0;
    for (let k = j * n; k < (j + 1) * n; k++) s += r[k]! * r[k]!;
    return s / n;
  });
  if (!withGradient) return { loss, gradient: null };
  const { vjp } = await denoiser.predictWithVjp(x, rows, timestep, r);
  const gradient = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) gradient[k] = sigma * (2 / n) * (a * r[k]! + b * vjp[k]!);
  return { loss, gradient };
}

/** The same denoiser with its one-run objective hidden: the step objective then takes two runs. */
export function withoutFusedObjective(denoiser: Denoiser): Denoiser {
  return {
    get sampleSize() {
      return denoiser.sampleSize;
    },
    predict: (x, rows, timestep) => denoiser.predict(x, rows, timestep),
    predictWithVjp: (x, rows, timestep, cotangent) => denoiser.predictWithVjp(x, rows, timestep, cotangent),
  };
}
