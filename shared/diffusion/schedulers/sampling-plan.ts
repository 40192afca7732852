/** Chooses the sampler for a model's scheduler config and reduces it to affine steps. */
import type { SamplingPlan } from './affine-step.ts';
import { ddimPlan } from './ddim.ts';
import { ddpmPlan } from './ddpm.ts';
import { flowEulerPlan } from './flow-euler.ts';
import type { SchedulerConfig } from './scheduler-config.ts';

export type SamplerKind = 'ddim' | 'ddpm' | 'flow-euler';

/** The sampler a diffusers scheduler class implies when none is asked for. */
export function defaultSampler(config: SchedulerConfig): SamplerKind {
  if (config.prediction_type === 'flow' || /FlowMatch/.test(config._class_name ?? '')) return 'flow-euler';
  if (/DDPM/.test(config._class_name ?? '')) return 'ddpm';
  return 'ddim';
}

export function samplingPlan(config: SchedulerConfig, steps: number, sampler: SamplerKind = defaultSampler(config)): SamplingPlan {
  switch (sampler) {
    case 'ddim': return ddimPlan(config, steps);
    case 'ddpm': return ddpmPlan(config, steps);
    case 'flow-euler': return flowEulerPlan({ ...config, prediction_type: 'flow' }, steps);
  }
}
