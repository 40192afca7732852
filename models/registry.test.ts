import { describe, expect, it } from 'vitest';
import { getModel, modelRegistry } from './registry.ts';

describe('modelRegistry', () => {
  it("lists every model of the paper's table plus the bundled tiny model", () => {
    expect(modelRegistry.map((m) => m.id)).toEqual([
      'sd14',
      'sd15',
      'sd21',
      'sdxl',
      'lcm-sd15',
      'lcm-sdxl',
      'sdxl-turbo',
      'sd3',
      'tiny',
    ]);
  });

  it('describes SD 2.1 as v-prediction at 768', () => {
    const sd21 = getModel('sd21');
    expect(sd21.denoiser.predictionType).toBe('v_prediction');
    expect(sd21.resolution.default).toBe(768);
  });

  it('describes SD3 as a flow transformer under flow-matching Euler with shift 3', () => {
    const sd3 = getModel('sd3');
    expect(sd3.denoiser).toMatchObject({ component: 'transformer', predictionType: 'flow' });
    expect(sd3.scheduler).toEqual({ kind: 'flow-euler', overrides: { shift: 3 } });
    expect(sd3.vae).toMatchObject({ scalingFactor: 1.5305, shiftFactor: 0.0609, latentChannels: 16 });
  });

  it('gives SDXL-based UNets their extra conditioning and LCM its timestep_cond', () => {
    for (const id of ['sdxl', 'lcm-sdxl', 'sdxl-turbo']) {
      expect(getModel(id).denoiser.extraInputs).toEqual(expect.arrayContaining(['text_embeds', 'time_ids']));
    }
    for (const id of ['lcm-sd15', 'lcm-sdxl']) expect(getModel(id).denoiser.extraInputs).toContain('timestep_cond');
  });

  it('runs the tiny model from its bundled folder on a CPU fleet', () => {
    const tiny = getModel('tiny');
    expect(tiny.artifacts.localDir).toBe('models/tiny');
    expect(tiny.vae.identity).toBe(true);
    expect(tiny.fleet).toMatchObject({ gpuCount: 0, gpuMemoryGiB: 0 });
  });

  it('gives every other model one GPU', () => {
    for (const model of modelRegistry.filter((m) => m.id !== 'tiny')) expect(model.fleet.gpuCount).toBe(1);
  });

  it('names the known models when an id is unknown', () => {
    expect(() => getModel('sd9')).toThrow(/Unknown model "sd9"\. Known models: sd14, sd15, .*, tiny\./);
  });
});
