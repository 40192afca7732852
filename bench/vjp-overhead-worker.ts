/**
 * One measurement in its own process. Modes `forward` and `vjp` run one graph, so the peak
 * memory printed belongs to that graph alone: {"medianMs", "peakRssMb"}. Mode `pair` loads both
 * and alternates forward and gradient-graph runs, so that load from other work on a shared
 * machine affects both sides of the ratio alike: {"forwardMs", "vjpMs", "forwardCpuMs",
 * "vjpCpuMs", "forwardMinMs", "vjpMinMs", "runs"} (medians of wall and process CPU time, and the
 * fastest wall times, which interference disturbs least).
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
if (!dir || (mode !== 'forward' && mode !== 'vjp' && mode !== 'pair')) {
  console.error('usage: vjp-overhead-worker.ts <model-dir> forward|vjp|pair [threads] [runs] [latent]');
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
const options = { intraOpNumThreads: threads, interOpNumThreads: 1 };
const vjpFeeds = (): Record<string, ort.Tensor> => {
  const x = feeds[record.wrt]!;
  const outType = model.graph.output.find((o) => o.name === record.of)?.type?.tensorType?.elemType ?? x.elemType;
  // Denoiser outputs have the latent's shape.
  const dims = x.dims;
  return { ...ortFeeds, [gradName(record.of)]: toOrtTensor(outType, randn(dims.reduce((a, b) => a * b, 1), mulberry32(5)), dims) };
};
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** Wall and CPU milliseconds of one run. */
async function timed(session: ort.InferenceSession, f: Record<string, ort.Tensor>): Promise<[number, number]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await session.run(f);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return [wall, (c.user + c.system) / 1000];
}

if (mode === 'pair') {
  const forward = await ort.InferenceSession.create(folder.denoiser.path, options);
  const vjp = await ort.InferenceSession.create(join(folder.dir, record.path), options);
  const gFeeds = vjpFeeds();
  for (let i = 0; i < 3; i++) {
    await forward.run(ortFeeds);
    await vjp.run(gFeeds);
  }
  const t = { fw: [] as number[], fc: [] as number[], vw: [] as number[], vc: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const [fw, fc] = await timed(forward, ortFeeds);
    const [vw, vc] = await timed(vjp, gFeeds);
    t.fw.push(fw);
    t.fc.push(fc);
    t.vw.push(vw);
    t.vc.push(vc);
  }
  console.log(JSON.stringify({
    forwardMs: median(t.fw),
    vjpMs: median(t.vw),
    forwardCpuMs: median(t.fc),
    vjpCpuMs: median(t.vc),
    forwardMinMs: Math.min(...t.fw),
    vjpMinMs: Math.min(...t.vw),
    runs,
  }));
  await forward.release();
  await vjp.release();
} else {
  const path = mode === 'forward' ? folder.denoiser.path : join(folder.dir, record.path);
  const session = await ort.InferenceSession.create(path, options);
  const f = mode === 'vjp' ? vjpFeeds() : ortFeeds;
  for (let i = 0; i < 3; i++) await session.run(f);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await timed(session, f))[0]);
  console.log(JSON.stringify({ medianMs: median(times), peakRssMb: process.resourceUsage().maxRSS / 1024 }));
  await session.release();
}
