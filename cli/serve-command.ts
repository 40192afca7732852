/**
 * `preciseinv serve`: the API and a worker in one process on this machine (filesystem bucket,
 * in-process queues, locally signed upload URLs), inverting with the engine on CPU or GPU.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { modelRegistry } from '../models/registry.ts';
import { startServer } from '../functions/api/server.ts';
import { EngineRunner } from '../functions/worker/engine-runner.ts';
import { jsonLogger } from '../functions/worker/worker-logger.ts';
import type { ResolutionRule } from '../shared/diffusion/image/prepare-image.ts';
import { resolveModel } from './resolve-model.ts';
import { UsageError } from './usage-error.ts';

const DEFAULT_MODEL = 'tiny';

/** `--model` as registry id -> folder: `id`, `folder` (served as the default model), or `id=folder`. */
function modelDir(arg: string): { id: string; dir: string; resolution?: ResolutionRule } {
  const [id, folder] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : existsSync(arg) ? [DEFAULT_MODEL, arg] : [arg, undefined];
  const manifest = modelRegistry.find((m) => m.id === id);
  if (!manifest) throw new UsageError(`--model: '${id}' is not a registry id (${modelRegistry.map((m) => m.id).join(', ')}) nor a model folder`);
  const dir = folder ? resolve(folder) : manifest.artifacts.localDir ? resolve(import.meta.dirname, '..', manifest.artifacts.localDir) : undefined;
  if (!dir || !existsSync(dir) || !statSync(dir).isDirectory()) {
    const missing = dir ?? `(no local folder; artifacts under ${manifest.artifacts.prefix})`;
    throw new UsageError(`--model: model '${id}' has no folder at ${missing}; pass --model <folder> or --model ${id}=<folder>`);
  }
  // A folder given explicitly may have another shape than the registry entry it stands in for.
  return folder ? { id, dir, resolution: resolveModel(dir).resolution } : { id, dir };
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string', default: '.preciseinv-data' },
      model: { type: 'string', default: DEFAULT_MODEL },
      batch: { type: 'string', default: '4' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port expects an integer in 0..65535, got '${values.port}'`);
  const batch = Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 10) throw new UsageError(`--batch expects an integer in 1..10, got '${values.batch}'`);
  const model = modelDir(values.model!);
  const dataDir = resolve(values['data-dir']!);
  mkdirSync(dataDir, { recursive: true });
  // Keeps the default data folder (inside a checkout) out of git status.
  if (!existsSync(join(dataDir, '.gitignore'))) writeFileSync(join(dataDir, '.gitignore'), '*\n');
  const logger = jsonLogger({ service: 'preciseinv-engine' });
  const runner = new EngineRunner({ modelDirs: { [model.id]: model.dir }, ...(model.resolution ? { resolutions: { [model.id]: model.resolution } } : {}), maxBatchSize: batch, logger });
  // Opening (and, once, building the gradient graph) now makes a broken model fail here, not on the first job.
  await runner.warm(model.id);
  const server = await startServer({ port, host: values.host!, dataDir, runner, models: [model.id] });
  process.stderr.write(`preciseinv serve: ${server.url} (model '${model.id}' from ${model.dir}, data in ${dataDir}); Ctrl-C stops\n`);
  const signal = await new Promise<string>((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
  process.stderr.write(`preciseinv serve: ${signal}, stopping (running jobs keep their checkpoints)\n`);
  await server.stop();
  await runner.close();
  return 0;
}
