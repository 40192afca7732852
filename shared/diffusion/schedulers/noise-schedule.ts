/** Training noise schedules: betas and their cumulative products alphas_cumprod (abar). */
import type { SchedulerConfig } from './scheduler-config.ts';

export function betas(config: SchedulerConfig): Float64Array {
  const n = config.num_train_timesteps;
  if (config.trained_betas) return Float64Array.from(config.trained_betas);
  const out = new Float64Array(n);
  switch (config.beta_schedule) {
    case 'linear':
      for (let i = 0; i < n; i++) out[i] = config.beta_start + ((config.beta_end - config.beta_start) * i) / (n - 1);
      return out;
    case 'scaled_linear': {
      // Linear in sqrt(beta), as Stable Diffusion was trained.
      const s0 = Math.sqrt(config.beta_start);
      const s1 = Math.sqrt(config.beta_end);
      for (let i = 0; i < n; i++) out[i] = (s0 + ((s1 - s0) * i) / (n - 1)) ** 2;
      return out;
    }
    case 'squaredcos_cap_v2': {
      const abar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      for (let i = 0; i < n; i++) out[i] = Math.min(1 - abar((i + 1) / n) / abar(i / n), 0.999);
      return out;
    }
  }
}

export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const b = betas(config);
  const out = new Float64Array(b.length);
  let prod = 1;
  for (let i = 0; i < b.length; i++) {
    prod *= 1 - b[i]!;
    out[i] = prod;
  }
  return out;
}
