/** diffusers' timestep spacings for discrete-time samplers (values in [0, num_train_timesteps)). */
import type { SchedulerConfig } from './scheduler-config.ts';

export function spacedTimesteps(config: SchedulerConfig, steps: number): number[] {
  const n = config.num_train_timesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > n) throw new Error(`steps must be an integer in 1..${n}, got ${steps}`);
  switch (config.timestep_spacing) {
    case 'leading': {
      const ratio = Math.floor(n / steps);
      return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + config.steps_offset);
    }
    case 'trailing': {
      const ratio = n / steps;
      return Array.from({ length: steps }, (_, i) => roundHalfEven(n - i * ratio) - 1);
    }
    case 'linspace':
      return Array.from({ length: steps }, (_, i) => roundHalfEven(((n - 1) * (steps - 1 - i)) / Math.max(steps - 1, 1)));
  }
}

/** numpy's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
