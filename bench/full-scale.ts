/**
 * A paper-size model against torch, in one run: builds (or reuses) the replica
 * (tools/replicas), prepares its gradient graph, and measures, each in a process of its own so
 * every peak RSS is that step's alone:
 *   - `preciseinv prepare`: seconds and peak RSS;
 *   - the forward graph in a session with onnxruntime's default options (create, run, RSS);
 *   - the engine's session (forward-only and gradient runs in one session): create, runs, RSS,
 *     and its output and gradient against torch autograd for one seeded cotangent;
 *   - torch, eager and torch.jit.trace'd, forward and forward+backward wrt the latent, peak RSS.
 * Runs are the median of --runs after one untimed warm-up. The last line printed is one JSON
 * object; the row for this model and precision in bench/results/full-scale.md is replaced.
 *
 *   npx tsx bench/full-scale.ts --model sd15|lcm-sd15|sd21|sdxl|sd3 [--fp16] [--runs 3] [--threads 2]
 *       [--malloc hugepages|default] [--skip torch] [--latent N] [--json]
 *
 * --latent N: latent pixels per side instead of the replica's native size (the row says so), for
 * a model whose native-size backward does not fit the machine.
 *
 * --malloc hugepages (default): see mallocEnv in bench/replica-context.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { mallocEnv, parseReplicaModel, REPLICA_MODELS as MODELS, replicaDir, toolsPython } from './replica-context.ts';
import { commandLine, gitRevision, machine, writeReport } from './report-context.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS_JSON = join(ROOT, 'bench', 'results', 'full-scale.json');
const RESULTS_MD = join(ROOT, 'bench', 'results', 'full-scale.md');

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    fp16: { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    malloc: { type: 'string', default: 'hugepages' },
    skip: { type: 'string', multiple: true, default: [] },
    latent: { type: 'string' },
    // Only the JSON line on stdout, no summary on stderr.
    json: { type: 'boolean', default: false },
  },
});
const model = parseReplicaModel(values.model);
const { mode: mallocMode, env } = mallocEnv(values.malloc!);
const runs = Number(values.runs);
const threads = Number(values.threads);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${values.threads}`);
const skipTorch = values.skip!.includes('torch');
const latentOverride = values.latent === undefined ? undefined : Number(values.latent);
if (latentOverride !== undefined && (!Number.isInteger(latentOverride) || latentOverride < 8 || latentOverride % 8 !== 0)) {
  throw new Error(`--latent must be a multiple of 8 (latent pixels per side), got ${values.latent}`);
}
const dtype = values.fp16 ? 'float16' : 'float32';
const name = values.fp16 ? `${model}-fp16` : model;
const dir = replicaDir(name);
const python = toolsPython();

function log(line: string): void {
  process.stderr.write(`[full-scale ${name}] ${line}\n`);
}

/** Runs a step in its own process; its last stdout line is its JSON result. */
function step(label: string, command: string, args: string[]): Record<string, unknown> {
  log(`${label}: ${command} ${args.join(' ')}`);
  const started = performance.now();
  const r = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal}); its output is above`);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  const parsed = z.record(z.string(), z.unknown()).parse(JSON.parse(last));
  log(`${label}: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return parsed;
}

const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
const ortStep = (mode: string, extra: string[] = []) => step(`onnxruntime ${mode}`, tsx, [join(ROOT, 'bench', 'full-scale-ort.ts'), mode, dir, '--runs', String(runs), '--threads', String(threads), ...extra]);
const torchStep = (mode: string, extra: string[] = []) => step(`torch ${mode}`, python, ['-m', 'tools.replicas.torch_bench', '--model', model, ...(values.fp16 ? ['--fp16'] : []), '--mode', mode, '--runs', String(runs), '--threads', String(threads), ...(latentOverride ? ['--latent', String(latentOverride)] : []), ...extra]);

if (!existsSync(join(dir, 'replica.json'))) {
  if (!existsSync(python)) throw new Error(`${python} not found: set up the tools environment first (tools/README.md) or set PRECISEINV_PYTHON`);
  step('build replica', python, ['-m', 'tools.replicas.build', '--model', model, ...(values.fp16 ? ['--fp16'] : [])]);
}
const replica = z.object({ denoiser: z.object({ parameters: z.number() }), imageSize: z.number(), latentSize: z.number() }).passthrough()
  .parse(JSON.parse(readFileSync(join(dir, 'replica.json'), 'utf8')));

// Declared before the run: saveResult parses the earlier rows with it.
const ResultRow = z.object({
  model: z.enum(MODELS),
  dtype: z.enum(['float32', 'float16']),
  run: z.object({ date: z.string(), revision: z.string(), command: z.string(), machine: z.string() }),
}).passthrough();
type Result = z.infer<typeof ResultRow>;

const work = mkdtempSync(join(tmpdir(), 'full-scale-'));
const reference = join(work, 'reference.safetensors');
const started = new Date();
try {
  const prepare = ortStep('prepare');
  let eager: Record<string, unknown> | undefined;
  let traced: Record<string, unknown> | undefined;
  if (!skipTorch) {
    eager = torchStep('eager', ['--reference', reference]);
    traced = torchStep('traced');
  } else {
    // The reference (inputs, cotangent, torch's output and VJP) is still needed for the error.
    torchStep('eager', ['--reference', reference, '--runs', '1']);
  }
  const forward = ortStep('forward', ['--reference', reference]);
  const engine = ortStep('engine', ['--reference', reference]);

  const n = (r: Record<string, unknown> | undefined, k: string) => (r && typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const torchPeaks = [n(eager, 'peakRssMb'), n(traced, 'peakRssMb')].filter((x): x is number => x !== undefined);
  const result = {
    model,
    dtype: dtype as Result['dtype'],
    parameters: replica.denoiser.parameters,
    imageSize: latentOverride ? latentOverride * 8 : replica.imageSize,
    latent: latentOverride ?? replica.latentSize,
    nativeImageSize: replica.imageSize,
    threads,
    malloc: mallocMode,
    prepareSeconds: n(prepare, 'seconds'),
    preparePeakRssMb: n(prepare, 'peakRssMb'),
    forwardSessionCreateSeconds: n(forward, 'createSeconds'),
    forwardSessionSeconds: n(forward, 'forwardSeconds'),
    forwardSessionPeakRssMb: n(forward, 'peakRssMb'),
    engineCreateSeconds: n(engine, 'createSeconds'),
    forwardSeconds: n(engine, 'forwardSeconds'),
    gradientSeconds: n(engine, 'gradientSeconds'),
    vjpOverForward: n(engine, 'vjpOverForward'),
    peakRssMbForward: n(engine, 'peakRssMbForward'),
    peakRssMb: n(engine, 'peakRssMb'),
    relError: n(engine, 'relError'),
    outRelError: n(engine, 'outRelError'),
    finite: engine['finite'] === true,
    torchEagerForwardSeconds: n(eager, 'forwardSeconds'),
    torchEagerForwardBackwardSeconds: n(eager, 'forwardBackwardSeconds'),
    torchEagerRatio: n(eager, 'ratio'),
    torchEagerPeakRssMb: n(eager, 'peakRssMb'),
    torchTracedForwardSeconds: n(traced, 'forwardSeconds'),
    torchTracedForwardBackwardSeconds: n(traced, 'forwardBackwardSeconds'),
    torchRatio: n(traced, 'ratio'),
    torchTracedPeakRssMb: n(traced, 'peakRssMb'),
    torchPeakRssMb: torchPeaks.length ? Math.min(...torchPeaks) : undefined,
    torch: eager?.['torch'],
    run: { date: started.toISOString().slice(0, 16).replace('T', ' '), revision: gitRevision(), command: commandLine('bench/full-scale.ts'), machine: machine() },
  };
  saveResult(result);
  if (!values.json) {
    log(`gradient/forward ${fmt(result.vjpOverForward)} (torch traced ${fmt(result.torchRatio)}, eager ${fmt(result.torchEagerRatio)}); peak ${gib(result.peakRssMb)} GiB (torch ${gib(result.torchPeakRssMb)} GiB); gradient error ${fmt(result.relError)}`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

function saveResult(result: Result): void {
  // A hand-edited or truncated results file is named rather than silently overwritten.
  const all = existsSync(RESULTS_JSON) ? z.array(ResultRow).parse(JSON.parse(readFileSync(RESULTS_JSON, 'utf8'))) : [];
  const kept = all.filter((r) => !(r.model === result.model && r.dtype === result.dtype));
  kept.push(result);
  kept.sort((a, b) => MODELS.indexOf(a.model) - MODELS.indexOf(b.model) || b.dtype.localeCompare(a.dtype));
  writeFileSync(RESULTS_JSON, `${JSON.stringify(kept, null, 2)}\n`);
  writeReport(RESULTS_MD, renderReport(kept));
}

function fmt(v: unknown, digits = 2): string {
  if (typeof v !== 'number') return '-';
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) < 1e-2 && v !== 0) return v.toExponential(1);
  return v.toFixed(digits);
}

function gib(v: unknown): string {
  return typeof v === 'number' ? (v / 1024).toFixed(2) : '-';
}

function renderReport(rows: readonly Result[]): string[] {
  const lines = [
    '# Paper-size models: our gradient graph against torch autograd',
    '',
    'Replicas of each family at its published configuration with random weights (`tools/replicas`),',
    'batch 1 at the native resolution, float32 unless stated, CPU. One row per model and precision,',
    'each from its own run of `bench/full-scale.ts` (its command, revision, date and machine below the',
    'table). Every step runs in its own process; peak RSS is that process\'s maximum resident set',
    '(weights included: they are memory-mapped from the external data file and count when touched).',
    'Seconds are medians of the timed runs after one warm-up.',
    '',
    '- **ours**: the engine\'s one session (gradient graph with the backward behind an If), forward-only',
    '  and gradient runs; *gradient/forward* is their ratio. *forward session*: the forward graph alone in',
    '  a session with onnxruntime\'s default options, as a plain inference server would open it.',
    '- **torch**: the same weights, eager and through `torch.jit.trace`, forward (no grad) and forward',
    '  plus `autograd.grad` wrt the latent (parameters frozen); *ratio* is their ratio.',
    '- **error**: normwise max |ours - torch| / max |torch| of the gradient for one seeded cotangent',
    '  (torch float32; for fp16 rows, torch float32 on the same half weights).',
    '',
    '| model | params | px | prepare s / GiB | fwd session create s / run s / GiB | ours create s | ours fwd s | ours grad s | grad/fwd | ours peak GiB (fwd-only / all) | torch eager fwd / fwd+bwd s, ratio, GiB | torch traced fwd / fwd+bwd s, ratio, GiB | grad error | out error |',
    '| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |',
  ];
  for (const r of rows) {
    const below = typeof r['nativeImageSize'] === 'number' && r['nativeImageSize'] !== r['imageSize'] ? ` (native ${String(r['nativeImageSize'])})` : '';
    const label = `${r.dtype === 'float16' ? `${r.model} fp16` : r.model}${below}`;
    const params = typeof r['parameters'] === 'number' ? `${((r['parameters'] as number) / 1e6).toFixed(0)}M` : '-';
    lines.push(`| ${label} | ${params} | ${fmt(r['imageSize'], 0)} | ${fmt(r['prepareSeconds'], 1)} / ${gib(r['preparePeakRssMb'])} | ${fmt(r['forwardSessionCreateSeconds'], 1)} / ${fmt(r['forwardSessionSeconds'])} / ${gib(r['forwardSessionPeakRssMb'])} | ${fmt(r['engineCreateSeconds'], 1)} | ${fmt(r['forwardSeconds'])} | ${fmt(r['gradientSeconds'])} | ${fmt(r['vjpOverForward'])} | ${gib(r['peakRssMbForward'])} / ${gib(r['peakRssMb'])} | ${fmt(r['torchEagerForwardSeconds'])} / ${fmt(r['torchEagerForwardBackwardSeconds'])}, ${fmt(r['torchEagerRatio'])}, ${gib(r['torchEagerPeakRssMb'])} | ${fmt(r['torchTracedForwardSeconds'])} / ${fmt(r['torchTracedForwardBackwardSeconds'])}, ${fmt(r['torchRatio'])}, ${gib(r['torchTracedPeakRssMb'])} | ${fmt(r['relError'])} | ${fmt(r['outRelError'])} |`);
  }
  const below = rows.filter((r) => typeof r['nativeImageSize'] === 'number' && r['nativeImageSize'] !== r['imageSize']);
  if (below.length) {
    lines.push('', `Rows marked "native N" ran below the model's native size (\`--latent\`) because the native size does not fit this machine's memory; README's paper-scale section says which step did not fit.`);
  }
  lines.push('', '## Runs', '');
  for (const r of rows) lines.push(`- ${r.dtype === 'float16' ? `${r.model} fp16` : r.model}: \`${r.run.command}\` at ${r.run.revision}, ${r.run.date} UTC, malloc ${String(r['malloc'])}, torch ${String(r['torch'] ?? '-')}; ${r.run.machine}.`);
  return lines;
}
