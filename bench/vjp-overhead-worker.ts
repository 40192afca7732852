/**
 * One measurement in its own process (so peak memory belongs to one graph): runs either the
 * forward denoiser or its gradient graph on the fixture's inputs and prints
 * {"medianMs", "peakRssMb"} as JSON.
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { gradName } from '../shared/onnx/autodiff/build-vjp.ts';
import { denoiserFeeds, syntheticFeeds, toOrt } from '../shared/diffusion/denoiser-feeds.ts';
import { readFolderManifest } from '../shared/diffusion/folder-manifest.ts';
import { openModelFolder } from '../shared/diffusion/model-folder.ts';
import { loadModel } from '../shared/onnx/model-io.ts';
import { toOrtTensor } from '../shared/onnx/ort-tensors.ts';
import { mulberry32, randn } from '../shared/numeric/random.ts';

const [dir, mode, threadsArg, runsArg, latentArg] = process.argv.slice(2);
if (!dir || (mode !== 'forward' && mode !== 'vjp')) {
  console.error('usage: vjp-overhead-worker.ts <model-dir> forward|vjp [threads] [runs] [latent]');
  process.exit(2);
}
const threads = Number(threadsArg ?? 1);
const runs = Number(runsArg ?? 20);
const folder = openModelFolder(dir);
const record = readFolderManifest(folder.dir)?.gradientGraph;
if (!record) throw new Error(`${dir}: run preciseinv prepare first`);
const model = loadModel(folder.denoiser.path).model;
const inputs = model.graph.input.filter((i) => !model.graph.initializer.some((t) => t.name === i.name));
// The fixture's reference inputs (16x16 latents), or synthetic ones at the requested latent size.
const feeds = latentArg ? syntheticFeeds(inputs, mulberry32(3), Number(latentArg)) : denoiserFeeds(folder.denoiser.path, inputs, mulberry32(3)).feeds;
const ortFeeds = toOrt(feeds);
const path = mode === 'forward' ? folder.denoiser.path : join(folder.dir, record.path);
const session = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1 });
if (mode === 'vjp') {
  const x = feeds[record.wrt]!;
  const outType = model.graph.output.find((o) => o.name === record.of)?.type?.tensorType?.elemType ?? x.elemType;
  // Denoiser outputs have the latent's shape.
  const dims = x.dims;
  ortFeeds[gradName(record.of)] = toOrtTensor(outType, randn(dims.reduce((a, b) => a * b, 1), mulberry32(5)), dims);
}
for (let i = 0; i < 3; i++) await session.run(ortFeeds);
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await session.run(ortFeeds);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ medianMs: times[Math.floor(times.length / 2)], peakRssMb: process.resourceUsage().maxRSS / 1024 }));
await session.release();
