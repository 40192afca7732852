import { describe, expect, it } from 'vitest';
import { ModelRegistryError, parseModelRegistry, type ModelManifest } from './model-manifest.ts';

function manifest(overrides: Partial<ModelManifest> = {}): ModelManifest {
  return {
    id: 'sample',
    displayName: 'Sample',
    family: 'sd1',
    artifacts: { prefix: 'models/sample/' },
    denoiser: { component: 'unet', predictionType: 'epsilon', extraInputs: [] },
    scheduler: { kind: 'ddim', overrides: { timestep_spacing: 'trailing' } },
    vae: { scalingFactor: 0.18215, shiftFactor: 0, latentChannels: 4 },
    resolution: { default: 512, multipleOf: 64, maxPixels: 512 * 512 },
    precision: 'fp16',
    inversionDefaults: { method: 'preciseinv', steps: 4, eta: 1e-2, maxIters: 20, guidance: 1 },
    fleet: {
      instanceType: 'g5.xlarge',
      gpuCount: 1,
      memoryMiB: 12288,
      cpu: 4096,
      maxTasks: 2,
      spot: true,
      gpuMemoryGiB: 12,
      jobTimeoutSeconds: 900,
    },
    ...overrides,
  };
}

function errorOf(input: unknown): string {
  try {
    parseModelRegistry(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelRegistryError);
    return (error as Error).message;
  }
  throw new Error('expected the registry to be rejected');
}

describe('parseModelRegistry', () => {
  it('accepts a valid registry and keeps scheduler overrides', () => {
    const [parsed] = parseModelRegistry([manifest()]);
    expect(parsed?.scheduler.overrides).toEqual({ timestep_spacing: 'trailing' });
  });

  it('names the model id and the field of each problem', () => {
    const bad = manifest({ id: 'broken', artifacts: { prefix: 'models/broken/' } });
    const message = errorOf([manifest(), { ...bad, fleet: { ...bad.fleet, gpuCount: -1 } }]);
    expect(message).toContain('model "broken" (entry 1) fleet.gpuCount');
  });

  it('rejects duplicate ids', () => {
    expect(errorOf([manifest(), manifest()])).toContain('model "sample" (entry 1) id: duplicate id, also used by entry 0');
  });

  it('rejects an empty registry', () => {
    expect(errorOf([])).toContain('registry:');
  });

  it('requires the artifact prefix to be models/{id}/', () => {
    expect(errorOf([manifest({ artifacts: { prefix: 'models/other/' } })])).toContain(
      'artifacts.prefix: expected "models/sample/"',
    );
  });

  it('rejects ids that cannot name a prefix, queue or service', () => {
    expect(errorOf([manifest({ id: 'SD_15' })])).toContain('(entry 0) id: use lowercase letters');
  });

  it('pairs flow prediction with the flow-euler scheduler', () => {
    const flowOnDdim = manifest({ denoiser: { component: 'transformer', predictionType: 'flow', extraInputs: [] } });
    expect(errorOf([flowOnDdim])).toContain('scheduler.kind: flow prediction goes with the flow-euler scheduler');
  });

  it('requires fp32 on a CPU fleet and no GPU memory without a GPU', () => {
    const cpu = manifest();
    const message = errorOf([{ ...cpu, fleet: { ...cpu.fleet, gpuCount: 0 } }]);
    expect(message).toContain('fleet.gpuMemoryGiB: gpuMemoryGiB must be 0 exactly when gpuCount is 0');
    expect(message).toContain('precision: a CPU fleet (gpuCount 0) needs fp32');
  });

  it('checks the resolution rule', () => {
    const message = errorOf([manifest({ resolution: { default: 500, multipleOf: 64, maxPixels: 100 } })]);
    expect(message).toContain('resolution.default: default must be a multiple of multipleOf');
    expect(message).toContain('resolution.maxPixels: default * default exceeds maxPixels');
  });

  it('requires unit factors for an identity VAE', () => {
    const vae = { scalingFactor: 0.5, shiftFactor: 0, latentChannels: 3, identity: true };
    expect(errorOf([manifest({ vae })])).toContain('vae.identity: an identity VAE needs scalingFactor 1');
  });

  it('rejects an extra input listed twice', () => {
    const denoiser = { component: 'unet', predictionType: 'epsilon', extraInputs: ['time_ids', 'time_ids'] } as const;
    expect(errorOf([manifest({ denoiser: { ...denoiser, extraInputs: [...denoiser.extraInputs] } })])).toContain(
      'denoiser.extraInputs: list each input once',
    );
  });
});
