/**
 * How much memory one inversion task needs, derived from what was measured at real size and
 * scaled to each model, so the registry's fleets are computed rather than guessed.
 *
 * Measured (float32, CPU, 2 threads; replicas with random weights; bench/results/full-scale.md):
 *   - the engine's one denoiser session, forward and gradient runs, peak less weights: SD 1.5
 *     at 512 px 2,138 MiB, SD 2.1 at 768 px 5,686 MiB, SDXL at 512 px 4,502 MiB (its 1024 px
 *     does not fit the measuring machine); `measuredDenoisers` below;
 *   - a whole `preciseinv invert` process, VAE encode and two decodes included: see
 *     WORKER_PEAK_MIB (bench/results/end-to-end.md); past the denoiser's peak and the VAE's
 *     weights, the rest is the VAE's working memory at image resolution.
 *
 * The rule, for a model's precision and its largest accepted image (resolution.maxPixels):
 *   need = weights of every component the worker holds, at the precision's bytes per value
 *        + denoiser working memory per pixel x pixels (the family's own measurement; a family
 *          not measured takes SD 1.5's x (denoiser parameters / SD 1.5's))
 *        + VAE working memory x (pixels / 512^2),
 *   working memory scaled by the precision's bytes / 4; both the GPU memory and the host memory
 *   of a task get 1.3 x need. Why each factor:
 *   - activations grow with the latent's area (convolutions, norms and the head-grouped
 *     attention, whose probabilities per group are capped at the native size) and with the
 *     denoiser's width times depth, which its parameter count tracks;
 *   - the host holds the same: every weight passes through host memory while a session opens,
 *     and whatever the GPU provider does not place runs on the CPU provider;
 *   - 1.3 is the margin the engine is held to against torch's forward+backward peak.
 * SD 1.5, SD 2.1 and SDXL fp32 are measured (LCM variants take their base model's); SD3 and fp16
 * are extrapolated by this rule (fp16
 * halving is the GPU's case: on a CPU fp16 costs more, bench/results/full-scale.md), which is
 * what a GPU measurement per family should replace.
 */
import type { ModelManifest } from '../shared/contracts/model-manifest.ts';

/** Published parameter counts of what a worker holds for each denoiser architecture. */
interface Architecture {
  denoiser: number;
  vae: number;
  textEncoders: readonly number[];
}

// Denoisers and VAEs: the modules tools/replicas builds at the published diffusers configs
// (counted there; SD 1.5's, SDXL's and SD3's equal the published totals). Text encoders: the
// published CLIP ViT-L/14 (123.1M; 123.7M with SD3's projection), OpenCLIP ViT-H (340.4M),
// OpenCLIP ViT-bigG with projection (694.7M) and T5-XXL's encoder (4,762M).
const CLIP_L = 123_060_480;
const architectures = {
  sd1: { denoiser: 859_520_964, vae: 83_653_863, textEncoders: [CLIP_L] },
  'lcm-sd1': { denoiser: 859_602_884, vae: 83_653_863, textEncoders: [CLIP_L] },
  sd2: { denoiser: 865_910_724, vae: 83_653_863, textEncoders: [340_387_840] },
  sdxl: { denoiser: 2_567_463_684, vae: 83_653_863, textEncoders: [CLIP_L, 694_659_840] },
  // SDXL's UNet plus LCM's guidance projection (256 x 320 weights), as for SD 1.5.
  'lcm-sdxl': { denoiser: 2_567_545_604, vae: 83_653_863, textEncoders: [CLIP_L, 694_659_840] },
  sd3: { denoiser: 2_028_328_000, vae: 83_819_683, textEncoders: [123_650_304, 694_659_840, 4_762_310_656] },
} as const satisfies Record<string, Architecture>;
export type ArchitectureId = keyof typeof architectures;

const MIB = 2 ** 20;
const GIB = 2 ** 30;
const MEASURED_PIXELS = 512 * 512;

/**
 * The engine session's peak (forward and gradient runs, weights included), float32, CPU, from
 * bench/results/full-scale.md, with the image size it was measured at.
 */
interface DenoiserMeasurement {
  peakMiB: number;
  pixels: number;
}
const measuredDenoisers: Partial<Record<ArchitectureId, DenoiserMeasurement>> = {
  sd1: { peakMiB: 5417, pixels: 512 * 512 },
  sd2: { peakMiB: 8989, pixels: 768 * 768 },
  // Below its native 1024 px: torch's fp32 backward at 1024 px does not fit the 24 GiB machine.
  sdxl: { peakMiB: 14296, pixels: 512 * 512 },
};
// Same UNet plus LCM's small guidance projection: the base model's measurement stands.
const measuredAs: Partial<Record<ArchitectureId, ArchitectureId>> = { 'lcm-sd1': 'sd1', 'lcm-sdxl': 'sdxl' };

/** Working memory (peak less weights) per pixel of the image, float32. */
function measuredWorkingPerPixel(id: ArchitectureId): number | undefined {
  const base = measuredAs[id] ?? id;
  const m = measuredDenoisers[base];
  return m === undefined ? undefined : (m.peakMiB * MIB - architectures[base].denoiser * 4) / m.pixels;
}

const SD1_WORKING_PER_PIXEL = measuredWorkingPerPixel('sd1')!;
/** bench/results/end-to-end.md, sd15 at 512 px: the whole invert process's peak. */
export const WORKER_PEAK_MIB = 7588;
const VAE_WORKING_BYTES = WORKER_PEAK_MIB * MIB - measuredDenoisers.sd1!.peakMiB * MIB - architectures.sd1.vae * 4;
const MARGIN = 1.3;

/**
 * Denoiser working memory per image pixel, float32: measured where the family was, else SD 1.5's
 * scaled by the denoiser's parameters (SD3 today).
 */
export function denoiserWorkingPerPixel(id: ArchitectureId): number {
  return measuredWorkingPerPixel(id) ?? SD1_WORKING_PER_PIXEL * (architectures[id].denoiser / architectures.sd1.denoiser);
}

export interface TaskMemory {
  /** What one task holds at its peak: weights plus working memory, bytes (before the margin). */
  needBytes: number;
  gpuMemoryGiB: number;
  memoryMiB: number;
}

export function taskMemory(architecture: ArchitectureId, precision: ModelManifest['precision'], maxPixels: number): TaskMemory {
  const a: Architecture = architectures[architecture];
  const bytes = precision === 'fp16' ? 2 : 4;
  const parameters = a.denoiser + a.vae + a.textEncoders.reduce((s, n) => s + n, 0);
  const area = maxPixels / MEASURED_PIXELS;
  const working = (denoiserWorkingPerPixel(architecture) * maxPixels + VAE_WORKING_BYTES * area) * (bytes / 4);
  const needBytes = parameters * bytes + working;
  return {
    needBytes,
    gpuMemoryGiB: Math.ceil((MARGIN * needBytes) / GIB),
    // Whole GiB, as ECS task sizes usually are.
    memoryMiB: Math.ceil((MARGIN * needBytes) / GIB) * 1024,
  };
}
