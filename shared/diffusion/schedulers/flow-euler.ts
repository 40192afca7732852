/**
 * Flow-matching Euler (SD3): x_next = x + (sigma_next - sigma) * v with noising
 * x = sigma * noise + (1 - sigma) * x0. Sigmas are spaced linearly in training time between
 * the shifted schedule's extremes, then shifted: sigma' = s*sigma / (1 + (s-1)*sigma);
 * the model's timestep is sigma * num_train_timesteps.
 */
import type { AffineStep, SamplingPlan } from './affine-step.ts';
import type { SchedulerConfig } from './scheduler-config.ts';

export function flowSigmas(config: SchedulerConfig, steps: number): number[] {
  const n = config.num_train_timesteps;
  if (config.use_dynamic_shifting) throw new Error('dynamic shifting (resolution-dependent mu) is not supported; set use_dynamic_shifting false');
  const shift = (s: number) => (config.shift * s) / (1 + (config.shift - 1) * s);
  const sigmaMax = shift(1);
  const sigmaMin = shift(1 / n);
  const raw = Array.from({ length: steps }, (_, i) => (sigmaMax * n + ((sigmaMin * n - sigmaMax * n) * i) / Math.max(steps - 1, 1)) / n);
  return [...raw.map(shift), 0];
}

export function flowEulerPlan(config: SchedulerConfig, steps: number): SamplingPlan {
  const sigmas = flowSigmas(config, steps);
  const plan: AffineStep[] = sigmas.slice(0, -1).map((sigma, i) => ({
    timestep: sigma * config.num_train_timesteps,
    a: 1,
    b: sigmas[i + 1]! - sigma,
    s: 0,
    alpha: 1 - sigma,
    sigma,
  }));
  return { sampler: 'flow-euler', predictionType: 'flow', steps: plan, stochastic: false };
}
