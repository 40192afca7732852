import { z } from 'zod';

// A model id names an S3 prefix, a queue, a log group and an ECS service, so it must be safe in all of them.
export const ModelId = z
  .string()
  .max(32)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'use lowercase letters, digits and single hyphens, e.g. "sdxl-turbo"');
export type ModelId = z.infer<typeof ModelId>;

export const ModelFamily = z.enum(['sd1', 'sd2', 'sdxl', 'lcm', 'sdxl-turbo', 'sd3', 'tiny']);
export type ModelFamily = z.infer<typeof ModelFamily>;

export const DenoiserInput = z.enum(['text_embeds', 'time_ids', 'timestep_cond', 'pooled_projections']);
export type DenoiserInput = z.infer<typeof DenoiserInput>;

export const InversionMethod = z.enum(['preciseinv', 'ddim', 'fixed-point']);
export type InversionMethod = z.infer<typeof InversionMethod>;

const positiveInt = z.number().int().positive();

export const ModelArtifacts = z.object({
  /** S3 key prefix of the Optimum-layout ONNX folder (plus unet/model_vjp.onnx or transformer/model_vjp.onnx). */
  prefix: z.string().regex(/^models\/[a-z0-9-]+\/$/, 'expected "models/{id}/"'),
  /** Folder relative to the repository root, for models that ship with the code. */
  localDir: z.string().min(1).optional(),
});

export const DenoiserSpec = z.object({
  component: z.enum(['unet', 'transformer']),
  predictionType: z.enum(['epsilon', 'v_prediction', 'flow']),
  extraInputs: z.array(DenoiserInput).refine((inputs) => new Set(inputs).size === inputs.length, 'list each input once'),
});

export const SchedulerSpec = z.object({
  kind: z.enum(['ddim', 'ddpm', 'flow-euler']),
  /** scheduler_config.json keys that replace the folder's own values, e.g. { timestep_spacing: 'trailing' }. */
  overrides: z.record(z.string(), z.json()),
});

export const VaeSpec = z
  .object({
    scalingFactor: z.number().positive(),
    shiftFactor: z.number(),
    latentChannels: positiveInt,
    /** Pixel-space models: the "latent" is the image itself. */
    identity: z.boolean().optional(),
  })
  .refine((vae) => !vae.identity || (vae.scalingFactor === 1 && vae.shiftFactor === 0), {
    message: 'an identity VAE needs scalingFactor 1 and shiftFactor 0',
    path: ['identity'],
  });

export const ResolutionRule = z
  .object({
    default: positiveInt,
    multipleOf: positiveInt,
    /** Cap on width * height; the fleet's GPU memory is sized for it. */
    maxPixels: positiveInt,
  })
  .refine((r) => r.default % r.multipleOf === 0, { message: 'default must be a multiple of multipleOf', path: ['default'] })
  .refine((r) => r.default * r.default <= r.maxPixels, { message: 'default * default exceeds maxPixels', path: ['maxPixels'] });

export const InversionDefaults = z.object({
  method: InversionMethod,
  steps: z.number().int().min(1).max(1000),
  /**
   * Stop threshold on each step's mean squared residual, in x_0's units (mean(r^2) /
   * alpha_{i-1}^2), at `steps`; other step counts get `etaForSteps`.
   */
  eta: z.number().positive(),
  maxIters: z.number().int().min(0).max(1000),
  /** Classifier-free guidance weight w in m_u + w (m_c - m_u); 1 means conditional branch only. */
  guidance: z.number().min(0),
});

/**
 * The default threshold when a job asks for T steps instead of the model's own: eta scaled by
 * (steps / T)^2. Each step's residual is carried to the reconstruction, and in the worst case
 * the T errors add up in RMSE, so a per-step RMSE of rho / T keeps the reconstruction within rho
 * at every T: the budget rho = sqrt(eta) * steps stays the model's, its share per step follows T.
 * (With the hybrid descent the well-conditioned steps end far below any share, at float32's
 * floor; the share is what the badly conditioned least noisy steps are held to.)
 */
export function etaForSteps(defaults: Pick<z.infer<typeof InversionDefaults>, 'eta' | 'steps'>, steps: number): number {
  return defaults.eta * (defaults.steps / steps) ** 2;
}


// SQS caps a visibility timeout at 12 hours; the queue adds a margin above the job timeout.
export const MAX_JOB_TIMEOUT_SECONDS = 11 * 3600;

export const FleetSpec = z
  .object({
    instanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'expected an EC2 instance type such as "g5.xlarge"'),
    gpuCount: z.number().int().min(0),
    /** Task hard memory limit (host RAM), MiB. */
    memoryMiB: z.number().int().min(512),
    /** ECS CPU units, 1024 per vCPU. */
    cpu: z.number().int().min(128),
    maxTasks: z.number().int().min(1),
    spot: z.boolean(),
    /** Peak GPU memory one task needs (weights of the forward and gradient graphs plus activations), GiB. */
    gpuMemoryGiB: z.number().min(0),
    /** Longest a single job may run before the worker abandons it. */
    jobTimeoutSeconds: z.number().int().min(60).max(MAX_JOB_TIMEOUT_SECONDS),
  })
  .refine((f) => (f.gpuCount === 0) === (f.gpuMemoryGiB === 0), {
    message: 'gpuMemoryGiB must be 0 exactly when gpuCount is 0',
    path: ['gpuMemoryGiB'],
  });

export const ModelManifest = z
  .object({
    id: ModelId,
    displayName: z.string().min(1),
    family: ModelFamily,
    artifacts: ModelArtifacts,
    denoiser: DenoiserSpec,
    scheduler: SchedulerSpec,
    vae: VaeSpec,
    resolution: ResolutionRule,
    precision: z.enum(['fp32', 'fp16']),
    inversionDefaults: InversionDefaults,
    fleet: FleetSpec,
  })
  .superRefine((m, ctx) => {
    if (m.artifacts.prefix !== `models/${m.id}/`) {
      ctx.addIssue({ code: 'custom', path: ['artifacts', 'prefix'], message: `expected "models/${m.id}/"` });
    }
    if ((m.denoiser.predictionType === 'flow') !== (m.scheduler.kind === 'flow-euler')) {
      ctx.addIssue({
        code: 'custom',
        path: ['scheduler', 'kind'],
        message: 'flow prediction goes with the flow-euler scheduler, and only with it',
      });
    }
    // ONNX Runtime's CPU provider lacks fp16 kernels for much of a UNet.
    if (m.fleet.gpuCount === 0 && m.precision === 'fp16') {
      ctx.addIssue({ code: 'custom', path: ['precision'], message: 'a CPU fleet (gpuCount 0) needs fp32' });
    }
  });
export type ModelManifest = z.infer<typeof ModelManifest>;

export const ModelRegistry = z
  .array(ModelManifest)
  .min(1)
  .superRefine((models, ctx) => {
    const seen = new Map<string, number>();
    models.forEach((m, index) => {
      const first = seen.get(m.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate id, also used by entry ${first}` });
      }
      seen.set(m.id, index);
    });
  });
export type ModelRegistry = z.infer<typeof ModelRegistry>;

export class ModelRegistryError extends Error {
  override name = 'ModelRegistryError';
}

/** Validates a registry; the error names each offending model and field. */
export function parseModelRegistry(input: unknown): ModelRegistry {
  const result = ModelRegistry.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const [index, ...field] = issue.path;
    if (typeof index !== 'number') return `registry: ${issue.message}`;
    const entry: unknown = Array.isArray(input) ? input[index] : undefined;
    const id = entry && typeof entry === 'object' && 'id' in entry && typeof entry.id === 'string' ? entry.id : '?';
    const where = field.length > 0 ? field.map(String).join('.') : '(entry)';
    return `model "${id}" (entry ${index}) ${where}: ${issue.message}`;
  });
  throw new ModelRegistryError(`Invalid model registry:\n- ${lines.join('\n- ')}`);
}
