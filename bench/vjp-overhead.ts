/**
 * Gradient-graph cost relative to the forward pass, per fixture, beside torch's
 * (forward + backward) / forward on the same weights, measured in the same run.
 *
 *   npx tsx bench/vjp-overhead.ts [--threads N] [--runs N] [--latent N] [--out bench/results/vjp-overhead.md]
 *
 * Torch numbers come from tools/bench_torch_vjp.py in tools/.venv (see tools/README.md); without
 * that environment the torch columns read n/a.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { readFolderManifest } from '../shared/diffusion/folder-manifest.ts';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '20' },
    out: { type: 'string', default: 'bench/results/vjp-overhead.md' },
    fixtures: { type: 'string', default: 'models/fixtures' },
    latent: { type: 'string' },
  },
});
const Measurement = z.object({ medianMs: z.number(), peakRssMb: z.number() });
const TorchLine = z.object({ fixture: z.string(), forwardMs: z.number(), forwardBackwardMs: z.number(), ratio: z.number(), peakRssMb: z.number() });

function measure(dir: string, mode: 'forward' | 'vjp'): z.infer<typeof Measurement> {
  const args = [dir, mode, values.threads!, values.runs!, ...(values.latent ? [values.latent] : [])];
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/vjp-overhead-worker.ts', ...args], {
    encoding: 'utf8',
  });
  return Measurement.parse(JSON.parse(out.trim().split('\n').at(-1)!));
}

function torchNumbers(): Map<string, z.infer<typeof TorchLine>> {
  const python = 'tools/.venv/bin/python';
  const result = new Map<string, z.infer<typeof TorchLine>>();
  if (!existsSync(python) || !existsSync('tools/bench_torch_vjp.py')) return result;
  const latent = values.latent ? ['--latent', values.latent] : [];
  const out = execFileSync(python, ['tools/bench_torch_vjp.py', '--threads', values.threads!, '--runs', values.runs!, '--max-seconds', '5', ...latent], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const parsed = TorchLine.parse(JSON.parse(line));
    result.set(parsed.fixture, parsed);
  }
  return result;
}

const fixtures = readdirSync(values.fixtures!)
  .filter((name) => existsSync(join(values.fixtures!, name, 'model_index.json')))
  .sort();
const rows: string[] = [];
const torch = torchNumbers();
for (const name of fixtures) {
  const dir = join(values.fixtures!, name);
  if (!readFolderManifest(dir)?.gradientGraph) await prepareGradientGraph(dir);
  const fwd = measure(dir, 'forward');
  const vjp = measure(dir, 'vjp');
  const ours = vjp.medianMs / fwd.medianMs;
  const t = torch.get(name);
  const vs = t ? (ours / t.ratio).toFixed(2) : 'n/a';
  rows.push(
    `| ${name} | ${fwd.medianMs.toFixed(2)} | ${vjp.medianMs.toFixed(2)} | **${ours.toFixed(2)}** | ${fwd.peakRssMb.toFixed(0)} / ${vjp.peakRssMb.toFixed(0)} | ` +
      `${t ? t.forwardMs.toFixed(2) : 'n/a'} | ${t ? t.forwardBackwardMs.toFixed(2) : 'n/a'} | **${t ? t.ratio.toFixed(2) : 'n/a'}** | ${t ? t.peakRssMb.toFixed(0) : 'n/a'} | ${vs} |`,
  );
  console.log(rows.at(-1));
}
const table = [
  '# Gradient graph cost vs forward, ONNX Runtime (CPU) beside torch autograd',
  '',
  `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
    `intra-op threads ${values.threads} for both; median of ${values.runs} runs after 3 warm-up runs; batch 2, ${values.latent ? `${values.latent}x${values.latent} latents` : "the fixture's vjp_reference inputs (16x16 latents)"}.`,
  `Command: \`npx tsx bench/vjp-overhead.ts --threads ${values.threads} --runs ${values.runs}${values.latent ? ` --latent ${values.latent}` : ''}\` (${new Date().toISOString().slice(0, 10)}).`,
  '',
  'Ours = gradient graph (forward output + VJP w.r.t. the latent) time / forward time. Torch = (forward + backward w.r.t. the latent, parameters frozen) / forward, same weights.',
  'Peak RSS per process in MB (each measurement runs in its own process).',
  '',
  '| fixture | ORT fwd ms | ORT fwd+VJP ms | ours ratio | ORT peak MB fwd / vjp | torch fwd ms | torch fwd+bwd ms | torch ratio | torch peak MB | ours / torch |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
];
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, table.join('\n'));
console.log(`wrote ${values.out}`);
