/**
 * DDPM ancestral sampling: the posterior mean of q(x_prev | x_t, x0_pred) plus
 * sqrt(var) * z with var = (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)
 * ("fixed_small"), no noise at t = 0. The previous timestep is the next grid entry; after
 * the last one abar_prev = 1.
 */
import type { AffineStep, SamplingPlan } from './affine-step.ts';
import { alphasCumprod } from './noise-schedule.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { spacedTimesteps } from './spacing.ts';

export function ddpmPlan(config: SchedulerConfig, steps: number): SamplingPlan {
  const predictionType = config.prediction_type;
  if (predictionType !== 'epsilon' && predictionType !== 'v_prediction') {
    throw new Error(`DDPM supports epsilon and v_prediction models, not '${predictionType}'`);
  }
  const abar = alphasCumprod(config);
  const grid = spacedTimesteps(config, steps);
  const plan: AffineStep[] = grid.map((t, i) => {
    const prev = grid[i + 1] ?? -1;
    const at = abar[t]!;
    const ap = prev >= 0 ? abar[prev]! : 1;
    const alphaT = at / ap;
    const betaT = 1 - alphaT;
    // mean = c0 * x0_pred + ct * x
    const c0 = (Math.sqrt(ap) * betaT) / (1 - at);
    const ct = (Math.sqrt(alphaT) * (1 - ap)) / (1 - at);
    const [st, sn] = [Math.sqrt(at), Math.sqrt(1 - at)];
    const [a, b] = predictionType === 'epsilon' ? [ct + c0 / st, (-c0 * sn) / st] : [ct + c0 * st, -c0 * sn];
    const variance = Math.max(((1 - ap) / (1 - at)) * betaT, 1e-20);
    return { timestep: t, a, b, s: t > 0 ? Math.sqrt(variance) : 0, alpha: st, sigma: sn };
  });
  return { sampler: 'ddpm', predictionType, steps: plan, stochastic: plan.some((p) => p.s > 0) };
}
