import { describe, expect, it } from 'vitest';
import { attr, type GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { buildVjpGraph } from '../build-vjp.ts';
import { allNodes } from '../backward-gate.ts';

const D = TensorDataType.DOUBLE;
const F = TensorDataType.FLOAT;

interface Options {
  opset: number;
  axes: number[];
  /** Axes of the variance's ReduceMean, when they differ from the mean's. */
  varianceAxes?: number[];
  epsFirst?: boolean;
  /** Also return xc through another path, so xc gets a second cotangent. */
  leakCentered?: boolean;
}

/** y = (x - mean(x)) / sqrt(mean((x - mean)^2) + eps) * w + c, the way opset-14 exports write LayerNorm. */
function decomposed(b: GraphBuilder, t: number, o: Options): string {
  const mean = (v: string, axes: number[]) =>
    o.opset >= 18 ? b.op('ReduceMean', [v, b.int64s(axes, 'axes')]) : b.op('ReduceMean', [v], { axes: attr.ints(axes) });
  const x = b.op('Tanh', ['x']);
  const xc = b.sub(x, mean(x, o.axes));
  const variance = mean(b.op('Pow', [xc, b.scalar(2, t)]), o.varianceAxes ?? o.axes);
  const eps = b.scalar(1e-5, t);
  const s = b.op('Sqrt', [o.epsFirst ? b.add(eps, variance) : b.add(variance, eps)]);
  const y = b.add(b.mul(b.div(xc, s), 'w'), b.scalar(0.25, t));
  return o.leakCentered ? b.add(y, b.mul(xc, b.scalar(0.5, t))) : y;
}

const cases: { name: string; o: Options; chain: boolean }[] = [
  { name: 'last axis, axes attribute (opset 14)', o: { opset: 14, axes: [-1] }, chain: true },
  { name: 'last two axes, axes input (opset 18)', o: { opset: 18, axes: [1, 2] }, chain: true },
  { name: 'eps added on the left', o: { opset: 14, axes: [2], epsFirst: true }, chain: true },
  { name: 'centred value also read elsewhere: node by node', o: { opset: 14, axes: [-1], leakCentered: true }, chain: false },
  { name: 'variance over other axes: node by node', o: { opset: 14, axes: [-1], varianceAxes: [1, 2] }, chain: false },
  { name: 'leading axis: node by node', o: { opset: 14, axes: [1] }, chain: false },
];

describe('decomposed LayerNorm chain gradient', () => {
  for (const c of cases) {
    for (const t of [D, F]) {
      it(`${c.name} (${t === D ? 'float64' : 'float32'})`, async () => {
        const dims = [2, 3, 7];
        const model = tinyModel({
          opset: c.o.opset,
          inputs: [{ name: 'x', dims: ['n', 3, 7], elemType: t }],
          constants: [{ name: 'w', dims: [7], values: [0.5, -1, 2, 1.5, -0.75, 1, 3], elemType: t }],
          build: (b) => [{ name: decomposed(b, t, c.o), dims: ['n', 3, 7], elemType: t }],
        });
        const of = model.graph.output[0]!.name;
        const vjp = buildVjpGraph(model, { wrt: 'x', of });
        // The chain takes 1/s once (Reciprocal); node by node the Div rule divides by s and the
        // Sqrt rule differentiates it, and no Reciprocal appears.
        const gradient = allNodes(vjp.graph).filter((n) => n.name.startsWith('vjp/'));
        expect(gradient.some((n) => n.opType === 'Reciprocal')).toBe(c.chain);
        const r = await runAdjoint(model, { wrt: 'x', of, dims: { x: dims }, seed: 7, step: t === D ? 1e-6 : 1e-2 });
        // ONNX Runtime fuses this pattern into its own LayerNormalization kernel when it loads the
        // forward model, and rounds differently from the unfused graph inside the gradient model.
        expect(r.forwardMismatch).toBeLessThan(t === D ? 1e-10 : 1e-5);
        expect(r.relError).toBeLessThan(t === D ? 1e-8 : 2e-3);
      });
    }
  }

  it('replaces the node-by-node Div, Expand and Neg with one Reciprocal and about half the nodes', () => {
    const gradientOps = (varianceAxes: number[]) => {
      const model = tinyModel({
        opset: 14,
        inputs: [{ name: 'x', dims: ['n', 3, 7], elemType: F }],
        constants: [{ name: 'w', dims: [7], values: [1, 1, 1, 1, 1, 1, 1], elemType: F }],
        build: (b) => [{ name: decomposed(b, F, { opset: 14, axes: [-1], varianceAxes }), dims: ['n', 3, 7], elemType: F }],
      });
      return allNodes(buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name }).graph).filter((n) => n.name.startsWith('vjp/')).map((n) => n.opType);
    };
    const chain = gradientOps([-1]);
    // Variance over other axes: the same graph shape, differentiated node by node.
    const nodeByNode = gradientOps([1, 2]);
    expect(chain.filter((op) => op === 'Reciprocal')).toHaveLength(1);
    expect(chain.some((op) => op === 'Div' || op === 'Expand' || op === 'Neg')).toBe(false);
    expect(nodeByNode.some((op) => op === 'Div' || op === 'Expand' || op === 'Neg')).toBe(true);
    expect(chain.length).toBeLessThan(nodeByNode.length * 0.6);
  });
});
