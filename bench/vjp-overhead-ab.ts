/**
 * A/B timing of gradient graphs of one fixture, interleaved in one process so that load from
 * other work on the machine hits every variant alike: the forward and each named gradient graph
 * (files in the denoiser's folder) run in turn, round after round; prints median and minimum
 * wall time and median CPU time per graph and the ratios to the forward. For comparing rule
 * changes: build one graph per checkout of the rules with --build, then time them together.
 *
 *   npx tsx bench/vjp-overhead-ab.ts <model-dir> --build <name.onnx>   (current rules, no manifest change)
 *   npx tsx bench/vjp-overhead-ab.ts <model-dir> <name.onnx> [<name.onnx> ...] [--latent 32] [--rounds 20]
 *
 * Built graphs sit beside model.onnx (ONNX Runtime resolves the weights they reference relative
 * to the graph file) and only model_vjp.onnx there is ignored by git: delete the others after use.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { denoiserFeeds, syntheticFeeds, toOrt } from '../shared/diffusion/denoiser-feeds.ts';
import { openModelFolder } from '../shared/diffusion/model-folder.ts';
import { mulberry32, randn } from '../shared/numeric/random.ts';
import { buildVjpGraph, gradName } from '../shared/onnx/autodiff/build-vjp.ts';
import { loadModel, referenceEmbeddedWeights, saveModel } from '../shared/onnx/model-io.ts';
import { toOrtTensor } from '../shared/onnx/ort-tensors.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    latent: { type: 'string' },
    rounds: { type: 'string', default: '20' },
    threads: { type: 'string', default: '1' },
    build: { type: 'string' },
  },
});
const [dir, ...graphs] = positionals;
if (!dir) throw new Error('usage: vjp-overhead-ab.ts <model-dir> <graph.onnx>... | --build <name.onnx>');
const folder = openModelFolder(dir);
const loaded = loadModel(folder.denoiser.path);
const { wrt, of } = folder.denoiser;
if (values.build) {
  const vjp = buildVjpGraph(loaded.model, { wrt, of });
  referenceEmbeddedWeights(vjp, loaded.path);
  saveModel(vjp, join(folder.denoiser.path, '..', values.build));
  console.log(`${dir}: ${vjp.graph.node.length} nodes -> ${values.build}`);
  process.exit(0);
}
const model = loaded.model;
const inputs = model.graph.input.filter((i) => !model.graph.initializer.some((t) => t.name === i.name));
const feeds = values.latent ? syntheticFeeds(inputs, mulberry32(3), Number(values.latent)) : denoiserFeeds(folder.denoiser.path, inputs, mulberry32(3)).feeds;
const x = feeds[wrt]!;
const outType = model.graph.output.find((o) => o.name === of)?.type?.tensorType?.elemType ?? x.elemType;
const base = toOrt(feeds);
const withCot = { ...base, [gradName(of)]: toOrtTensor(outType, randn(x.dims.reduce((a, b) => a * b, 1), mulberry32(5)), x.dims) };
const opts = { intraOpNumThreads: Number(values.threads), interOpNumThreads: 1 };
const entries: { name: string; session: ort.InferenceSession; feeds: Record<string, ort.Tensor>; wall: number[]; cpu: number[] }[] = [];
entries.push({ name: 'forward', session: await ort.InferenceSession.create(folder.denoiser.path, opts), feeds: base, wall: [], cpu: [] });
for (const g of graphs) entries.push({ name: g, session: await ort.InferenceSession.create(join(folder.denoiser.path, '..', g), opts), feeds: withCot, wall: [], cpu: [] });
for (const e of entries) for (let i = 0; i < 3; i++) await e.session.run(e.feeds);
for (let r = 0; r < Number(values.rounds); r++) {
  for (const e of entries) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await e.session.run(e.feeds);
    e.wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    e.cpu.push((c.user + c.system) / 1000);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const f = entries[0]!;
for (const e of entries) {
  const [mw, nw, mc] = [median(e.wall), Math.min(...e.wall), median(e.cpu)];
  console.log(`${e.name.padEnd(28)} wall med ${mw.toFixed(2).padStart(7)} min ${nw.toFixed(2).padStart(7)} cpu med ${mc.toFixed(2).padStart(7)} | ratio med ${(mw / median(f.wall)).toFixed(2)} min ${(nw / Math.min(...f.wall)).toFixed(2)} cpu ${(mc / median(f.cpu)).toFixed(2)}`);
}
for (const e of entries) await e.session.release();
