/**
 * An Optimum/diffusers-layout ONNX model folder: model_index.json names the components, each
 * ONNX component lives in its own folder as model.onnx (weights embedded or external), and
 * scheduler/scheduler_config.json holds the sampler defaults.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

/** diffusers writes each component as [library, class]; null entries mark absent ones. */
const ComponentEntry = z.union([z.tuple([z.string().nullable(), z.string().nullable()]), z.null()]);

export const ModelIndex = z
  .object({
    _class_name: z.string(),
    _diffusers_version: z.string().optional(),
  })
  .catchall(z.union([ComponentEntry, z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())]));
export type ModelIndex = z.infer<typeof ModelIndex>;

export const ONNX_COMPONENTS = [
  'unet',
  'transformer',
  'text_encoder',
  'text_encoder_2',
  'text_encoder_3',
  'vae_encoder',
  'vae_decoder',
] as const;
export type OnnxComponent = (typeof ONNX_COMPONENTS)[number];

export interface DenoiserSpec {
  component: 'unet' | 'transformer';
  /** The latent input the gradient is taken with respect to. */
  wrt: string;
  /** The denoiser's output. */
  of: string;
  path: string;
  vjpPath: string;
  /** Latent pixels per side at the model's native resolution (config.json `sample_size`), if stated. */
  sampleSize?: number;
}

export interface ModelFolder {
  dir: string;
  index: ModelIndex;
  /** ONNX components present on disk, with their model.onnx paths. */
  components: Partial<Record<OnnxComponent, string>>;
  denoiser: DenoiserSpec;
}

function readJson(file: string, what: string): unknown {
  if (!existsSync(file)) throw new ModelFolderError(`${what} is missing: expected ${file}`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelFolderError(`${what} (${file}) is not valid JSON: ${(e as Error).message}`);
  }
}

/** Validates the folder's layout and finds its components; reads no weights. */
export function openModelFolder(dirArg: string): ModelFolder {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelFolderError(`model folder ${dirArg} does not exist or is not a folder`);
  const parsed = ModelIndex.safeParse(readJson(join(dir, 'model_index.json'), 'model_index.json'));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelFolderError(`${join(dir, 'model_index.json')} is not a diffusers model index: ${issues}`);
  }
  const index = parsed.data;
  const components: Partial<Record<OnnxComponent, string>> = {};
  const missing: string[] = [];
  for (const name of ONNX_COMPONENTS) {
    const entry = index[name];
    const declared = Array.isArray(entry) && entry[0] !== null;
    const file = join(dir, name, 'model.onnx');
    if (existsSync(file)) components[name] = file;
    else if (declared) missing.push(`${name}/model.onnx`);
  }
  // diffusers indexes name the autoencoder `vae`; its ONNX export splits it in two folders. A
  // folder that declares one but ships neither must not pass for a pixel-space model.
  const vae = index['vae'];
  if (Array.isArray(vae) && vae[0] !== null && !components.vae_encoder && !components.vae_decoder) {
    missing.push('vae_encoder/model.onnx', 'vae_decoder/model.onnx');
  }
  if (missing.length > 0) throw new ModelFolderError(`model folder ${dirArg} declares components that are missing on disk: ${missing.join(', ')}`);
  readJson(join(dir, 'scheduler', 'scheduler_config.json'), 'scheduler/scheduler_config.json');
  const denoiser = components.unet
    ? denoiserSpec('unet', 'sample', 'out_sample', components.unet)
    : components.transformer
      ? denoiserSpec('transformer', 'hidden_states', 'out_hidden_states', components.transformer)
      : undefined;
  if (!denoiser) throw new ModelFolderError(`model folder ${dirArg} has no denoiser: expected unet/model.onnx or transformer/model.onnx`);
  return { dir, index, components, denoiser };
}

/** The part of a denoiser's diffusers config.json this engine reads. */
const DenoiserConfig = z.object({ sample_size: z.number().int().positive().optional() });

function denoiserSpec(component: 'unet' | 'transformer', wrt: string, of: string, path: string): DenoiserSpec {
  const spec: DenoiserSpec = { component, wrt, of, path, vjpPath: join(path, '..', 'model_vjp.onnx') };
  const configPath = join(path, '..', 'config.json');
  if (!existsSync(configPath)) return spec;
  const parsed = DenoiserConfig.safeParse(readJson(configPath, `${component}/config.json`));
  if (!parsed.success) {
    throw new ModelFolderError(`${component}/config.json (${configPath}): ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data.sample_size === undefined ? spec : { ...spec, sampleSize: parsed.data.sample_size };
}
