/**
 * Worker throughput on CPU: images per minute through the real queue worker (API create + upload,
 * in-process queue, per-step checkpoints, results written) at engine batch 1 and batch B, in one
 * process, rounds interleaved so background load hits both alike.
 *
 *   npx tsx bench/worker-throughput.ts [--model DIR] [--images N] [--batch B] [--rounds R] [--steps T]
 *
 * The model folder is served under the registry id `tiny` (its resolution rule and defaults).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { modelRegistry } from '../models/registry.ts';
import type { JobView } from '../shared/contracts/job-view.ts';
import { createLocalPlatform } from '../shared/platform/local-platform.ts';
import { ApiKeyRing } from '../functions/api/api-keys.ts';
import { createApp } from '../functions/api/app.ts';
import { uploadForm } from '../functions/api/testing/local-api.ts';
import { EngineRunner } from '../functions/worker/engine-runner.ts';
import { QueueWorker } from '../functions/worker/queue-worker.ts';
import { gradientPng } from '../shared/diffusion/testing/gradient-png.ts';
import { jsonLogger } from '../functions/worker/worker-logger.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    images: { type: 'string', default: '8' },
    batch: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string' },
  },
});
const modelDir = resolve(values.model ?? (existsSync(join(ROOT, 'models/tiny')) ? join(ROOT, 'models/tiny') : join(ROOT, 'models/fixtures/sd15-torchscript')));
const images = Number(values.images);
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const tiny = modelRegistry.find((m) => m.id === 'tiny')!;
const steps = values.steps ? Number(values.steps) : tiny.inversionDefaults.steps;
const silent = jsonLogger({}, () => undefined);
const KEY = 'pk_bench';
const BASE = 'http://127.0.0.1:1';

const inputs = await Promise.all(Array.from({ length: images }, (_, i) => gradientPng(64, 64, i * 0.7)));

/** One timed run: N jobs created and uploaded, then worker cycles until all succeed. */
async function measure(runner: EngineRunner): Promise<{ seconds: number; evals: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pi-bench-worker-'));
  const platform = createLocalPlatform({ dataDir, baseUrl: BASE, signingSecret: 's', models: ['tiny'], maxReceiveCount: 3 });
  const app = createApp({
    objects: platform.objects, jobs: platform.jobs, batches: platform.batches, queueFor: platform.queueFor, models: modelRegistry,
    apiKeys: ApiKeyRing.fromKeys([KEY]), upload: { maxBytes: 1 << 20, expiresInSeconds: 600 }, downloadExpiresInSeconds: 600, localSigner: platform.signer,
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

const runners = new Map([1, batch].map((b) => [b, new EngineRunner({ modelDirs: { tiny: modelDir }, maxBatchSize: b, logger: silent })]));
for (const runner of runners.values()) {
  await runner.warm('tiny');
  await measure(runner); // first-run costs (session warm-up, allocations) stay out of the timings
}
const results = new Map<number, number[]>([...runners.keys()].map((b) => [b, []]));
const evalsPerImage: number[] = [];
const loadBefore = loadavg()[0]!;
for (let r = 0; r < rounds; r++) {
  for (const [b, runner] of runners) {
    const { seconds, evals } = await measure(runner);
    evalsPerImage.push(evals);
    results.get(b)!.push((images / seconds) * 60);
    process.stderr.write(`round ${r + 1} batch ${b}: ${images} images in ${seconds.toFixed(2)} s = ${((images / seconds) * 60).toFixed(1)} images/min\n`);
  }
}
const loadAfter = loadavg()[0]!;
for (const runner of runners.values()) await runner.close();

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const base = mean(results.get(1)!);
const lines = [
  `| engine batch | images/min (mean of ${rounds}) | per round | speed-up vs batch 1 |`,
  '|---:|---:|---|---:|',
  ...[...results].map(([b, xs]) => `| ${b} | ${mean(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(1)).join(', ')} | ${(mean(xs) / base).toFixed(2)}x |`),
];
console.log(`model: ${relative(ROOT, modelDir)} (served as 'tiny': ${steps} steps, eta ${tiny.inversionDefaults.eta}, maxIters ${tiny.inversionDefaults.maxIters}, 64x64 inputs)`);
console.log(`model evaluations per image (forward + gradient, inversion + reconstruction): ${mean(evalsPerImage).toFixed(1)}`);
console.log(`images per run: ${images}; CPU: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}; load average ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}; node ${process.version}`);
console.log('');
console.log(lines.join('\n'));
