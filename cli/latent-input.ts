/**
 * What `edit` and `interpolate` read: a latent.safetensors (with, when a render starts from an
 * intermediate step, the trajectory.safetensors beside it or named), and the model it names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readInvertedLatent, type InvertedLatent } from '../shared/editing/inverted-latent.ts';
import { resolveModel, type ResolvedModel } from './resolve-model.ts';
import { UsageError } from './usage-error.ts';

export function readLatentArg(path: string, trajectory?: { path?: string; required: boolean }): InvertedLatent {
  if (!existsSync(path)) throw new UsageError(`no such file: ${path}`);
  const trajectoryPath = trajectory?.path ?? join(dirname(path), 'trajectory.safetensors');
  if (trajectory?.path && !existsSync(trajectory.path)) throw new UsageError(`no such file: ${trajectory.path}`);
  const load = trajectory?.required === true;
  if (load && !existsSync(trajectoryPath)) {
    throw new UsageError(`a render from an intermediate step needs the inversion's trajectory: no ${trajectoryPath} (invert with --trajectory, or name it with --trajectory FILE)`);
  }
  return readInvertedLatent(new Uint8Array(readFileSync(path)), load ? new Uint8Array(readFileSync(trajectoryPath)) : undefined, { latent: path, trajectory: trajectoryPath });
}

/** The model a latent was inverted with (a registry id or a folder path), unless --model names another copy. */
export function latentModel(source: InvertedLatent, override: string | undefined): ResolvedModel {
  try {
    return resolveModel(override ?? source.meta.model);
  } catch (e) {
    if (override || !(e instanceof UsageError)) throw e;
    throw new UsageError(`the latent names model '${source.meta.model}', which is not available here (${e.message}); pass --model <folder> with a copy of it`);
  }
}
