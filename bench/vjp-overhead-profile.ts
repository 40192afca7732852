/**
 * Where the time of a gradient graph goes, beside its forward: runs both graphs of one fixture
 * under ONNX Runtime's profiler and prints the summed kernel time per op type and the top nodes.
 *
 *   npx tsx bench/vjp-overhead-profile.ts <model-dir> [--latent 32] [--runs 10] [--top 25] [--optimized out.onnx] [--graph file.onnx]
 *
 * The gradient graph is rebuilt from the current rules first, unless --no-prepare or --graph
 * (a graph file in the denoiser's folder) is given. --optimized also writes the session's
 * optimized gradient graph, to see what ORT fused.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { denoiserFeeds, syntheticFeeds, toOrt } from '../shared/diffusion/denoiser-feeds.ts';
import { openModelFolder } from '../shared/diffusion/model-folder.ts';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { mulberry32, randn } from '../shared/numeric/random.ts';
import { WITH_GRADIENT } from '../shared/onnx/autodiff/backward-gate.ts';
import { buildVjpGraph, gradName } from '../shared/onnx/autodiff/build-vjp.ts';
import { loadModel } from '../shared/onnx/model-io.ts';
import { toOrtTensor } from '../shared/onnx/ort-tensors.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    latent: { type: 'string' },
    runs: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' },
    threads: { type: 'string', default: '1' },
    optimized: { type: 'string' },
    'no-prepare': { type: 'boolean', default: false },
    graph: { type: 'string' },
    'no-attribute': { type: 'boolean', default: false },
  },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: vjp-overhead-profile.ts <model-dir> [--latent N] [--runs N] [--top N]');
const record = values['no-prepare'] || values.graph ? undefined : await prepareGradientGraph(dir);
const folder = openModelFolder(dir);
const model = loadModel(folder.denoiser.path).model;
const inputs = model.graph.input.filter((i) => !model.graph.initializer.some((t) => t.name === i.name));
const feeds = values.latent ? syntheticFeeds(inputs, mulberry32(3), Number(values.latent)) : denoiserFeeds(folder.denoiser.path, inputs, mulberry32(3)).feeds;
const wrt = record?.wrt ?? folder.denoiser.wrt;
const of = record?.of ?? folder.denoiser.of;

interface Event { cat: string; name: string; dur: number; args?: { op_name?: string } }

async function profile(path: string, extra: Record<string, ort.Tensor>, optimizedPath?: string): Promise<{ ms: number; byOp: Map<string, number>; byNode: Map<string, [string, number]> }> {
  const scratch = mkdtempSync(join(tmpdir(), 'vjp-profile-'));
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: Number(values.threads),
    interOpNumThreads: 1,
    enableProfiling: true,
    profileFilePrefix: join(scratch, 'p'),
    ...(optimizedPath ? { optimizedModelFilePath: optimizedPath } : {}),
  });
  const runs = Number(values.runs);
  const all = { ...toOrt(feeds), ...extra };
  for (let i = 0; i < 2; i++) await session.run(all);
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.run(all);
  const ms = (performance.now() - t0) / runs;
  session.endProfiling();
  await session.release();
  // The node binding does not return the profile's file name; it is the one file in scratch.
  const file = join(scratch, readdirSync(scratch).find((f) => f.endsWith('.json')) ?? '');
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  rmSync(scratch, { recursive: true, force: true });
  const byOp = new Map<string, number>();
  const byNode = new Map<string, [string, number]>();
  // Kernel events of all runs, warm-up included; divided by the number of runs they cover.
  const total = runs + 2;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const node = e.name.slice(0, -'_kernel_time'.length);
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / 1000 / total);
    const prev = byNode.get(node);
    byNode.set(node, [op, (prev?.[1] ?? 0) + e.dur / 1000 / total]);
  }
  return { ms, byOp, byNode };
}

const fwd = await profile(folder.denoiser.path, {});
const x = feeds[wrt]!;
const outType = model.graph.output.find((o) => o.name === of)?.type?.tensorType?.elemType ?? x.elemType;
const vjpPath = values.graph ? join(folder.denoiser.path, '..', values.graph) : folder.denoiser.vjpPath;
const cot: Record<string, ort.Tensor> = { [gradName(of)]: toOrtTensor(outType, randn(x.dims.reduce((a, b) => a * b, 1), mulberry32(5)), x.dims) };
// A gated graph runs its backward only when asked (shared/onnx/autodiff/backward-gate.ts).
if (loadModel(vjpPath).model.graph.input.some((i) => i.name === WITH_GRADIENT)) cot[WITH_GRADIENT] = new ort.Tensor('bool', [true], []);
const vjp = await profile(vjpPath, cot, values.optimized);

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
console.log(`${dir}: forward ${fwd.ms.toFixed(2)} ms (kernels ${sum(fwd.byOp).toFixed(2)}), gradient graph ${vjp.ms.toFixed(2)} ms (kernels ${sum(vjp.byOp).toFixed(2)}), ratio ${(vjp.ms / fwd.ms).toFixed(2)}`);
// Gradient nodes are named vjp/...; ORT keeps the name (with a fusion suffix) in the profile.
const gradPart = [...vjp.byNode.entries()].filter(([n]) => n.startsWith('vjp/')).reduce((a, [, [, t]]) => a + t, 0);
console.log(`gradient graph kernels: forward nodes ${(sum(vjp.byOp) - gradPart).toFixed(2)} ms, gradient nodes ${gradPart.toFixed(2)} ms`);
console.log('\nop type              fwd ms   vjp ms');
const ops = [...new Set([...fwd.byOp.keys(), ...vjp.byOp.keys()])].sort((a, b) => (vjp.byOp.get(b) ?? 0) - (vjp.byOp.get(a) ?? 0));
for (const op of ops) console.log(`${op.padEnd(20)} ${(fwd.byOp.get(op) ?? 0).toFixed(2).padStart(7)}  ${(vjp.byOp.get(op) ?? 0).toFixed(2).padStart(7)}`);
// Which forward op each gradient node was emitted for: the graph is rebuilt in memory with the
// current rules (node names are deterministic, so they match the file unless --graph names a
// graph built by other rules). ORT appends fusion suffixes to names, so match by prefix.
if (!values['no-attribute']) {
  const owner = new Map<string, string>();
  buildVjpGraph(model, { wrt, of, onEmit: (fwdNode, emitted) => emitted.forEach((n) => owner.set(n.name, fwdNode.opType)) });
  const byForwardOp = new Map<string, [number, number]>();
  for (const [name, [, t]] of vjp.byNode) {
    if (!name.startsWith('vjp/')) continue;
    const base = name.split('/').slice(0, 2).join('/');
    const op = owner.get(base) ?? '(unattributed)';
    const prev = byForwardOp.get(op) ?? [0, 0];
    byForwardOp.set(op, [prev[0] + t, prev[1] + 1]);
  }
  console.log('\ngradient kernel time by the forward op it differentiates');
  for (const [op, [t, n]] of [...byForwardOp.entries()].sort((a, b) => b[1][0] - a[1][0])) {
    console.log(`${op.padEnd(20)} ${t.toFixed(2).padStart(7)} ms  ${String(n).padStart(4)} nodes  fwd ${(fwd.byOp.get(op) ?? 0).toFixed(2).padStart(6)} ms`);
  }
}
console.log(`\ntop ${values.top} nodes of the gradient graph`);
const nodes = [...vjp.byNode.entries()].sort((a, b) => b[1][1] - a[1][1]).slice(0, Number(values.top));
for (const [name, [op, t]] of nodes) console.log(`${t.toFixed(3).padStart(8)} ms  ${op.padEnd(18)} ${name}`);
