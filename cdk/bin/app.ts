import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { fileURLToPath } from 'node:url';
import { modelRegistry } from '../../models/registry.ts';
import { readDeployConfig } from '../lib/deploy-config.ts';
import { PreciseInvStack } from '../lib/preciseinv-stack.ts';

const app = new App();
const config = readDeployConfig(app.node, modelRegistry);
new PreciseInvStack(app, 'PreciseInv', {
  // Without a region the stack stays environment-agnostic: synth needs no account and no credentials.
  env: config.region ? { region: config.region } : undefined,
  models: config.models,
  maxTasksPerModel: config.maxTasksPerModel,
  alarmEmail: config.alarmEmail,
  repositoryRoot: fileURLToPath(new URL('../..', import.meta.url)),
  description: 'PreciseInv: diffusion inversion as a service (API, storage, one GPU fleet per model)',
});
// Unacknowledged AwsSolutions findings fail the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
