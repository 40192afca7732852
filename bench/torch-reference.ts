/**
 * The engine against an independent torch implementation of the same algorithm
 * (tools/reference/preciseinv_torch.py, torch autograd for J^T r, the same weights read from
 * models/tiny/unet/model.onnx): both invert the same x_0 in the same run, and the report
 * compares x_T (relative RMSE, max abs difference), every x*_i on the way, the per-step
 * iteration counts and the time of each side.
 *
 *   npx tsx bench/torch-reference.ts [--steps 4,10] [--images models/tiny/holdout/*.png]
 *       [--variants ddim,hybrid,lbfgs,gradient] [--eta E] [--max-iters K] [--threads 1] [--control hybrid,lbfgs,gradient]
 *       [--out bench/results/torch-reference.md] [--append]
 *
 * Each image is prepared as the engine prepares it (decodeImage, prepareImage with the tiny
 * model's resolution rule, the identity VAE) and inverted on its own (batch 1) on both sides,
 * so neither side's batching enters the comparison. Both sides get the same thread count (ORT
 * intra-op = torch intra-op, inter-op 1 on both) and one untimed forward + VJP at the image's
 * shape before the timed inversion; setup (sessions, Python start, weight loading) is untimed.
 * Times are wall and CPU seconds; on a shared machine the CPU ratio is the steadier one.
 * --control V also runs the torch tool, for the PreciseInv variants V, with float64 network evaluations (outputs rounded to
 * float32): torch against itself with only the model's rounding changed, the yardstick for how
 * much of the engine-vs-torch difference rounding alone explains.
 * `hybrid` is the engine's default descent (Anderson mixing, then L-BFGS), and both sides
 * evaluate the model as the engine does: one fused run for a point's loss and gradient, each
 * line-search trial fused or forward-only by the same rule (methods/trial-policy.ts) from each
 * side's own measured costs. eta defaults to the registry's rule for the step count
 * (etaForSteps), maxIters to the `tiny` entry's. --torch-evaluation two-run makes the torch side
 * take each gradient as the engine did before the fused graph (a no_grad forward for r, then a
 * forward with autograd and its backward): the yardstick for what fusing saves on that side. --append adds this run's report to
 * the end of --out (e.g. a longer run at other settings) instead of replacing it. Progress goes
 * to stderr.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { z } from 'zod';
import { getModel } from '../models/registry.ts';
import { etaForSteps } from '../shared/contracts/model-manifest.ts';
import { float32Tensor, parseSafetensors, serializeSafetensors, tensorToFloat64, type SafetensorsTensor } from '../shared/formats/safetensors.ts';
import { decodeImage } from '../shared/diffusion/image/decode-image.ts';
import { prepareImage } from '../shared/diffusion/image/prepare-image.ts';
import { denoiserSessionOptions, openDenoiserSession } from '../shared/diffusion/denoiser-session.ts';
import { readFolderManifest } from '../shared/diffusion/folder-manifest.ts';
import { OnnxDenoiser } from '../shared/diffusion/onnx-denoiser.ts';
import { DiffusionPipeline } from '../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { samplingPlan } from '../shared/diffusion/schedulers/sampling-plan.ts';
import { evaluateObjective, type Denoiser, type StepObjective } from '../shared/inversion/denoiser.ts';
import { invert, reconstruct } from '../shared/inversion/invert.ts';
import { stepSolver } from '../shared/inversion/invert-images.ts';
import type { StepRecord } from '../shared/inversion/step-record.ts';
import { choices, commandLine, gitRevision, list, machine, stepCounts } from './report-context.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MODEL_DIR = join(ROOT, 'models/tiny');
const PYTHON = join(ROOT, 'tools/.venv/bin/python');
const TOOL = join(ROOT, 'tools/reference/preciseinv_torch.py');
const VARIANTS = ['ddim', 'hybrid', 'lbfgs', 'gradient'] as const;
type Variant = (typeof VARIANTS)[number];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    steps: { type: 'string', default: '4,10' },
    // `--images models/tiny/holdout/*.png`: the shell expands the glob, the extra paths arrive as positionals.
    images: { type: 'string' },
    variants: { type: 'string', default: 'ddim,hybrid,lbfgs' },
    eta: { type: 'string' },
    'max-iters': { type: 'string' },
    threads: { type: 'string', default: '1' },
    control: { type: 'string', default: '' },
    append: { type: 'boolean', default: false },
    'torch-evaluation': { type: 'string', default: 'fused' },
    out: { type: 'string', default: 'bench/results/torch-reference.md' },
  },
});


const stepsList = stepCounts(values.steps);
const variants: Variant[] = choices('variants', values.variants, VARIANTS);
const tiny = getModel('tiny');
const fixedEta = values.eta === undefined ? undefined : Number(values.eta);
if (fixedEta !== undefined && !(Number.isFinite(fixedEta) && fixedEta > 0)) throw new Error(`--eta expects a positive number, got '${values.eta}'`);
const etaFor = (steps: number): number => fixedEta ?? etaForSteps(tiny.inversionDefaults, steps);
const maxIters = values['max-iters'] === undefined ? tiny.inversionDefaults.maxIters : Number(values['max-iters']);
if (!Number.isInteger(maxIters) || maxIters < 0 || maxIters > 10000) throw new Error(`--max-iters expects an integer in 0..10000, got '${values['max-iters']}'`);
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new Error(`--threads expects an integer in 1..64, got '${values.threads}'`);
const outPath = resolve(values.out);
const torchEvaluation = choices('torch-evaluation', values['torch-evaluation'], ['fused', 'two-run'] as const)[0]!;
const controlled = values.control === '' ? [] : list('control', values.control).map((v) => {
  if (v !== 'hybrid' && v !== 'lbfgs' && v !== 'gradient') throw new Error(`--control expects some of hybrid, lbfgs, gradient, got '${v}'`);
  return v;
});

const holdoutJson = JSON.parse(readFileSync(join(MODEL_DIR, 'holdout.json'), 'utf8')) as { holdoutFiles: Record<string, string> };
const imagePaths = values.images === undefined ? Object.values(holdoutJson.holdoutFiles).map((f) => join(MODEL_DIR, f)) : [values.images, ...positionals].map((p) => resolve(p));
if (values.images === undefined && positionals.length > 0) throw new Error(`unexpected arguments: ${positionals.join(' ')}`);

if (!existsSync(PYTHON)) {
  process.stderr.write(
    `torch-reference needs the Python tools venv (${relative(ROOT, PYTHON)} is missing). Create it from the repository root:\n` +
      '  python3 -m venv tools/.venv\n  tools/.venv/bin/pip install -r tools/requirements.txt\n',
  );
  process.exit(2);
}
const gradientGraph = readFolderManifest(MODEL_DIR)?.gradientGraph;
if (variants.some((v) => v !== 'ddim') && !gradientGraph) throw new Error(`${relative(ROOT, MODEL_DIR)} has no gradient graph: run \`preciseinv prepare models/tiny\``);

// ---------------------------------------------------------------- the torch tool's output

const ToolStep = z.object({
  step: z.number(),
  timestep: z.number(),
  iterations: z.number(),
  residual: z.number().nullable(),
  converged: z.boolean(),
  forwardEvals: z.number(),
  vjpEvals: z.number(),
});
const ToolResult = z.object({
  threads: z.object({ intraOp: z.number(), interOp: z.number() }),
  torch: z.string(),
  weights: z.object({ parameters: z.number(), preconditioningTablesMatch: z.boolean() }),
  onnxCheck: z.object({ forwardMaxAbs: z.number(), forwardRel: z.number(), vjpRel: z.number().nullable(), onnxruntime: z.string() }).nullable(),
  setupSeconds: z.number(),
  plan: z.array(z.object({ timestep: z.number(), a: z.number(), b: z.number(), alpha: z.number(), sigma: z.number() })),
  images: z.record(z.string(), z.object({ seconds: z.number(), cpuSeconds: z.number(), modelSeconds: z.object({ forward: z.number(), vjp: z.number() }), steps: z.array(ToolStep) })),
});
type ToolResult = z.infer<typeof ToolResult>;

interface Side {
  xT: Float64Array;
  trajectory: Float64Array[];
  steps: { iterations: number; residual: number | null; forwardEvals: number; vjpEvals: number }[];
  seconds: number;
  cpuSeconds: number;
  /** Wall seconds inside forward and forward+VJP model runs. */
  modelSeconds: { forward: number; vjp: number };
}

/** Wall time spent in each kind of model run, so the time ratio can be split into its parts. */
class TimedDenoiser implements Denoiser {
  readonly seconds = { forward: 0, vjp: 0 };
  constructor(private readonly inner: Denoiser) {}
  get sampleSize(): number {
    return this.inner.sampleSize;
  }
  async predict(x: Float32Array, rows: readonly number[], timestep: number): Promise<Float32Array> {
    const t0 = performance.now();
    const out = await this.inner.predict(x, rows, timestep);
    this.seconds.forward += (performance.now() - t0) / 1000;
    return out;
  }
  async predictWithVjp(x: Float32Array, rows: readonly number[], timestep: number, cotangent: Float32Array) {
    const t0 = performance.now();
    const out = await this.inner.predictWithVjp(x, rows, timestep, cotangent);
    this.seconds.vjp += (performance.now() - t0) / 1000;
    return out;
  }
  async objective(x: Float32Array, rows: readonly number[], timestep: number, objective: StepObjective, withGradient: boolean) {
    const t0 = performance.now();
    const out = await evaluateObjective(this.inner, x, rows, timestep, objective, withGradient);
    this.seconds[withGradient ? 'vjp' : 'forward'] += (performance.now() - t0) / 1000;
    return out;
  }
}

function runTorch(dir: string, steps: number, variant: Variant, modelDtype: 'float32' | 'float64' = 'float32'): { result: ToolResult; tensors: Map<string, SafetensorsTensor> } {
  const out = join(dir, `torch-${steps}-${variant}-${modelDtype}.safetensors`);
  const json = join(dir, `torch-${steps}-${variant}-${modelDtype}.json`);
  const args = [TOOL, '--x0', join(dir, 'x0.safetensors'), '--out', out, '--json', json, '--steps', String(steps), '--threads', String(threads)];
  args.push('--method', variant === 'ddim' ? 'ddim' : 'preciseinv', '--descent', variant === 'ddim' ? 'lbfgs' : variant, '--eta', String(etaFor(steps)), '--max-iters', String(maxIters), '--model-dtype', modelDtype, '--evaluation', torchEvaluation);
  // OpenMP and MKL read these before torch.set_num_threads runs; keep every pool at the same size.
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const res = spawnSync(PYTHON, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) throw new Error(`${relative(ROOT, TOOL)} exited with ${res.status ?? res.signal}`);
  return { result: ToolResult.parse(JSON.parse(readFileSync(json, 'utf8'))), tensors: parseSafetensors(new Uint8Array(readFileSync(out)), out).tensors };
}

function torchSide(result: ToolResult, tensors: Map<string, SafetensorsTensor>, name: string, steps: number): Side {
  const get = (key: string) => {
    const t = tensors.get(key);
    if (!t) throw new Error(`torch output has no tensor '${key}'`);
    return tensorToFloat64(t);
  };
  const image = result.images[name];
  if (!image) throw new Error(`torch output has no image '${name}'`);
  return {
    xT: get(name),
    trajectory: Array.from({ length: steps }, (_, i) => get(`${name}/x_${i + 1}`)),
    steps: image.steps,
    seconds: image.seconds,
    cpuSeconds: image.cpuSeconds,
    modelSeconds: image.modelSeconds,
  };
}

// ---------------------------------------------------------------- comparison

function diff(ours: Float64Array, ref: Float64Array): { rel: number; maxAbs: number } {
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  for (let k = 0; k < ref.length; k++) {
    const d = ours[k]! - ref[k]!;
    num += d * d;
    den += ref[k]! * ref[k]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { rel: Math.sqrt(num / den), maxAbs };
}

function psnr(x: Float32Array, ref: Float32Array): number {
  let se = 0;
  for (let k = 0; k < ref.length; k++) se += (x[k]! - ref[k]!) ** 2;
  return 10 * Math.log10(4 / (se / ref.length));
}

function modelRuns(side: Side): Row['model']['ours'] {
  return {
    forwardRuns: side.steps.reduce((a, s) => a + s.forwardEvals, 0),
    vjpRuns: side.steps.reduce((a, s) => a + s.vjpEvals, 0),
    ...side.modelSeconds,
  };
}

interface Row {
  steps: number;
  variant: Variant;
  image: string;
  size: string;
  /** Timestep of each inversion step i = 1..T. */
  timesteps: number[];
  xT: { rel: number; maxAbs: number };
  perStep: { rel: number; itersOurs: number; itersTorch: number; resOurs: number | null; resTorch: number | null }[];
  evals: { ours: number; torch: number };
  seconds: { ours: number; torch: number };
  cpuSeconds: { ours: number; torch: number };
  /** Model runs of each kind and the wall seconds inside them. */
  model: Record<'ours' | 'torch', { forwardRuns: number; vjpRuns: number; forward: number; vjp: number }>;
  /** PSNR (dB, pixels in [-1, 1]) of x_0 against the engine's sampler run from each side's x_T. */
  psnr: { ours: number; torch: number };
  /** torch (float32 model) against torch with float64 network evaluations, when --control ran. */
  control?: { xT: number; perStep: number[] };
}




// ---------------------------------------------------------------- run

const pipeline = await DiffusionPipeline.open(MODEL_DIR);
// The pipeline's own session takes ORT's default thread count; this one is the same graph with
// the thread count pinned, so the comparison with torch uses equal pools.
const sessionOptions: ort.InferenceSession.SessionOptions = { ...denoiserSessionOptions(['cpu']), intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' };
const { session, gradient } = await openDenoiserSession(pipeline.folder, gradientGraph, sessionOptions);
const work = mkdtempSync(join(tmpdir(), 'torch-reference-'));
const rows: Row[] = [];
const toolInfo: ToolResult[] = [];
const planChecks: string[] = [];
const started = performance.now();
try {
  const images: { name: string; dims: number[]; x0: Float32Array }[] = [];
  for (const path of imagePaths) {
    const name = basename(path, extname(path));
    const prepared = await prepareImage(await decodeImage(new Uint8Array(readFileSync(path)), name), tiny.resolution);
    const latents = await pipeline.vae.encode(prepared.chw, [1, 3, prepared.height, prepared.width]);
    images.push({ name, dims: latents.dims.slice(1), x0: Float32Array.from(latents.data) });
  }
  writeFileSync(join(work, 'x0.safetensors'), serializeSafetensors(Object.fromEntries(images.map((im) => [im.name, float32Tensor(im.x0, im.dims)]))));

  for (const steps of stepsList) {
    const plan = samplingPlan(pipeline.scheduler, steps);
    for (const variant of variants) {
      const label = `T=${steps} ${variant}`;
      const solver = stepSolver({ method: variant === 'ddim' ? 'ddim' : 'preciseinv', eta: etaFor(steps), maxIters, descent: variant === 'ddim' ? 'lbfgs' : variant });
      const ours = new Map<string, Side>();
      const denoisers = new Map<string, Denoiser>();
      for (const im of images) {
        const conditioning = await pipeline.conditioning([''], 1, { height: im.dims[1]!, width: im.dims[2]! });
        const onnx = new OnnxDenoiser({
          session,
          gradient,
          inputs: pipeline.denoiserInputs,
          wrt: pipeline.folder.denoiser.wrt,
          of: pipeline.folder.denoiser.of,
          latentDims: im.dims,
          conditioning,
          guidance: 1,
        });
        // The same untimed warm-up the torch tool does: one forward and one VJP at this shape.
        await onnx.predict(im.x0, [0], plan.steps[0]!.timestep);
        if (gradient) await onnx.objective(im.x0, [0], plan.steps[0]!.timestep, { target: im.x0, a: 1, b: -0.5, sigma: 0.5 }, true);
        const denoiser = new TimedDenoiser(onnx);
        denoisers.set(im.name, onnx);
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        const result = await invert(solver, denoiser, [im.x0], plan, { seed: 0 });
        const cpu = process.cpuUsage(c0);
        const seconds = (performance.now() - t0) / 1000;
        const records: StepRecord[] = result.steps[0]!;
        ours.set(im.name, {
          xT: Float64Array.from(result.latents[0]!),
          trajectory: result.trajectories[0]!.map((x) => Float64Array.from(x)),
          steps: records.map((r) => ({ iterations: r.iterations, residual: Number.isFinite(r.residual) ? r.residual : null, forwardEvals: r.forwardEvals, vjpEvals: r.vjpEvals })),
          seconds,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
          modelSeconds: denoiser.seconds,
        });
        process.stderr.write(`${label} ${im.name}: ours ${seconds.toFixed(2)} s\n`);
      }
      const { result: tool, tensors } = runTorch(work, steps, variant);
      toolInfo.push(tool);
      const control = variant !== 'ddim' && controlled.includes(variant) ? runTorch(work, steps, variant, 'float64') : undefined;
      if (variant === variants[0]) {
        const sameT = tool.plan.length === plan.steps.length && tool.plan.every((s, q) => s.timestep === plan.steps[q]!.timestep);
        let worst = 0;
        tool.plan.forEach((s, q) => {
          const o = plan.steps[q]!;
          for (const [x, y] of [[s.a, o.a], [s.b, o.b], [s.alpha, o.alpha], [s.sigma, o.sigma]] as const) worst = Math.max(worst, Math.abs(x - y) / Math.abs(y));
        });
        planChecks.push(`T=${steps}: timesteps ${sameT ? 'identical' : 'DIFFER'} ([${plan.steps.map((s) => s.timestep).join(', ')}]), a/b/alpha/sigma max relative difference ${worst.toExponential(1)}`);
      }
      for (const im of images) {
        const o = ours.get(im.name)!;
        const t = torchSide(tool, tensors, im.name, steps);
        // Both x_T through the same (our) sampler: does the x_T difference show in the reconstruction?
        const [recOurs, recTorch] = await reconstruct(denoisers.get(im.name)!, [Float32Array.from(o.xT), Float32Array.from(t.xT)], plan, 0);
        const row: Row = {
          steps,
          variant,
          image: im.name,
          size: `${im.dims[2]}x${im.dims[1]}`,
          timesteps: plan.steps.map((st) => st.timestep).reverse(),
          xT: diff(o.xT, t.xT),
          perStep: o.trajectory.map((x, q) => ({
            rel: diff(x, t.trajectory[q]!).rel,
            itersOurs: o.steps[q]!.iterations,
            itersTorch: t.steps[q]!.iterations,
            resOurs: o.steps[q]!.residual,
            resTorch: t.steps[q]!.residual,
          })),
          evals: {
            ours: o.steps.reduce((a, s) => a + s.forwardEvals + s.vjpEvals, 0),
            torch: t.steps.reduce((a, s) => a + s.forwardEvals + s.vjpEvals, 0),
          },
          seconds: { ours: o.seconds, torch: t.seconds },
          cpuSeconds: { ours: o.cpuSeconds, torch: t.cpuSeconds },
          model: { ours: modelRuns(o), torch: modelRuns(t) },
          psnr: { ours: psnr(recOurs!, im.x0), torch: psnr(recTorch!, im.x0) },
        };
        if (control) {
          const c = torchSide(control.result, control.tensors, im.name, steps);
          row.control = { xT: diff(c.xT, t.xT).rel, perStep: c.trajectory.map((x, q) => diff(x, t.trajectory[q]!).rel) };
        }
        rows.push(row);
        process.stderr.write(`${label} ${im.name}: torch ${t.seconds.toFixed(2)} s, x_T rel ${row.xT.rel.toExponential(2)}, max abs ${row.xT.maxAbs.toExponential(2)}\n`);
      }
    }
  }
} finally {
  await session.release();
  await pipeline.release();
  rmSync(work, { recursive: true, force: true });
}
const wallSeconds = (performance.now() - started) / 1000;

// ---------------------------------------------------------------- report

const variantLabel = (v: Variant) => (v === 'ddim' ? 'ddim' : `preciseinv (${v})`);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const e2 = (x: number) => x.toExponential(1);
const iterList = (r: Row, side: 'itersOurs' | 'itersTorch') => r.perStep.map((s) => s[side]).join(' ');
const first = toolInfo[0];

const hasControl = rows.some((r) => r.control);
const mainTable = [
  `| T | method | image | size | x_T rel. RMSE | x_T max abs | worst x*_i rel. (step) |${hasControl ? ' control: torch vs torch fp64-model, x_T rel. |' : ''} reconstruction PSNR from x_T, ours / torch (dB) | iterations per step, ours | iterations per step, torch | model evals ours / torch | CPU s ours | CPU s torch | ours / torch (CPU) | ours / torch (wall) |`,
  `|---:|---|---|---|---:|---:|---:|${hasControl ? '---:|' : ''}---:|---|---|---:|---:|---:|---:|---:|`,
  ...rows.map((r) => {
    const worst = r.perStep.reduce((w, s, q) => (s.rel > r.perStep[w]!.rel ? q : w), 0);
    const control = hasControl ? ` ${r.control ? e2(r.control.xT) : '-'} |` : '';
    return `| ${r.steps} | ${variantLabel(r.variant)} | ${r.image} | ${r.size} | ${e2(r.xT.rel)} | ${e2(r.xT.maxAbs)} | ${e2(r.perStep[worst]!.rel)} (${worst + 1}) |${control} ${r.psnr.ours.toFixed(2)} / ${r.psnr.torch.toFixed(2)} | ${iterList(r, 'itersOurs')} | ${iterList(r, 'itersTorch')} | ${r.evals.ours} / ${r.evals.torch} | ${r.cpuSeconds.ours.toFixed(2)} | ${r.cpuSeconds.torch.toFixed(2)} | ${(r.cpuSeconds.ours / r.cpuSeconds.torch).toFixed(2)} | ${(r.seconds.ours / r.seconds.torch).toFixed(2)} |`;
  }),
];

const timeTable = [
  '| T | method | model evals ours / torch | CPU s ours | CPU s torch | ours / torch (CPU) | wall s ours | wall s torch | ours / torch (wall) | forward ms/run ours / torch | VJP ms/run ours / torch |',
  '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...stepsList.flatMap((steps) =>
    variants.map((v) => {
      const rs = rows.filter((r) => r.steps === steps && r.variant === v);
      const total = (pick: (r: Row) => number) => sum(rs.map(pick));
      const [co, ct, wo, wt] = [total((r) => r.cpuSeconds.ours), total((r) => r.cpuSeconds.torch), total((r) => r.seconds.ours), total((r) => r.seconds.torch)];
      const perRun = (side: 'ours' | 'torch', kind: 'forward' | 'vjp') => {
        const runs = total((r) => r.model[side][kind === 'forward' ? 'forwardRuns' : 'vjpRuns']);
        return runs === 0 ? '-' : ((1000 * total((r) => r.model[side][kind])) / runs).toFixed(1);
      };
      return `| ${steps} | ${variantLabel(v)} | ${total((r) => r.evals.ours)} / ${total((r) => r.evals.torch)} | ${co.toFixed(2)} | ${ct.toFixed(2)} | ${(co / ct).toFixed(2)} | ${wo.toFixed(2)} | ${wt.toFixed(2)} | ${(wo / wt).toFixed(2)} | ${perRun('ours', 'forward')} / ${perRun('torch', 'forward')} | ${perRun('ours', 'vjp')} / ${perRun('torch', 'vjp')} |`;
    }),
  ),
];

const perStepTables = rows
  .filter((r) => r.variant !== 'ddim')
  .map((r) =>
    [
      `**T=${r.steps}, ${variantLabel(r.variant)}, ${r.image}** (step i inverts timestep i of the plan, i = 1 is the least noisy)`,
      '',
      `| step | timestep | x*_i rel. diff |${r.control ? ' control x*_i rel. diff |' : ''} iterations ours / torch | residual ours | residual torch |`,
      `|---:|---:|---:|${r.control ? '---:|' : ''}---:|---:|---:|`,
      ...r.perStep.map((s, q) => {
        const control = r.control ? ` ${e2(r.control.perStep[q]!)} |` : '';
        return `| ${q + 1} | ${r.timesteps[q]} | ${e2(s.rel)} |${control} ${s.itersOurs} / ${s.itersTorch} | ${s.resOurs === null ? '-' : e2(s.resOurs)} | ${s.resTorch === null ? '-' : e2(s.resTorch)} |`;
      }),
      '',
    ].join('\n'),
  );

const report = [
  '# The engine against a torch reference implementation (tiny model)',
  '',
  `Generated by \`bench/torch-reference.ts\` on ${new Date().toISOString().slice(0, 10)}, revision \`${gitRevision()}\`, wall ${wallSeconds.toFixed(0)} s.`,
  '',
  `- Command: \`${commandLine('bench/torch-reference.ts')}\``,
  `- Machine: ${machine()}; shared with other work, so timings are noisy.`,
  `- Threads: onnxruntime-node ${ort.env.versions.common} intra-op ${threads}, inter-op 1 (sequential); torch ${first?.torch ?? '?'} intra-op ${first?.threads.intraOp ?? '?'}, inter-op ${first?.threads.interOp ?? '?'} (OMP_NUM_THREADS=${threads}). Equal on purpose.`,
  `- Inversion: DDIM plan of models/tiny, eta ${stepsList.map((t) => `${etaFor(t).toExponential(1)} at T=${t}`).join(', ')} (x_0 units), maxIters ${maxIters}, L-BFGS memory 16 after the hybrid's mixing and 8 for lbfgs alone, Armijo 1e-4; each image on its own (batch 1). ${torchEvaluation === 'fused' ? "Both sides take a point's loss and gradient from one fused evaluation (ours: the fused objective graph; torch: forward with autograd and the backward of r)" : "Ours takes a point's loss and gradient from the fused objective graph; torch (--torch-evaluation two-run) from a no_grad forward for r, then a forward with autograd and its backward"}; both choose fused or forward-only trials by p > (R - 1) / R from their own measured cost ratio R.`,
  `- Timing: the inversion loop only (after one untimed forward + VJP at the image's shape on each side); sessions, Python start-up and weight loading are outside it. CPU seconds are the process's user + system time over the loop (Node: process.cpuUsage, Python: time.process_time).`,
  `- Torch side: \`tools/reference/preciseinv_torch.py\`, weights read from unet/model.onnx (${first?.weights.parameters ?? '?'} parameters; preconditioning tables equal to the graph's constants: ${first?.weights.preconditioningTablesMatch ?? '?'}).`,
  `- Model agreement at x_0 of the first image, every plan timestep, worst case (torch vs onnxruntime ${first?.onnxCheck?.onnxruntime ?? '?'} in Python, same thread count): forward max abs ${first?.onnxCheck ? e2(first.onnxCheck.forwardMaxAbs) : 'n/a'}, relative ${first?.onnxCheck ? e2(first.onnxCheck.forwardRel) : 'n/a'}; committed gradient graph model_vjp.onnx J^T u vs autograd (seeded u), relative ${first?.onnxCheck?.vjpRel == null ? 'n/a' : e2(first.onnxCheck.vjpRel)}. This is the float32 disagreement of the two model implementations that everything below starts from.`,
  `- Plans (torch recomputes diffusers' DDIM trailing formulas): ${planChecks.join('; ')}.`,
  '',
  'x_T rel. RMSE is ||ours - torch|| / ||torch||; "worst x*_i" is the same measure at every intermediate latent, with the step where it is largest. The PSNR column runs the engine\'s DDIM sampler from each side\'s x_T and compares the result with x_0 (the identity VAE makes the latent the image): whether an x_T difference matters for the reconstruction.',
  '',
  ...mainTable,
  '',
  '## Time, summed over images',
  '',
  ...timeTable,
  '',
  '## Per step',
  '',
  ...perStepTables,
].join('\n');

mkdirSync(dirname(outPath), { recursive: true });
if (values.append && existsSync(outPath)) writeFileSync(outPath, `${readFileSync(outPath, 'utf8')}\n${report.replace(/^# .*\n/, '# Another run\n')}\n`);
else writeFileSync(outPath, `${report}\n`);
process.stderr.write(`wrote ${relative(process.cwd(), outPath)}\n`);
