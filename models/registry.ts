import { parseModelRegistry, type ModelManifest } from '../shared/contracts/model-manifest.ts';
import { taskMemory, type ArchitectureId } from './fleet-sizing.ts';

// Fleets, per GPU instance (one task per instance, so a task gets the whole GPU). Each GPU fleet's
// GPU and host memory are computed from the measured rule in fleet-sizing.ts for the model's
// precision and largest image; the instance type is chosen to hold them (cdk/lib/instance-catalog.ts
// checks it at synth):
//   g5.xlarge   A10G 24 GB,  4 vCPU, 16 GiB  - SD 1.x and LCM-SD1.5 in fp16 at up to 512 x 768.
//   g5.2xlarge  A10G 24 GB,  8 vCPU, 32 GiB  - SDXL-Turbo at up to 512 x 768: its weights need more host memory than 16 GiB leaves.
//   g6e.xlarge  L40S 48 GB,  4 vCPU, 32 GiB  - SD 2.1 in fp32 at up to 768 x 1024.
//   g6e.2xlarge L40S 48 GB,  8 vCPU, 64 GiB  - SDXL and LCM-SDXL at 1024 px in fp16 (30 GiB of host memory by the rule,
//                                             more than a g6e.xlarge leaves to tasks), SD3 Medium (T5-XXL alone is 9.5 GB in fp16).
// Spot on g5 only: its Spot pools are deep and a job resumes from its last timestep checkpoint; g6e Spot is scarce.

type Fleet = ModelManifest['fleet'];
/** A GPU fleet before sizing: its memory comes from the rule, for the architecture it names. */
type GpuFleet = Omit<Fleet, 'memoryMiB' | 'gpuMemoryGiB'> & { sizedBy: ArchitectureId };
type ManifestDraft = Omit<ModelManifest, 'fleet'> & { fleet: Fleet | GpuFleet };
type InversionDefaults = ModelManifest['inversionDefaults'];

const sd1Unet: ModelManifest['denoiser'] = { component: 'unet', predictionType: 'epsilon', extraInputs: [] };
const sd1Vae: ModelManifest['vae'] = { scalingFactor: 0.18215, shiftFactor: 0, latentChannels: 4 };
const sdxlVae: ModelManifest['vae'] = { scalingFactor: 0.13025, shiftFactor: 0, latentChannels: 4 };

// Diffusers' default sampling steps per pipeline; few-step models use their native 4.
// eta, in x_0 units (the VAE latent scaled to about unit variance), comes from one
// reconstruction budget rho = 0.02 for every latent family, shared over the T steps by
// etaForSteps: (rho / T)^2 = 1.6e-7 at T=50 and 2.5e-5 at T=4. rho is 2% of the latent's
// standard deviation (34 dB latent SNR), below what the VAE itself loses (its ceiling, 25-31 dB
// in pixels for these families), so the inversion is not what limits the reconstruction. The
// paper's eta 1e-2 read in these units is a 10% per-step error (20 dB) and is not used. It
// cannot be tuned on real weights here (no weights can be run offline); the tiny model's curve
// (bench/results/inversion-quality.md) is what the rule was checked on. Few-step models get more
// iterations: their least noisy step spans a quarter of the schedule and is badly conditioned.
const fullStepDefaults: InversionDefaults = { method: 'preciseinv', steps: 50, eta: 1.6e-7, maxIters: 20, guidance: 1 };
const fewStepDefaults: InversionDefaults = { method: 'preciseinv', steps: 4, eta: 2.5e-5, maxIters: 50, guidance: 1 };

const g5Fleet = {
  instanceType: 'g5.xlarge',
  gpuCount: 1,
  cpu: 4096,
  maxTasks: 4,
  spot: true,
  jobTimeoutSeconds: 1800,
} as const;

const g6eFleet = {
  instanceType: 'g6e.xlarge',
  gpuCount: 1,
  cpu: 4096,
  maxTasks: 2,
  spot: false,
  jobTimeoutSeconds: 3600,
} as const;

// UNets downsample the latent three times, so 8 (VAE) * 8 keeps every level's shape whole.
const unetResolution = (size: number, maxPixels: number): ModelManifest['resolution'] => ({ default: size, multipleOf: 64, maxPixels });

const manifests: ManifestDraft[] = [
  {
    id: 'sd14',
    displayName: 'Stable Diffusion 1.4',
    family: 'sd1',
    artifacts: { prefix: 'models/sd14/' },
    denoiser: sd1Unet,
    scheduler: { kind: 'ddim', overrides: {} },
    vae: sd1Vae,
    resolution: unetResolution(512, 512 * 768),
    precision: 'fp16',
    inversionDefaults: fullStepDefaults,
    fleet: { ...g5Fleet, sizedBy: 'sd1' },
  },
  {
    id: 'sd15',
    displayName: 'Stable Diffusion 1.5',
    family: 'sd1',
    artifacts: { prefix: 'models/sd15/' },
    denoiser: sd1Unet,
    scheduler: { kind: 'ddim', overrides: {} },
    vae: sd1Vae,
    resolution: unetResolution(512, 512 * 768),
    precision: 'fp16',
    inversionDefaults: fullStepDefaults,
    fleet: { ...g5Fleet, sizedBy: 'sd1' },
  },
  {
    id: 'sd21',
    displayName: 'Stable Diffusion 2.1 (768, v-prediction)',
    family: 'sd2',
    artifacts: { prefix: 'models/sd21/' },
    denoiser: { component: 'unet', predictionType: 'v_prediction', extraInputs: [] },
    scheduler: { kind: 'ddim', overrides: {} },
    vae: sd1Vae,
    resolution: unetResolution(768, 768 * 1024),
    // SD 2.1 relies on upcast attention; fp16 ONNX exports of it overflow to NaN.
    precision: 'fp32',
    inversionDefaults: fullStepDefaults,
    fleet: { ...g6eFleet, sizedBy: 'sd2' },
  },
  {
    id: 'sdxl',
    displayName: 'Stable Diffusion XL 1.0',
    family: 'sdxl',
    artifacts: { prefix: 'models/sdxl/' },
    denoiser: { component: 'unet', predictionType: 'epsilon', extraInputs: ['text_embeds', 'time_ids'] },
    scheduler: { kind: 'ddim', overrides: {} },
    vae: sdxlVae,
    resolution: unetResolution(1024, 1024 * 1024),
    precision: 'fp16',
    inversionDefaults: fullStepDefaults,
    fleet: { ...g6eFleet, sizedBy: 'sdxl', instanceType: 'g6e.2xlarge' },
  },
  {
    id: 'lcm-sd15',
    displayName: 'LCM (Stable Diffusion 1.5)',
    family: 'lcm',
    artifacts: { prefix: 'models/lcm-sd15/' },
    denoiser: { component: 'unet', predictionType: 'epsilon', extraInputs: ['timestep_cond'] },
    // Distilled few-step models are trained from t = 999; "leading" spacing at 4 steps would start at 751.
    scheduler: { kind: 'ddim', overrides: { timestep_spacing: 'trailing' } },
    vae: sd1Vae,
    resolution: unetResolution(512, 512 * 768),
    precision: 'fp16',
    // LCM has no CFG batch: w is distilled into the UNet and enters through timestep_cond.
    inversionDefaults: { ...fewStepDefaults, guidance: 8.5 },
    fleet: { ...g5Fleet, sizedBy: 'lcm-sd1', jobTimeoutSeconds: 600 },
  },
  {
    id: 'lcm-sdxl',
    displayName: 'LCM (Stable Diffusion XL)',
    family: 'lcm',
    artifacts: { prefix: 'models/lcm-sdxl/' },
    denoiser: { component: 'unet', predictionType: 'epsilon', extraInputs: ['text_embeds', 'time_ids', 'timestep_cond'] },
    scheduler: { kind: 'ddim', overrides: { timestep_spacing: 'trailing' } },
    vae: sdxlVae,
    resolution: unetResolution(1024, 1024 * 1024),
    precision: 'fp16',
    inversionDefaults: { ...fewStepDefaults, guidance: 8.5 },
    fleet: { ...g6eFleet, sizedBy: 'lcm-sdxl', instanceType: 'g6e.2xlarge', jobTimeoutSeconds: 900 },
  },
  {
    id: 'sdxl-turbo',
    displayName: 'SDXL-Turbo',
    family: 'sdxl-turbo',
    artifacts: { prefix: 'models/sdxl-turbo/' },
    denoiser: { component: 'unet', predictionType: 'epsilon', extraInputs: ['text_embeds', 'time_ids'] },
    // Its native sampler is ancestral (stochastic); DDPM with recorded noise reproduces that exactly.
    scheduler: { kind: 'ddpm', overrides: { timestep_spacing: 'trailing' } },
    vae: sdxlVae,
    resolution: unetResolution(512, 512 * 768),
    precision: 'fp16',
    inversionDefaults: fewStepDefaults,
    fleet: { ...g5Fleet, sizedBy: 'sdxl', instanceType: 'g5.2xlarge', cpu: 8192, jobTimeoutSeconds: 900 },
  },
  {
    id: 'sd3',
    displayName: 'Stable Diffusion 3 Medium',
    family: 'sd3',
    artifacts: { prefix: 'models/sd3/' },
    denoiser: { component: 'transformer', predictionType: 'flow', extraInputs: ['pooled_projections'] },
    scheduler: { kind: 'flow-euler', overrides: { shift: 3.0 } },
    vae: { scalingFactor: 1.5305, shiftFactor: 0.0609, latentChannels: 16 },
    // VAE factor 8 times the transformer's 2x2 patches.
    resolution: { default: 1024, multipleOf: 16, maxPixels: 1024 * 1024 },
    precision: 'fp16',
    inversionDefaults: { ...fullStepDefaults, steps: 28 },
    fleet: { ...g6eFleet, sizedBy: 'sd3', instanceType: 'g6e.2xlarge', cpu: 8192 },
  },
  {
    id: 'tiny',
    displayName: 'Tiny pixel-space model (bundled, CPU)',
    family: 'tiny',
    artifacts: { prefix: 'models/tiny/', localDir: 'models/tiny' },
    denoiser: { component: 'unet', predictionType: 'epsilon', extraInputs: [] },
    scheduler: { kind: 'ddim', overrides: {} },
    vae: { scalingFactor: 1, shiftFactor: 0, latentChannels: 3, identity: true },
    resolution: { default: 64, multipleOf: 8, maxPixels: 128 * 128 },
    precision: 'fp32',
    // eta is in x_0 units (pixels in [-1, 1] here): 4e-5 at T=10 is a reconstruction budget of
    // rho = sqrt(4e-5) * 10 = 0.063, i.e. 1e-3 (36 dB) at T=2 and 2.5e-4 (42 dB) at T=4 by
    // etaForSteps. Only the least noisy step is held to it (the hybrid takes the others to
    // float32's floor), and that step is badly conditioned: at T=2 it takes ~200 iterations.
    inversionDefaults: { method: 'preciseinv', steps: 10, eta: 4e-5, maxIters: 200, guidance: 1 },
    // A CPU box is enough for a model this small and makes a cloud deployment's smoke test cost cents.
    fleet: {
      instanceType: 'c7i.large',
      gpuCount: 0,
      memoryMiB: 2048,
      cpu: 2048,
      maxTasks: 2,
      spot: true,
      gpuMemoryGiB: 0,
      jobTimeoutSeconds: 600,
    },
  },
];

function sized(draft: ManifestDraft): ModelManifest {
  if (!('sizedBy' in draft.fleet)) return { ...draft, fleet: draft.fleet };
  const { sizedBy, ...fleet } = draft.fleet;
  const { gpuMemoryGiB, memoryMiB } = taskMemory(sizedBy, draft.precision, draft.resolution.maxPixels);
  return { ...draft, fleet: { ...fleet, gpuMemoryGiB, memoryMiB } };
}

export const modelRegistry = parseModelRegistry(manifests.map(sized));

export function getModel(id: string): ModelManifest {
  const model = modelRegistry.find((m) => m.id === id);
  if (!model) {
    throw new Error(`Unknown model "${id}". Known models: ${modelRegistry.map((m) => m.id).join(', ')}.`);
  }
  return model;
}
