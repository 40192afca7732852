/**
 * A job's per-timestep record so far: what the console charts while the job runs. Read from the
 * job's latest checkpoint while it runs and from its metrics.json once it has succeeded.
 */
import { z } from 'zod';
import { StepMetrics } from '../inversion/outputs/inversion-metrics.ts';
import { JobProgress } from './job.ts';
import { JobStatus } from './job-status.ts';

export const JobStep = StepMetrics.meta({ id: 'JobStep' });
export type JobStep = z.infer<typeof JobStep>;

export const JobSteps = z
  .object({
    id: z.string(),
    status: JobStatus,
    progress: JobProgress.nullable(),
    eta: z.number().describe("the job's threshold on each step's residual, in the clean latent's units"),
    steps: z.array(JobStep).describe('completed timesteps in order (step 1 = least noisy); residual null where it was not finite'),
  })
  .meta({ id: 'JobSteps' });
export type JobSteps = z.infer<typeof JobSteps>;
