import type { Node } from 'constructs';
import type { ModelRegistry } from '../../shared/contracts/model-manifest.ts';

export interface DeployConfig {
  region?: string;
  models: ModelRegistry;
  maxTasksPerModel?: number;
  alarmEmail?: string;
}

/**
 * Reads `cdk -c` context: region, models (comma-separated ids; default all), maxTasksPerModel, alarmEmail.
 * Context values from the command line arrive as strings, from cdk.json as JSON values.
 */
export function readDeployConfig(node: Node, registry: ModelRegistry): DeployConfig {
  const text = (key: string): string | undefined => {
    const value: unknown = node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'string' || typeof value === 'number') return String(value).trim();
    if (Array.isArray(value)) return value.map(String).join(',');
    throw new Error(`Context "${key}" must be a string, got ${JSON.stringify(value)}.`);
  };

  const requestedIds = text('models')?.split(',').map((id) => id.trim()).filter(Boolean);
  const unknown = requestedIds?.filter((id) => !registry.some((m) => m.id === id)) ?? [];
  if (unknown.length > 0) {
    const known = registry.map((m) => m.id).join(', ');
    throw new Error(`Context "models" names unknown model(s) ${unknown.join(', ')}. Known models: ${known}.`);
  }
  const models = requestedIds ? registry.filter((m) => requestedIds.includes(m.id)) : registry;
  if (models.length === 0) throw new Error('Context "models" selects no model; leave it out to deploy all.');

  const maxTasksText = text('maxTasksPerModel');
  const maxTasksPerModel = maxTasksText === undefined ? undefined : Number(maxTasksText);
  if (maxTasksPerModel !== undefined && !(Number.isInteger(maxTasksPerModel) && maxTasksPerModel >= 1)) {
    throw new Error(`Context "maxTasksPerModel" must be a whole number of at least 1, got "${maxTasksText}".`);
  }

  return { region: text('region'), models, maxTasksPerModel, alarmEmail: text('alarmEmail') };
}
