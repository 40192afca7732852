/**
 * DDIM (eta = 0), epsilon or v prediction. As in diffusers' DDIMScheduler.step, the previous
 * timestep is always t - num_train_timesteps // steps, and a negative one uses the final
 * alpha (1 if set_alpha_to_one, else alphas_cumprod[0]). No clipping: inversion needs the
 * step to be exactly affine.
 */
import type { AffineStep, SamplingPlan } from './affine-step.ts';
import { alphasCumprod } from './noise-schedule.ts';
import type { SchedulerConfig } from './scheduler-config.ts';
import { spacedTimesteps } from './spacing.ts';

export function ddimPlan(config: SchedulerConfig, steps: number): SamplingPlan {
  const predictionType = config.prediction_type;
  if (predictionType !== 'epsilon' && predictionType !== 'v_prediction') {
    throw new Error(`DDIM supports epsilon and v_prediction models, not '${predictionType}'`);
  }
  const abar = alphasCumprod(config);
  const finalAbar = config.set_alpha_to_one ? 1 : abar[0]!;
  const ratio = Math.floor(config.num_train_timesteps / steps);
  const plan: AffineStep[] = spacedTimesteps(config, steps).map((t) => {
    const prev = t - ratio;
    const at = abar[t]!;
    const ap = prev >= 0 ? abar[prev]! : finalAbar;
    const [st, sp, ct, cp] = [Math.sqrt(at), Math.sqrt(ap), Math.sqrt(1 - at), Math.sqrt(1 - ap)];
    // x_p = sqrt(ap) x0 + sqrt(1-ap) eps, with x0 and eps written in terms of (x, m).
    const [a, b] = predictionType === 'epsilon' ? [sp / st, cp - (sp * ct) / st] : [sp * st + cp * ct, cp * st - sp * ct];
    return { timestep: t, a, b, s: 0, alpha: st, sigma: ct };
  });
  return { sampler: 'ddim', predictionType, steps: plan, stochastic: false };
}
