import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelRegistry } from '../shared/contracts/model-manifest.ts';
import { PreciseInvStack } from '../cdk/lib/preciseinv-stack.ts';

export const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

// The feature flags `cdk synth` runs with, so the tests check what gets deployed.
const cdkJsonContext = JSON.parse(readFileSync(join(repositoryRoot, 'cdk.json'), 'utf8')).context as Record<string, unknown>;

export interface Synthesized {
  stack: PreciseInvStack;
  template: Template;
  assembly: CloudAssembly;
}

export interface SynthesizeOptions {
  maxTasksPerModel?: number;
  /** Skip esbuild and the built-in CloudFormation validation, for tests that only inspect resources. */
  quick?: boolean;
}

export function synthesize(models: ModelRegistry, options: SynthesizeOptions = {}): Synthesized {
  const context = { ...cdkJsonContext, ...(options.quick ? { 'aws:cdk:bundling-stacks': [] } : {}) };
  const app = new App({
    context,
    outdir: mkdtempSync(join(tmpdir(), 'preciseinv-cdk-')),
    builtinCloudFormationValidation: !options.quick,
  });
  const stack = new PreciseInvStack(app, 'PreciseInv', {
    models,
    maxTasksPerModel: options.maxTasksPerModel,
    repositoryRoot,
  });
  const assembly = app.synth();
  return { stack, template: Template.fromStack(stack), assembly };
}

export type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown }>;

export function resourcesOf(template: Template): Resources {
  return template.toJSON().Resources as Resources;
}
