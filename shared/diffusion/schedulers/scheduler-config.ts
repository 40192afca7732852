/**
 * scheduler/scheduler_config.json in diffusers' format. Unknown keys are allowed (each diffusers
 * scheduler class has its own); the ones the samplers here read are validated.
 */
import { z } from 'zod';

export const SchedulerConfig = z
  .object({
    _class_name: z.string().optional(),
    num_train_timesteps: z.number().int().positive().default(1000),
    beta_start: z.number().positive().default(0.0001),
    beta_end: z.number().positive().default(0.02),
    beta_schedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']).default('linear'),
    trained_betas: z.array(z.number()).nullable().optional(),
    set_alpha_to_one: z.boolean().default(true),
    steps_offset: z.number().int().nonnegative().default(0),
    prediction_type: z.enum(['epsilon', 'v_prediction', 'sample', 'flow']).default('epsilon'),
    timestep_spacing: z.enum(['leading', 'trailing', 'linspace']).default('leading'),
    /** Flow matching: sigma' = shift*sigma / (1 + (shift-1)*sigma). */
    shift: z.number().positive().default(1),
    use_dynamic_shifting: z.boolean().default(false),
  })
  .passthrough();
export type SchedulerConfig = z.infer<typeof SchedulerConfig>;

export function parseSchedulerConfig(raw: unknown, source = 'scheduler_config.json'): SchedulerConfig {
  const parsed = SchedulerConfig.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${source}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}
