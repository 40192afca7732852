import { describe, expect, it } from 'vitest';
import { getModel, modelRegistry } from '../../models/registry.ts';
import { instanceFor } from './instance-catalog.ts';

describe('instanceFor', () => {
  it('fits one task of every registry model on its instance type', () => {
    for (const model of modelRegistry) expect(() => instanceFor(model), model.id).not.toThrow();
  });

  it('says which catalog to extend for an unknown instance type', () => {
    const model = getModel('sd15');
    expect(() => instanceFor({ ...model, fleet: { ...model.fleet, instanceType: 'p5.48xlarge' } })).toThrow(
      /Model "sd15": fleet.instanceType p5.48xlarge is not in cdk\/lib\/instance-catalog.ts \(known: .*g5.xlarge.*\)/,
    );
  });

  it('rejects a task that needs more than the instance has', () => {
    const model = getModel('sd15');
    const tooBig = (fleet: Partial<typeof model.fleet>) => () => instanceFor({ ...model, fleet: { ...model.fleet, ...fleet } });
    expect(tooBig({ memoryMiB: 16384 })).toThrow('leaves about 14745 MiB to tasks, fleet.memoryMiB asks for 16384');
    expect(tooBig({ gpuMemoryGiB: 40 })).toThrow('has 24 GiB per GPU, fleet.gpuMemoryGiB needs 40');
    expect(tooBig({ gpuCount: 2 })).toThrow('has 1 GPU(s), fleet.gpuCount asks for 2');
    expect(tooBig({ cpu: 8192 })).toThrow('has 4096 CPU units, fleet.cpu asks for 8192');
  });
});
