import { describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { buildVjpGraph } from '../build-vjp.ts';
import { allNodes } from '../backward-gate.ts';

const D = TensorDataType.DOUBLE;
const F = TensorDataType.FLOAT;

// ORT fuses x * Sigmoid(x) into QuickGelu, which it implements for float32 only, when it loads
// a forward model that keeps the sigmoid to itself; those cases are tested in float32 alone.
const cases: { name: string; build: (b: GraphBuilder) => string; chain: boolean; float32Only?: boolean }[] = [
  { name: 'x * sigmoid(x)', build: (b) => { const t = b.op('Tanh', ['x']); return b.mul(t, b.op('Sigmoid', [t])); }, chain: true, float32Only: true },
  { name: 'sigmoid(x) * x', build: (b) => { const t = b.op('Tanh', ['x']); return b.mul(b.op('Sigmoid', [t]), t); }, chain: true, float32Only: true },
  {
    name: 'sigmoid also read elsewhere: node by node',
    build: (b) => { const s = b.op('Sigmoid', ['x']); return b.add(b.mul('x', s), b.mul(s, s)); },
    chain: false,
  },
  { name: 'sigmoid of another value: node by node', build: (b) => b.mul('x', b.op('Sigmoid', [b.op('Tanh', ['x'])])), chain: false },
];

describe('SiLU chain gradient', () => {
  for (const c of cases) {
    for (const t of c.float32Only ? [F] : [D, F]) {
      it(`${c.name} (${t === D ? 'float64' : 'float32'})`, async () => {
        const dims = [2, 3, 5];
        const model = tinyModel({ opset: 17, inputs: [{ name: 'x', dims: ['n', 3, 5], elemType: t }], build: (b) => [{ name: c.build(b), dims: ['n', 3, 5], elemType: t }] });
        const of = model.graph.output[0]!.name;
        const vjp = buildVjpGraph(model, { wrt: 'x', of });
        // The chain reads neither the forward's sigmoid nor its product (it recomputes the
        // sigmoid from x); node by node the sigmoid is read three times (dy s, 1 - s, s (1 - s)).
        const nodes = allNodes(vjp.graph);
        const forwardSigmoid = nodes.find((n) => n.opType === 'Sigmoid' && !n.name.startsWith('vjp/'))!;
        const forwardValues = [forwardSigmoid.output[0]!, of];
        const reads = nodes.filter((n) => n.name.startsWith('vjp/') && n.input.some((x) => forwardValues.includes(x))).length;
        expect(reads === 0).toBe(c.chain);
        const r = await runAdjoint(model, { wrt: 'x', of, dims: { x: dims }, seed: 5, step: t === D ? 1e-6 : 1e-2 });
        expect(r.forwardMismatch).toBe(0);
        expect(r.relError).toBeLessThan(t === D ? 1e-8 : 2e-3);
      });
    }
  }
});
