/**
 * Refuses solver settings that can never be met: a PreciseInv step stops when its mean squared
 * residual falls below eta, and a residual computed in float32 cannot get below the rounding of a
 * unit-scale latent, (2^-24)^2 per element. Below that every step runs to maxIters.
 */
import type { InversionParams } from '../../shared/contracts/job-request.ts';
import { ApiProblem } from './api-problem.ts';

/** The mean square of one float32 rounding step at unit scale. */
export const MIN_REACHABLE_ETA = 2 ** -48;

export function checkSolverBounds(params: InversionParams, path: string): void {
  if (params.method !== 'preciseinv' || params.eta >= MIN_REACHABLE_ETA) return;
  const message = `eta ${params.eta} is below float32 resolution of the latent (${MIN_REACHABLE_ETA.toExponential(2)}): no step could reach it, each would run all ${params.maxIters} iterations; use eta >= ${MIN_REACHABLE_ETA.toExponential(2)}`;
  throw new ApiProblem(422, 'unreachable-eta', message, [{ path, message, code: 'unreachable_eta' }]);
}
