import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { modelRegistry } from '../../models/registry.ts';
import { readDeployConfig } from './deploy-config.ts';

const configFrom = (context: Record<string, unknown>) => readDeployConfig(new App({ context }).node, modelRegistry);

describe('readDeployConfig', () => {
  it('deploys every model, environment-agnostic and uncapped, by default', () => {
    expect(configFrom({})).toEqual({
      region: undefined,
      models: modelRegistry,
      maxTasksPerModel: undefined,
      alarmEmail: undefined,
    });
  });

  it('reads -c values, which arrive as strings', () => {
    const config = configFrom({ region: 'eu-west-1', models: 'sd15, tiny', maxTasksPerModel: '2', alarmEmail: 'ops@example.com' });
    expect(config.region).toBe('eu-west-1');
    expect(config.models.map((m) => m.id)).toEqual(['sd15', 'tiny']);
    expect(config.maxTasksPerModel).toBe(2);
    expect(config.alarmEmail).toBe('ops@example.com');
  });

  it('reads cdk.json values, which arrive as JSON', () => {
    const config = configFrom({ models: ['sdxl'], maxTasksPerModel: 1 });
    expect(config.models.map((m) => m.id)).toEqual(['sdxl']);
    expect(config.maxTasksPerModel).toBe(1);
  });

  it('names unknown models and lists the known ones', () => {
    expect(() => configFrom({ models: 'sd15,sd9' })).toThrow(
      'Context "models" names unknown model(s) sd9. Known models: sd14, sd15, sd21, sdxl, lcm-sd15, lcm-sdxl, sdxl-turbo, sd3, tiny.',
    );
  });

  it('rejects a task cap that is not a positive whole number', () => {
    expect(() => configFrom({ maxTasksPerModel: '0' })).toThrow('Context "maxTasksPerModel" must be a whole number of at least 1, got "0".');
    expect(() => configFrom({ maxTasksPerModel: 'many' })).toThrow('got "many"');
  });
});
