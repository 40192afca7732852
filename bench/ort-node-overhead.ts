/**
 * ONNX Runtime's fixed cost per node on the CPU, beside the cost of the same node on a tensor the
 * size of a small UNet activation: one chain of N Add nodes on a one-element tensor and one on
 * [2, 64, 16, 16], each run as one session, one thread. Per-node time = (run time) / N, so the
 * one fixed cost of a session.run call is spread over the chain.
 *
 *   npx tsx bench/ort-node-overhead.ts [--nodes 1000] [--rounds 30] [--out bench/results/ort-node-overhead.md]
 */
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { serializeModel } from '../shared/onnx/model-io.ts';
import { tinyModel } from '../shared/onnx/testing/tiny-model.ts';
import { machine, provenance, writeReport } from './report-context.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '30' },
    out: { type: 'string', default: 'bench/results/ort-node-overhead.md' },
  },
});
const nodes = Number(values.nodes);
const rounds = Number(values.rounds);
if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`--nodes: expected a positive integer, got '${values.nodes}'`);

async function perNodeMicroseconds(dims: number[]): Promise<number> {
  const model = tinyModel({
    opset: 18,
    inputs: [{ name: 'x', dims }],
    constants: [{ name: 'one', dims: [1], values: [1] }],
    build: (b) => {
      let y = 'x';
      for (let i = 0; i < nodes; i++) y = b.op('Add', [y, 'one']);
      return [{ name: y, dims }];
    },
  });
  const session = await ort.InferenceSession.create(serializeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = { x: new ort.Tensor('float32', new Float32Array(dims.reduce((a, d) => a * d, 1)), dims) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t0);
  }
  await session.release();
  return ([...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]! * 1000) / nodes;
}

const shapes = [[1], [2, 64, 16, 16], [2, 64, 32, 32]];
const started = new Date();
const rows: string[] = [];
for (const dims of shapes) {
  const us = await perNodeMicroseconds(dims);
  rows.push(`| [${dims.join(', ')}] | ${dims.reduce((a, d) => a * d, 1)} | ${us.toFixed(2)} |`);
  console.log(rows.at(-1));
}
const table = [
  '# ONNX Runtime (CPU) cost per node: fixed cost vs work',
  '',
  `Machine: ${machine()}. One intra-op thread; a chain of ${nodes} Add nodes (x + 1), median of ${rounds} runs after 3 warm-up runs, divided by ${nodes}.`,
  provenance('bench/ort-node-overhead.ts', started),
  '',
  'The one-element row is the fixed cost of dispatching a node; the others add the elementwise work on activations of',
  "the fixtures' size at 16x16 and 32x32 latents (64 channels, batch 2).",
  '',
  '| tensor | elements | microseconds per node |',
  '|---|---|---|',
  ...rows,
  '',
];
writeReport(values.out!, table);
