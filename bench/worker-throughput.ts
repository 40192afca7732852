/**
 * Worker throughput on CPU: images per minute through the real queue worker (API create + upload,
 * in-process queue, per-step checkpoints, results written) on the bundled model, at engine batch 1
 * and each batch size given, side by side in one process, rounds interleaved so background load
 * hits every batch size alike.
 *
 *   npx tsx bench/worker-throughput.ts [--model DIR] [--images N] [--batch B1,B2,...] [--rounds R] [--steps T]
 *
 * Defaults: models/tiny with its registry defaults (PreciseInv, 10 steps, eta 1e-4, at most 200
 * iterations per step), 8 images of 64x64, batches 1, 4 and 8, 2 rounds. A --model folder is
 * served under the registry id `tiny` (its resolution rule and defaults).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getModel, modelRegistry } from '../models/registry.ts';
import type { JobView } from '../shared/contracts/job-view.ts';
import { createLocalPlatform } from '../shared/platform/local-platform.ts';
import { ApiKeyRing } from '../functions/api/api-keys.ts';
import { createApp } from '../functions/api/app.ts';
import { uploadForm } from '../shared/testing/api-client.ts';
import { EngineRunner } from '../functions/worker/engine-runner.ts';
import { QueueWorker } from '../functions/worker/queue-worker.ts';
import { gradientPng } from '../shared/diffusion/testing/gradient-png.ts';
import { silentLogger } from '../shared/platform/logger.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, 'models/tiny') },
    images: { type: 'string', default: '8' },
    batch: { type: 'string', default: '4,8' },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string' },
  },
});

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

const modelDir = resolve(values.model);
if (!existsSync(join(modelDir, 'model_index.json'))) throw new Error(`--model '${modelDir}' is not a model folder: it has no model_index.json`);
const images = positiveInt('images', values.images);
const batches = [...new Set([1, ...values.batch.split(',').map((b) => positiveInt('batch', b.trim()))])].sort((a, b) => a - b);
// The worker receives at most 10 messages per poll, and a batch larger than the run never fills.
const largest = batches.at(-1)!;
if (largest > 10) throw new Error(`--batch ${largest} exceeds the 10 messages a worker receives per poll`);
if (images < largest) throw new Error(`--images ${images} cannot fill a batch of ${largest}; give at least ${largest}`);
const rounds = positiveInt('rounds', values.rounds);
const tiny = getModel('tiny');
const steps = values.steps ? positiveInt('steps', values.steps) : tiny.inversionDefaults.steps;
const silent = silentLogger();
const KEY = 'pk_bench';
const BASE = 'http://127.0.0.1:1';

const inputs = await Promise.all(Array.from({ length: images }, (_, i) => gradientPng(64, 64, i * 0.7)));

/** One timed run: N jobs created and uploaded, then worker cycles until all succeed. */
async function measure(runner: EngineRunner): Promise<{ seconds: number; evals: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pi-bench-worker-'));
  const platform = createLocalPlatform({ dataDir, baseUrl: BASE, signingSecret: 's', models: ['tiny'], maxReceiveCount: 3 });
  const app = createApp({
    objects: platform.objects, jobs: platform.jobs, batches: platform.batches, queueFor: platform.queueFor, models: modelRegistry,
    apiKeys: ApiKeyRing.fromKeys([KEY]), upload: { maxBytes: 1 << 20, expiresInSeconds: 600 }, downloadExpiresInSeconds: 600, localSigner: platform.signer, logger: silentLogger(),
  });
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const ids: string[] = [];
  for (const png of inputs) {
    const job = (await (await app.request('/v1/jobs', { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', steps }) })).json()) as JobView;
    const uploaded = await app.request(job.upload!.url.slice(BASE.length), { method: 'POST', body: uploadForm(job.upload!.fields, png) });
    if (uploaded.status !== 204) throw new Error(`upload failed: ${uploaded.status}`);
    ids.push(job.id);
  }
  const worker = new QueueWorker({ objects: platform.objects, jobs: platform.jobs, queue: platform.queueFor('tiny'), runner, logger: silent }, { visibilityTimeoutSeconds: 300, waitSeconds: 0 });
  const started = performance.now();
  while (worker.counters.jobsSucceeded + worker.counters.jobsFailed < images) await worker.runOnce();
  const seconds = (performance.now() - started) / 1000;
  if (worker.counters.jobsFailed > 0) throw new Error(`${worker.counters.jobsFailed} jobs failed`);
  const evals = await Promise.all(ids.map(async (id) => (await platform.jobs.get(id))!.value.metrics!.modelEvals));
  await rm(dataDir, { recursive: true, force: true });
  return { seconds, evals: evals.reduce((a, b) => a + b, 0) / evals.length };
}

const runners = new Map(batches.map((b) => [b, new EngineRunner({ modelDirs: { tiny: modelDir }, maxBatchSize: b, logger: silent })]));
for (const runner of runners.values()) {
  await runner.warm('tiny');
  await measure(runner); // first-run costs (session warm-up, allocations) stay out of the timings
}
const results = new Map<number, number[]>(batches.map((b) => [b, []]));
const evalsPerImage = new Map<number, number[]>(batches.map((b) => [b, []]));
const loadBefore = loadavg()[0]!;
for (let r = 0; r < rounds; r++) {
  for (const [b, runner] of runners) {
    const { seconds, evals } = await measure(runner);
    evalsPerImage.get(b)!.push(evals);
    results.get(b)!.push((images / seconds) * 60);
    process.stderr.write(`round ${r + 1} batch ${b}: ${images} images in ${seconds.toFixed(2)} s = ${((images / seconds) * 60).toFixed(1)} images/min\n`);
  }
}
const loadAfter = loadavg()[0]!;
for (const runner of runners.values()) await runner.close();

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const base = mean(results.get(1)!);
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
})();
const lines = [
  `| engine batch | images/min (mean of ${rounds}) | per round | speed-up vs batch 1 | model evaluations per image |`,
  '|---:|---:|---|---:|---:|',
  ...[...results].map(
    ([b, xs]) => `| ${b} | ${mean(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(1)).join(', ')} | ${(mean(xs) / base).toFixed(2)}x | ${mean(evalsPerImage.get(b)!).toFixed(1)} |`,
  ),
];
console.log(`model: ${relative(ROOT, modelDir) || modelDir} (served as 'tiny': ${tiny.inversionDefaults.method}, ${steps} steps, eta ${tiny.inversionDefaults.eta}, maxIters ${tiny.inversionDefaults.maxIters}, 64x64 inputs)`);
console.log(`images per run: ${images}; CPU: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}; load average ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}; node ${process.version}`);
console.log(`date: ${new Date().toISOString()}; commit: ${commit}`);
console.log('');
console.log(lines.join('\n'));
console.log('');
console.log('model evaluations per image: forward and gradient-graph calls, inversion plus reconstruction, as the job metrics record them');
