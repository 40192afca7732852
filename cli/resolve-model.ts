/**
 * `--model` takes a registry id (the bundled `tiny` by default) or a model folder path. A folder
 * outside the registry gets defaults derived from its own configs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelManifest } from '../shared/contracts/model-manifest.ts';
import type { ResolutionRule } from '../shared/diffusion/image/prepare-image.ts';
import { getModel, modelRegistry } from '../models/registry.ts';
import { UsageError } from './usage-error.ts';

export interface ResolvedModel {
  id: string;
  dir: string;
  defaults: ModelManifest['inversionDefaults'];
  resolution: ResolutionRule;
}

const REPO_ROOT = resolve(import.meta.dirname, '..');

const FOLDER_DEFAULTS: ModelManifest['inversionDefaults'] = { method: 'preciseinv', steps: 10, eta: 1e-4, maxIters: 20, guidance: 1 };

export function resolveModel(arg: string): ResolvedModel {
  if (existsSync(arg) && statSync(arg).isDirectory()) {
    const dir = resolve(arg);
    const config = ['unet', 'transformer'].map((c) => join(dir, c, 'config.json')).find((f) => existsSync(f));
    const sampleSize = config ? Number((JSON.parse(readFileSync(config, 'utf8')) as { sample_size?: unknown }).sample_size) : NaN;
    const pixelSpace = !existsSync(join(dir, 'vae_decoder'));
    const side = Number.isFinite(sampleSize) && sampleSize > 0 ? sampleSize * (pixelSpace ? 1 : 8) : 64;
    const multipleOf = pixelSpace ? 8 : 64;
    return { id: arg, dir, defaults: FOLDER_DEFAULTS, resolution: { default: side, multipleOf, maxPixels: side * side * 2 } };
  }
  if (!modelRegistry.some((m) => m.id === arg)) {
    throw new UsageError(`--model: '${arg}' is neither a model folder nor a registry id (${modelRegistry.map((m) => m.id).join(', ')})`);
  }
  const manifest = getModel(arg);
  const local = manifest.artifacts.localDir;
  const dir = local ? resolve(REPO_ROOT, local) : undefined;
  if (!dir || !existsSync(dir)) {
    throw new UsageError(`model '${arg}' has no local folder here (its artifacts live under s3 prefix ${manifest.artifacts.prefix}); pass --model <folder> with an Optimum-layout copy`);
  }
  return { id: arg, dir, defaults: manifest.inversionDefaults, resolution: manifest.resolution };
}
