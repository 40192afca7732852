/**
 * The local stack's composition root: the API on Node and, in the one-machine mode, a worker per
 * model in the same process (`preciseinv serve`). With PRECISEINV_BUCKET set it serves the AWS
 * configuration instead. The only place that wires functions/api and functions/worker together.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { modelRegistry } from '../../models/registry.ts';
import { isTerminal } from '../../shared/contracts/job-status.ts';
import { jobMessageBody } from '../../shared/contracts/queue-message.ts';
import { createLocalPlatform, type LocalPlatform } from '../../shared/platform/local-platform.ts';
import { mapConcurrent } from '../../shared/platform/map-concurrent.ts';
import { listAll } from '../../shared/platform/object-store.ts';
import { UnreadableRecordError } from '../../shared/platform/json-record-store.ts';
import type { Job } from '../../shared/contracts/job.ts';
import type { InversionRunner } from '../worker/inversion-runner.ts';
import { QueueWorker } from '../worker/queue-worker.ts';
import { webhookPolicyFromEnv } from '../../shared/platform/webhook-destination.ts';
import { WebhookSender } from '../worker/webhook-sender.ts';
import { createLogger, type Logger } from '../../shared/platform/logger.ts';
import { awsApiDeps, LocalServerEnvironment } from '../api/api-config.ts';
import { parseEnvironment } from '../../shared/platform/environment.ts';
import type { ModelManifest } from '../../shared/contracts/model-manifest.ts';
import type { ApiDeps } from '../api/api-deps.ts';
import { ApiKeyRing, generateApiKey } from '../api/api-keys.ts';
import { createApp } from '../api/app.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export interface ServerOptions {
  port: number;
  host?: string;
  dataDir: string;
  env?: Record<string, string | undefined>;
  /** The engine; without it the local mode accepts jobs but nothing runs them. */
  runner?: InversionRunner;
  /**
   * Model ids the local mode serves: only these are listed and accepted. Default: the registry
   * models whose folder is on this machine.
   */
  models?: string[];
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** Reads a secret kept in the data folder, creating it on first use; `created` says whether it is new. */
async function dataDirSecret(dataDir: string, name: string, make: () => string): Promise<{ value: string; created: boolean }> {
  const path = join(dataDir, name);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing) return { value: existing.trim(), created: false };
  const value = make();
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return { value, created: true };
}

async function localApiKeys(keys: string[], dataDir: string, log: Logger): Promise<ApiKeyRing> {
  if (keys.length > 0) return ApiKeyRing.fromKeys(keys);
  const devKey = await dataDirSecret(dataDir, 'dev-api-key', generateApiKey);
  if (devKey.created) process.stderr.write(`\nPRECISEINV_API_KEYS is not set; generated a development API key (shown once, kept in ${join(dataDir, 'dev-api-key')}):\n\n  ${devKey.value}\n\n`);
  else log.info('using the development API key kept in the data folder', { path: join(dataDir, 'dev-api-key') });
  return ApiKeyRing.fromKeys([devKey.value]);
}

/**
 * The in-process queues start empty, so a restart would strand unfinished jobs: every job that is
 * not finished and has its image is queued again (a duplicate is harmless: claims are conditional).
 */
async function requeueUnfinished(platform: LocalPlatform, log: Logger): Promise<number> {
  const keys = await listAll(platform.objects, 'jobs/');
  const requeued = await mapConcurrent(keys, 8, async (key) => {
    let job: Job | undefined;
    try {
      job = (await platform.jobs.get(key.slice('jobs/'.length, -'.json'.length)))?.value;
    } catch (error) {
      if (!(error instanceof UnreadableRecordError)) throw error;
      // One damaged record must not keep the server from starting: it is named and skipped.
      log.error('skipping a job record that cannot be read', { key: error.key, reason: error.reason });
      return 0;
    }
    if (!job || isTerminal(job.status) || !platform.queues.has(job.model) || !(await platform.objects.head(job.input.key))) return 0;
    await platform.queueFor(job.model).send(jobMessageBody(job.id));
    return 1;
  });
  return requeued.reduce<number>((a, b) => a + b, 0);
}

/** The registry entries a local server runs: those named, else those with a folder on this machine. */
function servedModels(ids: string[] | undefined): ModelManifest[] {
  if (!ids) return modelRegistry.filter((m) => m.artifacts.localDir && existsSync(resolve(REPO_ROOT, m.artifacts.localDir)));
  const unknown = ids.filter((id) => !modelRegistry.some((m) => m.id === id));
  if (unknown.length > 0) throw new Error(`server: unknown model id(s) ${unknown.join(', ')}; known: ${modelRegistry.map((m) => m.id).join(', ')}`);
  return modelRegistry.filter((m) => ids.includes(m.id));
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host}:${options.port}`;
  const log = createLogger({ service: 'preciseinv' });
  const workers: QueueWorker[] = [];
  let deps: ApiDeps;
  if (env.PRECISEINV_BUCKET) {
    deps = awsApiDeps(env);
  } else {
    const config = parseEnvironment(LocalServerEnvironment, env, 'server');
    const webhookPolicy = webhookPolicyFromEnv(env);
    const models = servedModels(options.models);
    const signingSecret = await dataDirSecret(options.dataDir, 'local-signing-secret', () => randomBytes(32).toString('hex'));
    const platform = createLocalPlatform({ dataDir: options.dataDir, baseUrl: url, signingSecret: signingSecret.value, models: models.map((m) => m.id), maxReceiveCount: 3 });
    deps = {
      objects: platform.objects,
      jobs: platform.jobs,
      batches: platform.batches,
      queueFor: platform.queueFor,
      models,
      apiKeys: await localApiKeys(config.PRECISEINV_API_KEYS ?? [], options.dataDir, log),
      upload: { maxBytes: config.PRECISEINV_MAX_UPLOAD_BYTES, expiresInSeconds: 900 },
      downloadExpiresInSeconds: 3600,
      logger: log,
      localSigner: platform.signer,
      webhookPolicy,
    };
    if (options.runner) {
      const webhookSecret = await dataDirSecret(options.dataDir, 'webhook-secret', () => randomBytes(32).toString('hex'));
      for (const [model, queue] of platform.queues) {
        const logger = log.child({ model });
        const webhooks = new WebhookSender({ secret: webhookSecret.value, attempts: 5, baseDelayMs: 1000, timeoutMs: 10_000, destination: webhookPolicy }, logger);
        const deadLetter = platform.deadLetters.get(model)!;
        const jobTimeoutSeconds = models.find((m) => m.id === model)!.fleet.jobTimeoutSeconds;
        workers.push(new QueueWorker({ objects: platform.objects, jobs: platform.jobs, queue, deadLetter, runner: options.runner, logger, webhooks }, { visibilityTimeoutSeconds: 60, waitSeconds: 20, jobTimeoutSeconds }));
      }
      const requeued = await requeueUnfinished(platform, log);
      if (requeued > 0) log.info('queued unfinished jobs again after a restart', { jobs: requeued });
    }
  }
  // Built from console/ as the server starts (esbuild, well under a second); a dynamic import keeps esbuild out of every other importer's load.
  const { buildConsole } = await import('../../console/build-console.ts');
  const app = createApp({ ...deps, console: await buildConsole() });
  const server: ServerType = serve({ fetch: app.fetch, port: options.port, hostname: host });
  for (const worker of workers) void worker.start();
  log.info('listening', { url, mode: env.PRECISEINV_BUCKET ? 'aws' : 'local', workers: workers.length });
  return {
    url,
    stop: async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
