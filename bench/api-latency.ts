/**
 * API latency and throughput on loopback: job create (POST /v1/jobs) and job status
 * (GET /v1/jobs/{id}) against the one-machine server, closed-loop with N concurrent clients.
 * Usage: npx tsx bench/api-latency.ts [--seconds 5] [--concurrency 16]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../functions/local/local-server.ts';
import { freePort } from '../shared/testing/free-port.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '16' } } });
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const KEY = 'pk_bench';
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };


/** Runs `request` from `concurrency` loops for `seconds`; latencies in ms. */
async function load(request: () => Promise<Response>): Promise<{ latencies: number[]; errors: number; elapsed: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const response = await request();
        await response.arrayBuffer();
        if (response.ok) latencies.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), errors, elapsed: (performance.now() - started) / 1000 };
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

const dataDir = await mkdtemp(join(tmpdir(), 'preciseinv-bench-'));
const server = await startServer({ port: await freePort(), dataDir, env: { PRECISEINV_API_KEYS: KEY } });
const body = JSON.stringify({ model: 'tiny', steps: 10 });
const create = () => fetch(`${server.url}/v1/jobs`, { method: 'POST', headers, body });
const first = (await (await create()).json()) as { id: string };

const rows: string[] = [];
for (const [name, request] of [
  ['POST /v1/jobs', create],
  ['GET /v1/jobs/{id}', () => fetch(`${server.url}/v1/jobs/${first.id}`, { headers })],
] as const) {
  await load(request); // warm-up run, discarded
  const { latencies, errors, elapsed } = await load(request);
  rows.push(`| ${name} | ${concurrency} | ${(latencies.length / elapsed).toFixed(0)} | ${quantile(latencies, 0.5).toFixed(2)} | ${quantile(latencies, 0.99).toFixed(2)} | ${errors} |`);
}
await server.stop();
await rm(dataDir, { recursive: true, force: true });
console.log(`node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? 'unknown'}), filesystem store, ${seconds} s per route\n`);
console.log('| route | clients | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|');
console.log(rows.join('\n'));
