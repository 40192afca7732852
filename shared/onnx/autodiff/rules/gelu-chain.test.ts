import { describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { runAdjoint } from '../../testing/adjoint.ts';
import { tinyModel } from '../../testing/tiny-model.ts';
import { allNodes, backwardBranch } from '../backward-gate.ts';
import { buildVjpGraph } from '../build-vjp.ts';

// ORT's CPU provider has no double-precision Erf: these run in float32.
const F = TensorDataType.FLOAT;

type Form = 'scaled-last' | 'scaled-first' | 'times-rsqrt2';

/** gelu(v) as exports write it: v * (erf(v / sqrt 2) + 1) * 0.5, in one of three orders. */
function erfGelu(b: GraphBuilder, v: string, t: number, form: Form): string {
  const c = (x: number) => b.scalar(x, t);
  const scaled = form === 'times-rsqrt2' ? b.mul(v, c(Math.SQRT1_2)) : b.div(v, c(Math.SQRT2));
  const a = b.add(b.op('Erf', [scaled]), c(1));
  return form === 'scaled-first' ? b.mul(b.mul(v, c(0.5)), a) : b.mul(b.mul(v, a), c(0.5));
}

interface Case {
  name: string;
  build: (b: GraphBuilder, t: number) => string;
  /** Forward values the backward may read (besides inputs); anything else read fails the test. */
  reads: (forward: Map<string, string>) => string[] | undefined;
}

const first = (b: GraphBuilder) => b.op('Tanh', ['x']);

const cases: Case[] = [
  ...(['scaled-last', 'scaled-first', 'times-rsqrt2'] as const).map((form) => ({
    name: `gelu, ${form}`,
    build: (b: GraphBuilder, t: number) => erfGelu(b, first(b), t, form),
    reads: (f: Map<string, string>) => [...f.entries()].filter(([, op]) => op === 'Tanh').map(([name]) => name),
  })),
  {
    name: 'gated: h * gelu(gate), halves of one projection',
    build: (b, t) => {
      const p = b.op('Tanh', ['x']);
      const h = b.op('Slice', [p, b.int64s([0]), b.int64s([4]), b.int64s([-1])]);
      const gate = b.op('Slice', [p, b.int64s([4]), b.int64s([8]), b.int64s([-1])]);
      return b.mul(h, erfGelu(b, gate, t, 'scaled-last'));
    },
    // h and gate, and the Tanh's own output (its rule's).
    reads: (f) => [...f.entries()].filter(([, op]) => op === 'Slice' || op === 'Tanh').map(([name]) => name),
  },
  {
    name: 'gelu also read elsewhere: the gated chain does not match, the gelu chain does',
    build: (b, t) => {
      const g = erfGelu(b, first(b), t, 'scaled-last');
      return b.add(b.mul('x', g), g);
    },
    reads: () => undefined,
  },
  {
    name: 'erf term also read elsewhere: node by node',
    build: (b, t) => {
      const v = first(b);
      const a = b.add(b.op('Erf', [b.div(v, b.scalar(Math.SQRT2, t))]), b.scalar(1, t));
      return b.add(b.mul(b.mul(v, a), b.scalar(0.5, t)), a);
    },
    reads: () => undefined,
  },
];

describe('erf GELU chain gradients', () => {
  for (const c of cases) {
    {
      const t = F;
      it(c.name, async () => {
        const model = tinyModel({ opset: 14, inputs: [{ name: 'x', dims: ['n', 3, 8], elemType: t }], build: (b) => [{ name: c.build(b, t), dims: ['n', 3, c.name.startsWith('gated') ? 4 : 8], elemType: t }] });
        const of = model.graph.output[0]!.name;
        const vjp = buildVjpGraph(model, { wrt: 'x', of });
        const nodes = allNodes(vjp.graph);
        const forward = new Map<string, string>();
        for (const n of nodes) if (!n.name.startsWith('vjp/')) n.output.forEach((o) => forward.set(o, n.opType));
        const allowed = c.reads(forward);
        if (allowed) {
          // What the backward branch reads (shape arithmetic outside it reads shapes only).
          const read = new Set(backwardBranch(vjp.graph)!.node.flatMap((n) => n.input).filter((x) => forward.has(x)));
          expect([...read].sort()).toEqual([...allowed].sort());
        }
        const r = await runAdjoint(model, { wrt: 'x', of, dims: { x: [2, 3, 8] }, seed: 3, step: 1e-2 });
        expect(r.forwardMismatch).toBe(0);
        expect(r.relError).toBeLessThan(2e-3);
      });
    }
  }
});
