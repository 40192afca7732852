/**
 * `preciseinv serve`: the API and a worker in one process on this machine (filesystem bucket,
 * in-process queues, locally signed upload URLs), inverting with the engine on CPU or GPU.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { modelRegistry } from '../models/registry.ts';
import { startServer } from '../functions/local/local-server.ts';
import { EngineRunner } from '../functions/worker/engine-runner.ts';
import { createLogger } from '../shared/platform/logger.ts';
import type { ResolutionRule } from '../shared/diffusion/image/prepare-image.ts';
import { defineCommand, value } from './options/command-spec.ts';
import { parseOptionValue } from './options/parse-command.ts';
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

const portOption = value('P', z.number().int().min(0).max(65535), 'port to listen on (default: $PORT, else 8080)');

export const serveCommand = defineCommand(
  {
    name: 'serve',
    positionals: '',
    summary: 'Runs the API and a worker in one process: filesystem object store, in-process queue, locally signed upload URLs.',
    options: {
      port: portOption,
      host: value('H', z.string().min(1).default('127.0.0.1'), 'address to listen on'),
      'data-dir': value('D', z.string().min(1).default('.preciseinv-data'), 'folder for the object store and the development API key'),
      model: value('M', z.string().min(1).default(DEFAULT_MODEL), 'a registry id, a model folder, or id=folder'),
      batch: value('N', z.number().int().min(1).max(10).default(4), 'images the worker runs together'),
    },
  },
  async ({ values }) => {
    // $PORT is checked as --port would be.
    const port = values.port ?? (parseOptionValue('port', portOption, process.env.PORT ?? '8080') as number);
    const batch = values.batch;
    const model = modelDir(values.model);
    const dataDir = resolve(values['data-dir']);
    mkdirSync(dataDir, { recursive: true });
    // Keeps the default data folder (inside a checkout) out of git status.
    if (!existsSync(join(dataDir, '.gitignore'))) writeFileSync(join(dataDir, '.gitignore'), '*\n');
    const logger = createLogger({ service: 'preciseinv-engine' });
    const runner = new EngineRunner({ modelDirs: { [model.id]: model.dir }, ...(model.resolution ? { resolutions: { [model.id]: model.resolution } } : {}), maxBatchSize: batch, logger });
    // Opening (and, once, building the gradient graph) now makes a broken model fail here, not on the first job.
    await runner.warm(model.id);
    const server = await startServer({ port, host: values.host, dataDir, runner, models: [model.id] });
    process.stderr.write(`preciseinv serve: ${server.url} (model '${model.id}' from ${model.dir}, data in ${dataDir}); Ctrl-C stops\n`);
    const signal = await new Promise<string>((done) => {
      process.once('SIGINT', () => done('SIGINT'));
      process.once('SIGTERM', () => done('SIGTERM'));
    });
    process.stderr.write(`preciseinv serve: ${signal}, stopping (running jobs keep their checkpoints)\n`);
    await server.stop();
    await runner.close();
    return 0;
  },
);
