/**
 * What a product that contracts a square [L x L] tensor over its row index costs in ONNX Runtime's
 * CPU MatMul, beside the ordinary product with the same operands: the shape of the attention
 * gradient's dV = P^T dO and dK^T = Q^T dS. Three single-product models per shape, timed
 * round-robin in one process (so load hits them alike):
 *   ordinary     P W                          [B, L, L] x [B, L, D]
 *   small left   W^T P, with W^T given        [B, D, L] x [B, L, L]  (what the rules emit for dV)
 *   folded       Transpose(P) W               ORT folds the Transpose into FusedMatMul
 *
 *   npx tsx bench/transposed-product.ts [--shapes 4x256x4,4x1024x4,1x4096x40] [--rounds 20] [--out bench/results/transposed-product.md]
 */
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { mulberry32 } from '../shared/numeric/random.ts';
import { serializeModel } from '../shared/onnx/model-io.ts';
import { tinyModel } from '../shared/onnx/testing/tiny-model.ts';
import { machine, provenance, writeReport } from './report-context.ts';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: '4x256x4,4x256x8,4x333x16,4x1024x4,4x1024x8,4x1024x24,1x1024x64,1x4096x40' },
    rounds: { type: 'string', default: '20' },
    out: { type: 'string', default: 'bench/results/transposed-product.md' },
  },
});

type Form = 'ordinary' | 'small left' | 'folded';
const forms: Form[] = ['ordinary', 'small left', 'folded'];

async function session(form: Form, b: number, l: number, d: number): Promise<ort.InferenceSession> {
  const model = tinyModel({
    opset: 18,
    inputs: [
      { name: 'p', dims: [b, l, l] },
      { name: 'w', dims: form === 'small left' ? [b, d, l] : [b, l, d] },
    ],
    build: (g) => {
      const out =
        form === 'ordinary' ? g.op('MatMul', ['p', 'w'])
        : form === 'small left' ? g.op('MatMul', ['w', 'p'])
        : g.op('MatMul', [g.transpose('p', [0, 2, 1]), 'w']);
      return [{ name: out, dims: form === 'small left' ? [b, d, l] : [b, l, d] }];
    },
  });
  return ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

function randomTensor(dims: number[], seed: number): ort.Tensor {
  const rand = mulberry32(seed);
  const data = new Float32Array(dims.reduce((a, x) => a * x, 1));
  for (let i = 0; i < data.length; i++) data[i] = rand();
  return new ort.Tensor('float32', data, dims);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const started = new Date();
const rows: string[] = [];
for (const spec of values.shapes!.split(',')) {
  const [b, l, d] = spec.split('x').map(Number) as [number, number, number];
  if (![b, l, d].every((x) => Number.isInteger(x) && x > 0)) throw new Error(`--shapes: '${spec}' is not BxLxD with positive integers`);
  const p = randomTensor([b, l, l], 1);
  const w = randomTensor([b, l, d], 2);
  const wt = randomTensor([b, d, l], 3);
  const runs = await Promise.all(forms.map(async (form) => ({ form, session: await session(form, b, l, d), ms: [] as number[] })));
  const feeds = (form: Form) => ({ p, w: form === 'small left' ? wt : w });
  for (const r of runs) for (let i = 0; i < 3; i++) await r.session.run(feeds(r.form));
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const r of runs) {
      const t0 = performance.now();
      await r.session.run(feeds(r.form));
      r.ms.push(performance.now() - t0);
    }
  }
  const [ordinary, smallLeft, folded] = runs.map((r) => median(r.ms)) as [number, number, number];
  rows.push(`| ${b} | ${l} | ${d} | ${ordinary.toFixed(3)} | ${smallLeft.toFixed(3)} | ${(smallLeft / ordinary).toFixed(2)} | ${folded.toFixed(3)} | ${(folded / ordinary).toFixed(2)} |`);
  console.log(rows.at(-1));
  for (const r of runs) await r.session.release();
}

const table = [
  '# Products that contract a square tensor over its row index, ONNX Runtime (CPU)',
  '',
  `Machine: ${machine()}. One intra-op thread; medians of ${values.rounds} round-robin runs after 3 warm-up runs each.`,
  provenance('bench/transposed-product.ts', started),
  '',
  'P is [B, L, L] (an attention probability tensor), W is [B, L, D] (D head columns). Ordinary = P W;',
  'small left = W^T P with W^T given; folded = Transpose(P) W, which ONNX Runtime runs as one FusedMatMul. Times in ms; ratios to ordinary.',
  "Each time includes one session.run call's fixed cost from Node (about 0.1 ms on this machine), which pulls the smallest shapes' ratios toward 1.",
  '',
  '| B | L | D | ordinary ms | small left ms | small left / ordinary | folded ms | folded / ordinary |',
  '|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
];
writeReport(values.out!, table);
