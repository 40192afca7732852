/**
 * Inversion quality of the engine on the bundled pixel-space model: for every number of steps T,
 * every method and two image sets (photographs the model was trained on, bench/data/tiny-train/,
 * and the held-out ones, models/tiny/holdout/), invert the set, re-run the sampler from x_T and
 * measure the reconstruction. Writes a markdown report with the mean table and per-image PSNR.
 *
 *   npx tsx bench/inversion-quality.ts [--steps 2,4,10,50] [--methods preciseinv,ddim,fixed-point]
 *       [--eta E | --eta T:E,T:E,...] [--max-iters K] [--fixed-point-iters K]
 *       [--no-two-run] [--out bench/results/inversion-quality.md]
 *
 * eta and maxIters default to the registry's `tiny` entry; eta may differ per T, since the last
 * step's reachable residual grows as T shrinks. Fixed-point runs --fixed-point-iters (10)
 * iterations per step. PreciseInv also runs a second time with the step objective evaluated by a
 * forward run and a gradient run instead of the fused objective graph (`preciseinv (two-run)`
 * rows; --no-two-run leaves them out): the same iterates, so the difference in model cost is what
 * the fused graph saves, measured in the same run. Progress goes to stderr.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getModel } from '../models/registry.ts';
import { etaForSteps } from '../shared/contracts/model-manifest.ts';
import { readFolderManifest } from '../shared/diffusion/folder-manifest.ts';
import { DiffusionPipeline } from '../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { prepareGradientGraph } from '../shared/diffusion/prepare-gradient-graph.ts';
import { invertImages, type ImageInput, type InversionMethod, type InversionParams } from '../shared/inversion/invert-images.ts';
import type { InversionMetrics } from '../shared/inversion/outputs/inversion-metrics.ts';
import { choices, commandLine, gitRevision, list, machine, stepCounts } from './report-context.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MODEL_DIR = join(ROOT, 'models/tiny');
const TRAIN_DIR = join(ROOT, 'bench/data/tiny-train');
const METHODS: readonly InversionMethod[] = ['preciseinv', 'ddim', 'fixed-point'];

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '2,4,10,50' },
    methods: { type: 'string', default: METHODS.join(',') },
    eta: { type: 'string' },
    'max-iters': { type: 'string' },
    'fixed-point-iters': { type: 'string', default: '10' },
    out: { type: 'string', default: 'bench/results/inversion-quality.md' },
    'no-two-run': { type: 'boolean', default: false },
  },
});


const stepsList = stepCounts(values.steps);
const methods: InversionMethod[] = choices('methods', values.methods, METHODS);
const tiny = getModel('tiny');
const defaults = tiny.inversionDefaults;
// --eta is one value for every T, or per-T pairs such as 2:2e-3,10:1e-4 (T not listed: the default).
const etaByT = new Map<number, number>();
let etaAll = defaults.eta;
for (const item of values.eta === undefined ? [] : list('eta', values.eta)) {
  const [lhs, rhs] = item.includes(':') ? item.split(':') : [undefined, item];
  const value = Number(rhs);
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`--eta expects positive numbers (optionally T:eta pairs), got '${item}'`);
  if (lhs === undefined) etaAll = value;
  else if (Number.isInteger(Number(lhs)) && Number(lhs) >= 1) etaByT.set(Number(lhs), value);
  else throw new Error(`--eta pair '${item}' expects an integer T before ':'`);
}
// Without --eta, each T gets the registry's rule (etaForSteps: the model's budget shared over T steps).
const etaFor = (steps: number): number => etaByT.get(steps) ?? (values.eta === undefined ? etaForSteps(defaults, steps) : etaAll);
const fixedPointIters = Number(values['fixed-point-iters']);
if (!Number.isInteger(fixedPointIters) || fixedPointIters < 1 || fixedPointIters > 10000) throw new Error(`--fixed-point-iters expects an integer in 1..10000, got '${values['fixed-point-iters']}'`);
const maxIters = values['max-iters'] === undefined ? defaults.maxIters : Number(values['max-iters']);
if (!Number.isInteger(maxIters) || maxIters < 0 || maxIters > 10000) throw new Error(`--max-iters expects an integer in 0..10000, got '${values['max-iters']}'`);
const outPath = resolve(values.out);

interface ImageSet {
  id: 'train' | 'holdout';
  title: string;
  images: ImageInput[];
}

function loadFiles(paths: string[]): ImageInput[] {
  return paths.map((p) => ({ name: basename(p, extname(p)), bytes: new Uint8Array(readFileSync(p)) }));
}

// The held-out list comes from holdout.json rather than a directory listing, so a stray file in
// holdout/ cannot slip into the "novel images" row.
const holdoutJson = JSON.parse(readFileSync(join(MODEL_DIR, 'holdout.json'), 'utf8')) as { holdoutFiles: Record<string, string> };
const trainFiles = existsSync(TRAIN_DIR) ? readdirSync(TRAIN_DIR).filter((f) => f.endsWith('.png')).sort().map((f) => join(TRAIN_DIR, f)) : [];
if (trainFiles.length === 0) throw new Error(`no PNGs in ${relative(ROOT, TRAIN_DIR)}: run \`tools/.venv/bin/python -m tools.tiny_model.export_samples\``);
const sets: ImageSet[] = [
  { id: 'train', title: 'seen in training', images: loadFiles(trainFiles) },
  { id: 'holdout', title: 'held out', images: loadFiles(Object.values(holdoutJson.holdoutFiles).map((f) => join(MODEL_DIR, f))) },
];




interface Row {
  steps: number;
  method: InversionMethod;
  /** The method's name in the tables: `preciseinv (two-run)` for the unfused objective. */
  label: string;
  set: ImageSet;
  metrics: InversionMetrics[];
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
// metrics.psnr is null for a pixel-exact reconstruction (infinite PSNR); the mean is then infinite too.
const psnrOf = (m: InversionMetrics): number => m.psnr ?? Infinity;
const fmtPsnr = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'inf');

const params = (steps: number, method: InversionMethod, batchSize: number): InversionParams => ({
  model: 'tiny',
  method,
  steps,
  eta: etaFor(steps),
  // Fixed-point takes its iteration count from maxIters.
  maxIters: method === 'fixed-point' ? fixedPointIters : maxIters,
  guidance: defaults.guidance,
  prompt: '',
  seed: 0,
  trajectory: false,
  resolution: tiny.resolution,
  batchSize,
});

if (methods.includes('preciseinv') && !readFolderManifest(MODEL_DIR)?.gradientGraph) {
  process.stderr.write(`preparing the gradient graph of ${relative(ROOT, MODEL_DIR)} (once)...\n`);
  await prepareGradientGraph(MODEL_DIR);
}
const pipeline = await DiffusionPipeline.open(MODEL_DIR);
const twoRun = methods.includes('preciseinv') && !values['no-two-run'] ? await DiffusionPipeline.open(MODEL_DIR, { fusedObjective: false }) : undefined;
const variants = methods.flatMap((method) => [
  { method, label: method, pipeline },
  ...(method === 'preciseinv' && twoRun ? [{ method, label: 'preciseinv (two-run)', pipeline: twoRun }] : []),
]);
const rows: Row[] = [];
/**
 * Cost of one gradient-graph run in forward runs, timed here on a held-out-sized latent: model
 * cost is reported in forward-run equivalents (forward + ratio * gradient runs), since counting a
 * gradient run as one would flatter the methods that use them.
 */
async function gradientRunRatio(): Promise<number> {
  const dims = [3, 64, 96];
  const size = dims.reduce((a, b) => a * b, 1);
  const denoiser = pipeline.onnxDenoiser(await pipeline.conditioning([''], 1, { height: 64, width: 96 }), dims, 1);
  const x = Float32Array.from({ length: size }, (_, k) => Math.sin(k));
  const time = async (run: () => Promise<unknown>) => {
    const seconds: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      await run();
      if (i >= 2) seconds.push(performance.now() - t0);
    }
    return seconds.sort((a, b) => a - b)[Math.floor(seconds.length / 2)]!;
  };
  const forward = await time(() => denoiser.predict(x, [0], 500));
  // The fused objective's run: the gradient graph plus the residual's few elementwise nodes.
  const gradient = await time(() => denoiser.objective(x, [0], 500, { target: x, a: 1, b: -0.5, sigma: 0.5 }, true));
  return gradient / forward;
}
const ratio = methods.includes('preciseinv') ? await gradientRunRatio() : 1;
process.stderr.write(`gradient run / forward run: ${ratio.toFixed(2)}\n`);
const tty = process.stderr.isTTY;
const started = performance.now();
try {
  // Session start-up and first-run allocations would otherwise land in the first row's seconds.
  process.stderr.write('warm-up (untimed)...\n');
  for (const method of new Set<InversionMethod>(methods.includes('preciseinv') ? ['ddim', 'preciseinv'] : ['ddim'])) {
    await invertImages(pipeline, sets[0]!.images.slice(0, 1), { ...params(1, method, 1), maxIters: Math.min(maxIters, 1) });
  }
  const total = stepsList.length * variants.length * sets.length;
  for (const steps of stepsList) {
    for (const { method, label: name, pipeline: runner } of variants) {
      for (const set of sets) {
        const label = `[${rows.length + 1}/${total}] T=${steps} ${name} ${set.id}`;
        const t0 = performance.now();
        // A live step counter on a terminal; a log file gets one line per row instead of one per step.
        if (!tty) process.stderr.write(`${label}...\n`);
        // The whole set is one batch; images the pipeline sizes differently still run apart.
        const results = await invertImages(runner, set.images, params(steps, method, set.images.length), (names, { step, of }) => {
          if (tty) process.stderr.write(`\r\x1b[K${label}: step ${step}/${of} (${names.join(', ')})`);
        });
        const failed = results.filter((r) => !r.ok);
        if (failed.length > 0) throw new Error(`${label}: ${failed.map((r) => `${r.name}: ${r.ok ? '' : r.error}`).join('; ')}`);
        const metrics = results.flatMap((r) => (r.ok ? [r.metrics] : []));
        rows.push({ steps, method, label: name, set, metrics });
        process.stderr.write(
          `${tty ? '\r\x1b[K' : ''}${label}: PSNR ${fmtPsnr(mean(metrics.map(psnrOf)))} dB, ${mean(metrics.map((m) => m.modelEvals.forward + m.modelEvals.vjp)).toFixed(0)} evals/image, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
        );
      }
    }
  }
} finally {
  await pipeline.release();
  await twoRun?.release();
}
const wallSeconds = (performance.now() - started) / 1000;

/** Share of (image, step) pairs that reached eta, and the worst residual over all of them. */
function convergence(metrics: InversionMetrics[]): { reached: string; worst: string } {
  const perStep = metrics.flatMap((m) => m.perStep);
  const reached = perStep.filter((s) => s.converged).length;
  const residuals = perStep.flatMap((s) => (s.residual === null ? [] : [s.residual]));
  return {
    reached: `${reached}/${perStep.length} (${((100 * reached) / perStep.length).toFixed(0)}%)`,
    worst: residuals.length > 0 ? Math.max(...residuals).toExponential(2) : 'n/a',
  };
}

const meanTable = [
  '| T | method | eta | set | images | PSNR (dB) | SSIM | latent RMSE | forward / gradient runs per image | forward-run equivalents | s / image | (image, step) pairs at eta | worst residual |',
  '|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(({ steps, method, label, set, metrics }) => {
    const c = method === 'preciseinv' ? convergence(metrics) : { reached: '-', worst: '-' };
    return `| ${steps} | ${label} | ${method === 'preciseinv' ? etaFor(steps).toExponential(1) : '-'} | ${set.id} | ${metrics.length} | ${fmtPsnr(mean(metrics.map(psnrOf)))} | ${mean(metrics.map((m) => m.ssim)).toFixed(4)} | ${mean(metrics.map((m) => m.latentRmse)).toExponential(2)} | ${mean(metrics.map((m) => m.modelEvals.forward)).toFixed(1)} / ${mean(metrics.map((m) => m.modelEvals.vjp)).toFixed(1)} | ${mean(metrics.map((m) => m.modelEvals.forward + ratio * m.modelEvals.vjp)).toFixed(1)} | ${mean(metrics.map((m) => m.seconds)).toFixed(3)} | ${c.reached} | ${c.worst} |`;
  }),
];

// One column per image, train set first, so a T x method row reads across both sets.
const imageColumns = sets.flatMap((set) => set.images.map((img) => ({ set, name: img.name })));
const sizes = new Map(rows.flatMap((r) => r.metrics.map((m) => [`${r.set.id}/${m.image}`, `${m.width}x${m.height}`] as const)));
const perImageTable = [
  `| T | method | ${imageColumns.map((c) => `${c.name} (${c.set.id}, ${sizes.get(`${c.set.id}/${c.name}`) ?? '?'})`).join(' | ')} |`,
  `|---:|---|${imageColumns.map(() => '---:').join('|')}|`,
  ...stepsList.flatMap((steps) =>
    variants.map(({ label }) => {
      const cells = imageColumns.map((c) => {
        const m = rows.find((r) => r.steps === steps && r.label === label && r.set === c.set)?.metrics.find((x) => x.image === c.name);
        return m ? fmtPsnr(psnrOf(m)) : '-';
      });
      return `| ${steps} | ${label} | ${cells.join(' | ')} |`;
    }),
  ),
];

const report = [
  '# Inversion quality on the bundled tiny model',
  '',
  `- Machine: ${machine()}`,
  `- Date: ${new Date().toISOString()}; revision: ${gitRevision()}; wall time ${wallSeconds.toFixed(0)} s`,
  `- Command: \`${commandLine('bench/inversion-quality.ts')}\``,
  `- Model: \`models/tiny\` (${tiny.displayName}), sampler ${tiny.scheduler.kind}, seed 0, guidance ${defaults.guidance}, unconditional`,
  `- PreciseInv: eta ${stepsList.map((t) => `${etaFor(t).toExponential(1)} at T=${t}`).join(', ')} (threshold on each step's mean squared residual in x_0 units, ` +
    `mean(r^2) / alpha_{i-1}^2), hybrid descent (Anderson-mixed fixed-point iteration while it gains, then L-BFGS), at most ${maxIters} iterations per step. ` +
    `Fixed-point: ${fixedPointIters} iterations per step. DDIM: none (one closed-form step).` +
    (values.eta === undefined && values['max-iters'] === undefined ? ' eta and maxIters from the registry defaults.' : ''),
  `- Sets: **train** = ${sets[0]!.images.map((i) => i.name).join(', ')} (\`bench/data/tiny-train/\`, seen in training); ` +
    `**holdout** = ${sets[1]!.images.map((i) => i.name).join(', ')} (\`models/tiny/holdout/\`, never seen). ` +
    'Each image is resized so its short side is 64 px (long side a multiple of 8) and center-cropped, as by `preciseinv invert`.',
  '- The model is pixel-space with an identity VAE: the latent is the image, so the VAE ceiling PSNR is infinite and every ' +
    'dB lost is lost by the inversion (or by 8-bit quantization of the reconstruction).',
  '',
  '## Means per set',
  '',
  'PSNR and SSIM: reconstruction (sampler re-run from the inverted x_T) vs the resized input, 8-bit. Latent RMSE: reconstructed ' +
    'x_0 vs the input latent, in [-1, 1] units. Model evaluations: denoiser runs per image, inversion plus the reconstruction ' +
    `sampler, forward runs and gradient-graph runs (the forward and the gradient in one call: in the preciseinv rows the fused objective's, residual, loss and gradient, in the two-run rows J^T r of a residual from a forward run before it); forward-run equivalents count a gradient run as ${ratio.toFixed(2)} forward runs, its time measured in this run (median of 10, 96x64). Seconds: the ` +
    "batch's wall time shared equally among its images (images of one size run as one batch). Pairs at eta and worst residual " +
    '(PreciseInv only): over every (image, step) pair of the set, how many ended below eta, and the largest final residual ' +
    'the engine reports per step (`perStep.residual`, the quantity it compares with eta).',
  '',
  ...meanTable,
  '',
  '## PSNR per image (dB)',
  '',
  ...perImageTable,
  '',
];
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, report.join('\n'));
process.stderr.write(`wrote ${outPath} (${wallSeconds.toFixed(0)} s)\n`);
