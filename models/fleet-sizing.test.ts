import { describe, expect, it } from 'vitest';
import { denoiserWorkingPerPixel, taskMemory, WORKER_PEAK_MIB } from './fleet-sizing.ts';
import { modelRegistry } from './registry.ts';

const MIB = 2 ** 20;
// The replica's text encoder is small; the rule counts the real CLIP ViT-L/14 (123,060,480 values).
const CLIP_L_FP32 = 123_060_480 * 4;

describe('taskMemory', () => {
  it('gives back the measured worker peak at the measured point (SD 1.5, fp32, 512 px), plus the real text encoder', () => {
    const { needBytes } = taskMemory('sd1', 'fp32', 512 * 512);
    expect(needBytes - CLIP_L_FP32).toBeCloseTo(WORKER_PEAK_MIB * MIB, -3);
  });

  it('grows the working memory with the image area and the denoiser, not the weights', () => {
    const small = taskMemory('sd1', 'fp32', 512 * 512).needBytes;
    const twice = taskMemory('sd1', 'fp32', 2 * 512 * 512).needBytes;
    const twiceAgain = taskMemory('sd1', 'fp32', 3 * 512 * 512).needBytes;
    // Linear in the area: equal increments per 512^2, and the weights make the intercept.
    expect(twiceAgain - twice).toBeCloseTo(twice - small, -3);
    expect(2 * small - twice).toBeGreaterThan(1e9 * 4 * 0.9); // about 1.07B float32 weights
  });

  it("takes a measured family's own working memory, and scales SD 1.5's by parameters for one not measured", () => {
    // bench/results/full-scale.md: SDXL's session peak less its weights at 512 px is 4,502 MiB
    // against SD 1.5's 2,138: 2.1x, where its 3x parameters alone would say 3x.
    const sdxl = denoiserWorkingPerPixel('sdxl') / denoiserWorkingPerPixel('sd1');
    expect(sdxl).toBeCloseTo(4502 / 2138, 2);
    expect(denoiserWorkingPerPixel('lcm-sdxl')).toBe(denoiserWorkingPerPixel('sdxl'));
    // SD 2.1 at 768 px: 5,686 MiB over 2.25x SD 1.5's area.
    expect(denoiserWorkingPerPixel('sd2') / denoiserWorkingPerPixel('sd1')).toBeCloseTo(5686 / 2138 / 2.25, 2);
    expect(denoiserWorkingPerPixel('sd3') / denoiserWorkingPerPixel('sd1')).toBeCloseTo(2_028_328_000 / 859_520_964, 6);
  });

  it('halves everything for fp16 and keeps a 1.3 margin, in whole GiB', () => {
    const fp32 = taskMemory('sd3', 'fp32', 1024 * 1024);
    const fp16 = taskMemory('sd3', 'fp16', 1024 * 1024);
    expect(fp16.needBytes * 2).toBeCloseTo(fp32.needBytes, -3);
    expect(fp16.gpuMemoryGiB).toBe(Math.ceil((1.3 * fp16.needBytes) / 2 ** 30));
    expect(fp16.memoryMiB).toBe(fp16.gpuMemoryGiB * 1024);
    // T5-XXL alone is 9.5 GB in fp16: the rule cannot come in under the weights.
    expect(fp16.needBytes).toBeGreaterThan(7.69e9 * 2);
  });
});

describe('the registry', () => {
  it("sizes every GPU fleet by the rule, for the model's precision and largest image", () => {
    const sizedBy: Record<string, Parameters<typeof taskMemory>[0]> = {
      sd14: 'sd1', sd15: 'sd1', 'lcm-sd15': 'lcm-sd1', sd21: 'sd2', sdxl: 'sdxl', 'lcm-sdxl': 'lcm-sdxl', 'sdxl-turbo': 'sdxl', sd3: 'sd3',
    };
    for (const model of modelRegistry.filter((m) => m.fleet.gpuCount > 0)) {
      const architecture = sizedBy[model.id];
      expect(architecture, `${model.id} has an architecture in this test`).toBeDefined();
      const rule = taskMemory(architecture!, model.precision, model.resolution.maxPixels);
      expect({ id: model.id, gpu: model.fleet.gpuMemoryGiB, host: model.fleet.memoryMiB }).toEqual({ id: model.id, gpu: rule.gpuMemoryGiB, host: rule.memoryMiB });
    }
  });
});
