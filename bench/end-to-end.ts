/**
 * One real-size inversion as the worker runs it, against torch doing the same model work, in
 * one run. Crops a held-out photograph to --size pixels square, then, each in its own process:
 *   - `preciseinv prepare` on the replica (so the inversion below finds its gradient graph);
 *   - `preciseinv invert` on the crop (--steps, --max-iters): wall seconds, the inversion's own
 *     seconds, peak RSS (GNU time's %M), and the model evaluations it reports;
 *   - tools/replicas/torch_worker.py holding the same denoiser and VAE and doing the same number
 *     of VAE encodes and decodes, forward runs and forward+VJP runs: seconds, peak RSS.
 * The peak RSS of the whole worker process is what a fleet's host memory must hold; the row for
 * this model and size in bench/results/end-to-end.md is replaced.
 *
 *   npx tsx bench/end-to-end.ts --model sd15 [--size 512] [--steps 2] [--max-iters 3]
 *       [--image models/tiny/holdout/chelsea.png] [--malloc hugepages|default] [--json]
 *
 * --malloc hugepages (default) or default: see mallocEnv in bench/replica-context.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { z } from 'zod';
import { mallocEnv, parseReplicaModel, type ReplicaModel, REPLICA_MODELS as MODELS, replicaDir, toolsPython } from './replica-context.ts';
import { commandLine, gitRevision, machine, writeReport } from './report-context.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS_JSON = join(ROOT, 'bench', 'results', 'end-to-end.json');
const RESULTS_MD = join(ROOT, 'bench', 'results', 'end-to-end.md');
const GNU_TIME = '/usr/bin/time';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    size: { type: 'string' },
    steps: { type: 'string', default: '2' },
    'max-iters': { type: 'string', default: '3' },
    image: { type: 'string', default: 'models/tiny/holdout/chelsea.png' },
    malloc: { type: 'string', default: 'hugepages' },
    json: { type: 'boolean', default: false },
  },
});
const model = parseReplicaModel(values.model);
const { mode: mallocMode, env } = mallocEnv(values.malloc!);
const positive = (flag: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got ${text}`);
  return n;
};
const steps = positive('steps', values.steps!);
const maxIters = positive('max-iters', values['max-iters']!);
const dir = replicaDir(model);
const python = toolsPython();
if (!existsSync(join(dir, 'replica.json'))) {
  throw new Error(`${dir} has no replica: build it first (tools/.venv/bin/python -m tools.replicas.build --model ${model}, or run bench/full-scale.ts)`);
}
if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} (GNU time) is needed for the peak RSS of the inversion's process: apt-get install time`);
const replica = z.object({ imageSize: z.number().int() }).passthrough().parse(JSON.parse(readFileSync(join(dir, 'replica.json'), 'utf8')));
const size = values.size ? positive('size', values.size) : replica.imageSize;
if (size % 8 !== 0) throw new Error(`--size must be a multiple of 8 (the VAE's factor), got ${size}`);

function log(line: string): void {
  process.stderr.write(`[end-to-end ${model} ${size}px] ${line}\n`);
}

interface Measured {
  stdout: string;
  wallSeconds: number;
  peakRssMb: number;
}

/** Runs a command under GNU time in its own process; its stderr passes through. */
function measured(label: string, command: string, args: string[]): Measured {
  const timing = join(work, `${label.replace(/\W+/g, '-')}.time`);
  log(`${label}: ${command} ${args.join(' ')}`);
  const r = spawnSync(GNU_TIME, ['-f', '%e %M', '-o', timing, command, ...args], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal}); its output is above`);
  const [wall, rssKb] = readFileSync(timing, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  log(`${label}: ${wall} s, peak ${((rssKb ?? 0) / 2 ** 20).toFixed(2)} GiB`);
  return { stdout: r.stdout, wallSeconds: wall!, peakRssMb: Math.round((rssKb ?? 0) / 1024) };
}

const lastJson = (stdout: string) => z.record(z.string(), z.unknown()).parse(JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
const Metrics = z.object({
  seconds: z.number(),
  psnr: z.number().nullable(),
  modelEvals: z.object({ forward: z.number().int(), vjp: z.number().int() }),
  width: z.number().int(),
  height: z.number().int(),
}).passthrough();

// Declared before the run: saveResult parses the earlier rows with it.
const ResultRow = z.object({ model: z.enum(MODELS), size: z.number().int() }).passthrough();

const work = mkdtempSync(join(tmpdir(), 'end-to-end-'));
const started = new Date();
try {
  const image = join(work, 'photo.png');
  await sharp(resolve(ROOT, values.image!)).resize(size, size, { fit: 'cover' }).png().toFile(image);
  const cli = join(ROOT, 'bin', 'preciseinv.js');
  measured('prepare', process.execPath, [cli, 'prepare', dir]);
  const out = join(work, 'out');
  const ours = measured('invert', process.execPath, [cli, 'invert', image, '--model', dir, '--steps', String(steps), '--max-iters', String(maxIters), '--out', out, '--json']);
  const outDir = z.object({ ok: z.literal(true), outDir: z.string() }).passthrough().parse(lastJson(ours.stdout)).outDir;
  const metrics = Metrics.parse(JSON.parse(readFileSync(join(outDir, 'metrics.json'), 'utf8')));
  if (metrics.width !== size || metrics.height !== size) throw new Error(`invert ran at ${metrics.width}x${metrics.height}, expected ${size}x${size}`);
  // One encode of the photograph; two decodes: the reconstruction and the VAE's own ceiling.
  const evaluations = { encodes: 1, forwards: metrics.modelEvals.forward, vjps: metrics.modelEvals.vjp, decodes: 2 };
  const torch = measured('torch', python, ['-m', 'tools.replicas.torch_worker', '--model', model, '--size', String(size),
    '--encodes', String(evaluations.encodes), '--forwards', String(evaluations.forwards), '--vjps', String(evaluations.vjps), '--decodes', String(evaluations.decodes)]);
  const torchResult = z.object({ seconds: z.number(), peakRssMb: z.number(), torch: z.string() }).passthrough().parse(lastJson(torch.stdout));

  const result: Result = {
    model,
    size,
    steps,
    maxIters,
    malloc: mallocMode,
    evaluations,
    invertWallSeconds: ours.wallSeconds,
    inversionSeconds: Math.round(metrics.seconds * 10) / 10,
    peakRssMb: ours.peakRssMb,
    torchWallSeconds: torch.wallSeconds,
    torchModelSeconds: torchResult.seconds,
    torchPeakRssMb: torch.peakRssMb,
    peakOverTorch: Math.round((ours.peakRssMb / torch.peakRssMb) * 1000) / 1000,
    torch: torchResult.torch,
    run: { date: started.toISOString().slice(0, 16).replace('T', ' '), revision: gitRevision(), command: commandLine('bench/end-to-end.ts'), machine: machine() },
  };
  saveResult(result);
  if (!values.json) log(`worker peak ${gib(result.peakRssMb)} GiB, torch ${gib(result.torchPeakRssMb)} GiB (x${result.peakOverTorch})`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

interface Result {
  model: ReplicaModel;
  size: number;
  steps: number;
  maxIters: number;
  malloc: string;
  evaluations: { encodes: number; forwards: number; vjps: number; decodes: number };
  invertWallSeconds: number;
  inversionSeconds: number;
  peakRssMb: number;
  torchWallSeconds: number;
  torchModelSeconds: number;
  torchPeakRssMb: number;
  peakOverTorch: number;
  torch: string;
  run: { date: string; revision: string; command: string; machine: string };
}

function saveResult(result: Result): void {
  // A hand-edited or truncated results file is named rather than silently overwritten.
  const all = existsSync(RESULTS_JSON) ? z.array(ResultRow).parse(JSON.parse(readFileSync(RESULTS_JSON, 'utf8'))) as unknown as Result[] : [];
  const kept = all.filter((r) => !(r.model === result.model && r.size === result.size));
  kept.push(result);
  kept.sort((a, b) => MODELS.indexOf(a.model) - MODELS.indexOf(b.model) || a.size - b.size);
  writeFileSync(RESULTS_JSON, `${JSON.stringify(kept, null, 2)}\n`);
  writeReport(RESULTS_MD, renderReport(kept));
}

function gib(mb: number): string {
  return (mb / 1024).toFixed(2);
}

function renderReport(rows: readonly Result[]): string[] {
  const lines = [
    '# One real-size inversion, end to end, against torch doing the same model work',
    '',
    'A held-out photograph cropped square, inverted by `preciseinv invert` on a real-size replica',
    '(`tools/replicas`, random weights) on CPU, in a process of its own; then torch, holding the same',
    'denoiser and VAE, doing the evaluations the inversion reported (VAE encodes and decodes, forward',
    'runs, forward+VJP runs wrt the latent). Peak RSS is each process\'s maximum resident set (GNU',
    'time), weights included; it is what a worker\'s host memory must hold. Random weights do not',
    'reconstruct a photograph, so no PSNR is reported: the row measures cost, not quality.',
    '',
    '| model | px | steps / max iters | evaluations (enc, fwd, fwd+vjp, dec) | invert wall s | inversion s | peak GiB | torch wall s | torch model-work s | torch peak GiB | peak / torch |',
    '| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const e = r.evaluations;
    lines.push(`| ${r.model} | ${r.size} | ${r.steps} / ${r.maxIters} | ${e.encodes}, ${e.forwards}, ${e.vjps}, ${e.decodes} | ${r.invertWallSeconds.toFixed(0)} | ${r.inversionSeconds.toFixed(0)} | ${gib(r.peakRssMb)} | ${r.torchWallSeconds.toFixed(0)} | ${r.torchModelSeconds.toFixed(0)} | ${gib(r.torchPeakRssMb)} | ${r.peakOverTorch.toFixed(2)} |`);
  }
  lines.push('', '## Runs', '');
  for (const r of rows) lines.push(`- ${r.model} ${r.size} px: \`${r.run.command}\` at ${r.run.revision}, ${r.run.date} UTC, malloc ${r.malloc}, torch ${r.torch}; ${r.run.machine}.`);
  lines.push('');
  return lines;
}
