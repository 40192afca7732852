/**
 * One measurement of bench/full-scale.ts in a process of its own, so its peak RSS is that
 * measurement's alone. Prints one JSON line.
 *
 *   npx tsx bench/full-scale-ort.ts prepare <model-dir>
 *   npx tsx bench/full-scale-ort.ts forward <model-dir> --reference FILE [--runs 3] [--threads 2]
 *   npx tsx bench/full-scale-ort.ts engine <model-dir> --reference FILE [--runs 3] [--threads 2]
 *
 * prepare: builds the gradient graph (preciseinv prepare). forward: the forward graph alone in a
 * session with onnxruntime's default options (what a plain inference server runs). engine: the
 * session the engine runs (denoiser-session.ts), serving forward-only and gradient runs; after
 * one untimed call of each, `--runs` forward-only runs then `--runs` gradient runs, and the
 * output and gradient for the reference's inputs and cotangent compared with torch's.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { parseSafetensors, tensorToFloat64 } from '../shared/formats/safetensors.ts';
import { denoiserSessionOptions, openDenoiserSession } from '../shared/diffusion/denoiser-session.ts';
import { readFolderManifest } from '../shared/diffusion/folder-manifest.ts';
import { openModelFolder } from '../shared/diffusion/model-folder.ts';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { gradName } from '../shared/onnx/autodiff/build-vjp.ts';
import { loadModel } from '../shared/onnx/model-io.ts';
import { fromOrtTensor, gradientSwitch, objectiveOff, toOrtTensor } from '../shared/onnx/ort-tensors.ts';
import { TensorDataType } from '../shared/onnx/proto/types.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { reference: { type: 'string' }, runs: { type: 'string', default: '3' }, threads: { type: 'string', default: '2' } },
});
const [mode, dir] = positionals;
if (!dir || !['prepare', 'forward', 'engine'].includes(mode ?? '')) {
  process.stderr.write('usage: full-scale-ort.ts prepare|forward|engine <model-dir> [--reference FILE] [--runs N] [--threads N]\n');
  process.exit(2);
}
const runs = Number(values.runs);
const threads = Number(values.threads);

function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Largest |a - b| over largest |b|: normwise, so near-zero entries cannot inflate it. */
function relError(a: Float64Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

function allFinite(a: Float64Array): boolean {
  return a.every((x) => Number.isFinite(x));
}

async function timedRuns(run: () => Promise<unknown>): Promise<number[]> {
  await run();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await run();
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

const folder = openModelFolder(dir);
const report: Record<string, unknown> = { mode, model: dir, threads };

if (mode === 'prepare') {
  const t = performance.now();
  const record = await prepareGradientGraph(dir);
  report['seconds'] = (performance.now() - t) / 1000;
  report['nodes'] = record.nodes;
} else {
  if (!values.reference) throw new Error(`${mode} needs --reference (written by tools/replicas/torch_bench.py)`);
  const reference = parseSafetensors(new Uint8Array(readFileSync(values.reference)), values.reference);
  const graph = loadModel(folder.denoiser.path).model.graph;
  const inputs = graph.input.filter((i) => !graph.initializer.some((t) => t.name === i.name));
  const { wrt, of } = folder.denoiser;
  const elemType = (name: string) => inputs.find((i) => i.name === name)?.type?.tensorType?.elemType ?? TensorDataType.FLOAT;
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of inputs) {
    const t = reference.tensors.get(i.name);
    if (!t) throw new Error(`${values.reference} has no '${i.name}'`);
    feeds[i.name] = toOrtTensor(elemType(i.name), tensorToFloat64(t), t.shape);
  }
  const cot = reference.tensors.get('grad_out')!;
  const torchOut = tensorToFloat64(reference.tensors.get('out')!);
  const torchGrad = tensorToFloat64(reference.tensors.get('grad')!);
  const pinned = { intraOpNumThreads: threads, interOpNumThreads: 1 };
  if (mode === 'forward') {
    const t = performance.now();
    const session = await ort.InferenceSession.create(folder.denoiser.path, { executionProviders: ['cpu'], ...pinned });
    report['createSeconds'] = (performance.now() - t) / 1000;
    report['rssMbAfterCreate'] = Math.round(process.memoryUsage().rss / 2 ** 20);
    let out: Float64Array | undefined;
    const seconds = await timedRuns(async () => {
      out = fromOrtTensor((await session.run(feeds, [of]))[of]!);
    });
    report['forwardSeconds'] = median(seconds);
    report['forwardRuns'] = seconds;
    report['outRelError'] = relError(out!, torchOut);
  } else {
    const record = readFolderManifest(folder.dir)?.gradientGraph;
    if (!record) throw new Error(`${dir} has no gradient graph: run prepare first`);
    const { session, gradient, createSeconds } = await openDenoiserSession(folder, record, { ...denoiserSessionOptions(['cpu']), ...pinned });
    if (!gradient) throw new Error(`${dir}: the engine session is not a gradient graph`);
    report['createSeconds'] = createSeconds;
    report['rssMbAfterCreate'] = Math.round(process.memoryUsage().rss / 2 ** 20);
    const outType = elemType(wrt);
    const zeros = toOrtTensor(outType, new Float64Array(cot.shape.reduce((a, d) => a * d, 1)), cot.shape);
    const u = toOrtTensor(outType, tensorToFloat64(cot), cot.shape);
    let out: Float64Array | undefined;
    let grad: Float64Array | undefined;
    const forward = await timedRuns(async () => {
      out = fromOrtTensor((await session.run({ ...feeds, [gradName(of)]: zeros, ...objectiveOff(cot.shape), ...gradientSwitch(false) }, [of]))[of]!);
    });
    report['peakRssMbForward'] = peakRssMb();
    const backward = await timedRuns(async () => {
      const res = await session.run({ ...feeds, [gradName(of)]: u, ...objectiveOff(cot.shape), ...gradientSwitch(true) });
      grad = fromOrtTensor(res[gradName(wrt)]!);
    });
    report['forwardSeconds'] = median(forward);
    report['gradientSeconds'] = median(backward);
    report['forwardRuns'] = forward;
    report['gradientRuns'] = backward;
    report['vjpOverForward'] = median(backward) / median(forward);
    report['outRelError'] = relError(out!, torchOut);
    report['relError'] = relError(grad!, torchGrad);
    report['finite'] = allFinite(out!) && allFinite(grad!);
  }
}
report['peakRssMb'] = peakRssMb();
process.stdout.write(`${JSON.stringify(report)}\n`);
