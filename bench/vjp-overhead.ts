/**
 * Gradient-graph cost relative to the forward pass, per fixture, beside torch's
 * (forward + backward) / forward on the same weights, measured in the same run, both eager and
 * traced (torch.jit.trace: no Python in the forward, like a graph runtime; see
 * tools/bench_torch_vjp.py).
 *
 *   npx tsx bench/vjp-overhead.ts [--threads N] [--runs N] [--latent N] [--fixtures-only a,b] [--out bench/results/vjp-overhead.md]
 *
 * Each fixture's gradient graph is rebuilt first, so the numbers belong to the current rules.
 * Ratios come from one process per fixture that alternates forward and gradient-graph runs (and
 * torch alternates its forward and forward+backward the same way), so load from other work on a
 * shared machine moves both sides of a ratio together; peak memory comes from separate processes
 * that hold one graph each. Torch numbers come from tools/bench_torch_vjp.py in tools/.venv (see
 * tools/README.md); without that environment the torch columns read n/a.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { gitRevision, machine, provenance, writeReport } from './report-context.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '20' },
    out: { type: 'string', default: 'bench/results/vjp-overhead.md' },
    fixtures: { type: 'string', default: 'models/fixtures' },
    latent: { type: 'string' },
    'fixtures-only': { type: 'string' },
  },
});
const Memory = z.object({ medianMs: z.number(), peakRssMb: z.number() });
const Pair = z.object({ forwardMs: z.number(), vjpMs: z.number(), forwardMinMs: z.number(), vjpMinMs: z.number() });
const TorchLine = z.object({
  fixture: z.string(),
  mode: z.enum(['eager', 'traced']),
  forwardMs: z.number(),
  forwardBackwardMs: z.number(),
  ratio: z.number(),
  minRatio: z.number(),
  peakRssMb: z.number(),
});

function worker<T>(schema: z.ZodType<T>, dir: string, mode: 'forward' | 'vjp' | 'pair', runs: string): T {
  const args = [dir, mode, values.threads!, runs, ...(values.latent ? [values.latent] : [])];
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/vjp-overhead-worker.ts', ...args], {
    encoding: 'utf8',
  });
  return schema.parse(JSON.parse(out.trim().split('\n').at(-1)!));
}

const only = values['fixtures-only']?.split(',');
const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');

type TorchModes = Partial<Record<z.infer<typeof TorchLine>['mode'], z.infer<typeof TorchLine>>>;

function torchNumbers(): Map<string, TorchModes> {
  const python = 'tools/.venv/bin/python';
  const result = new Map<string, TorchModes>();
  if (!existsSync(python) || !existsSync('tools/bench_torch_vjp.py')) return result;
  const latent = values.latent ? ['--latent', values.latent] : [];
  const names = only ? ['--fixtures', ...only] : [];
  // Each fixture's alternating loop may run --runs pairs within 30 s (at least 3 pairs).
  const out = execFileSync(python, ['tools/bench_torch_vjp.py', '--threads', values.threads!, '--runs', values.runs!, '--max-seconds', '30', ...latent, ...names], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const parsed = TorchLine.parse(JSON.parse(line));
    result.set(parsed.fixture, { ...result.get(parsed.fixture), [parsed.mode]: parsed });
  }
  return result;
}

const fixtures = readdirSync(values.fixtures!)
  .filter((name) => existsSync(join(values.fixtures!, name, 'model_index.json')) && (!only || only.includes(name)))
  .sort();
const loadBefore = load();
const started = new Date();
const revision = gitRevision();
const rows: string[] = [];
const verdicts: string[] = [];
for (const name of fixtures) await prepareGradientGraph(join(values.fixtures!, name));
const torch = torchNumbers();
for (const name of fixtures) {
  const dir = join(values.fixtures!, name);
  const pair = worker(Pair, dir, 'pair', values.runs!);
  const fwdMem = worker(Memory, dir, 'forward', '3');
  const vjpMem = worker(Memory, dir, 'vjp', '3');
  const ours = pair.vjpMs / pair.forwardMs;
  const oursMin = pair.vjpMinMs / pair.forwardMinMs;
  const { eager, traced } = torch.get(name) ?? {};
  const num = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(2));
  const meets = (r: number, t: number) => (r <= t && r <= 3 ? 'yes' : 'no');
  const met = (t: z.infer<typeof TorchLine> | undefined) => (t ? `${meets(ours, t.ratio)} / ${meets(oursMin, t.minRatio)}` : 'n/a');
  verdicts.push(`${name}: eager ${met(eager)}, traced ${met(traced)} (median / min)`);
  rows.push(
    `| ${name} | ${num(pair.forwardMs)} | ${num(pair.vjpMs)} | **${num(ours)}** | ${num(oursMin)} | ${fwdMem.peakRssMb.toFixed(0)} / ${vjpMem.peakRssMb.toFixed(0)} | ` +
      `${num(eager?.forwardMs)} | ${num(eager?.forwardBackwardMs)} | **${num(eager?.ratio)}** | ${num(eager?.minRatio)} | ` +
      `${num(traced?.forwardMs)} | ${num(traced?.forwardBackwardMs)} | **${num(traced?.ratio)}** | ${num(traced?.minRatio)} | ` +
      `${eager ? eager.peakRssMb.toFixed(0) : 'n/a'} | ${met(eager)} | ${met(traced)} |`,
  );
  console.log(rows.at(-1));
}
const table = [
  '# Gradient graph cost vs forward, ONNX Runtime (CPU) beside torch autograd',
  '',
  `Machine: ${machine()}, shared with other work: load average (1 / 5 / 15 min) ${loadBefore} at the start, ${load()} at the end.`,
  `Intra-op threads ${values.threads} for both; medians of ${values.runs} alternating forward / gradient runs after 3 warm-up pairs; batch 2, ${values.latent ? `${values.latent}x${values.latent} latents` : "the fixture's vjp_reference inputs (16x16 latents)"}.`,
  provenance('bench/vjp-overhead.ts', started, revision),
  '',
  'Ours = gradient graph (forward output + VJP w.r.t. the latent) time / forward time. Torch = (forward + backward w.r.t. the latent, parameters frozen) / forward, same weights,',
  "called eagerly from Python and through torch.jit.trace (identical outputs; the traced forward skips the eager one's per-module Python cost).",
  'Ratios of median wall times (bold) and of the fastest runs (min), which interference from other work on the machine disturbs least; each side alternates its two runs in one process.',
  "Peak RSS in MB from separate processes holding one graph each (torch: the fixture's eager process). Target: ours <= torch and <= 3, checked against each torch mode on medians and on minima (median / min).",
  '',
  '| fixture | ORT fwd ms | ORT fwd+VJP ms | ours ratio | ours min | ORT peak MB fwd / vjp | eager fwd ms | eager fwd+bwd ms | eager ratio | eager min | traced fwd ms | traced fwd+bwd ms | traced ratio | traced min | torch peak MB | met vs eager | met vs traced |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
];
console.log(verdicts.join('\n'));
writeReport(values.out!, table);
