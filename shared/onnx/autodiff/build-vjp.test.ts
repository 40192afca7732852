import { afterEach, describe, expect, it, vi } from 'vitest';
import { attr, type GraphBuilder } from '../graph-builder.ts';
import type { VjpRule } from './rule.ts';
import { vjpRules } from './rules/index.ts';
import { buildVjpGraph } from './build-vjp.ts';
import { runAdjoint } from '../testing/adjoint.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { TensorDataType } from '../proto/types.ts';
import { allNodes } from './backward-gate.ts';

const F = TensorDataType.FLOAT;

/** GEGLU as the TorchScript exporter writes chunk(2, -1): two Slices of one projection. */
function chunkedGeglu(opset: number) {
  return tinyModel({
    opset,
    inputs: [{ name: 'x', dims: ['N', 5, 6] }],
    build: (b) => {
      const h = b.op('Slice', ['x', b.int64s([0]), b.int64s([3]), b.int64s([-1])]);
      const g = b.op('Slice', ['x', b.int64s([3]), b.int64s([9223372036854775807]), b.int64s([-1])]);
      return [{ name: b.mul(h, b.op('Sigmoid', [g])), dims: ['N', 5, 3] }];
    },
  });
}

describe('reverse-mode traversal', () => {
  it('emits no gradient for a factor tied to the input only through its shape', async () => {
    // The TorchScript attention scale: q * sqrt(1 / sqrt(d)), d read from q's shape. Its cotangent
    // could only end in the Shape; the dead nodes would be pruned, but need not be built at all.
    const model = tinyModel({
      opset: 14,
      inputs: [{ name: 'x', dims: ['N', 5, 4] }],
      build: (b) => {
        const d = b.cast(b.op('Gather', [b.op('Shape', ['x']), b.int64Scalar(2)], { axis: attr.int(0) }), F);
        const scale = b.op('Sqrt', [b.op('Reciprocal', [b.op('Sqrt', [d])])]);
        return [{ name: b.mul(b.op('Tanh', ['x']), scale), dims: ['N', 5, 4] }];
      },
    });
    const of = model.graph.output[0]!.name;
    const emitted: string[] = [];
    buildVjpGraph(model, { wrt: 'x', of, onEmit: (node, nodes) => nodes.forEach((n) => emitted.push(`${node.opType}>${n.opType}`)) });
    // dy * scale for the Mul, and the Tanh derivative; nothing for the scale's own chain.
    expect(emitted.filter((e) => e.startsWith('Mul>'))).toEqual(['Mul>Mul']);
    expect(emitted.filter((e) => /^(Sqrt|Reciprocal|Cast)>/.test(e))).toEqual([]);
    const r = await runAdjoint(model, { wrt: 'x', of, dims: { x: [2, 5, 4] } });
    expect(r.relError).toBeLessThan(2e-3);
  });

  it('chunk-style Slices that tile an axis get one Concat instead of a sum of padded zeros', async () => {
    const model = chunkedGeglu(17);
    const vjp = buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name });
    const ops = allNodes(vjp.graph).map((n) => n.opType);
    expect(ops).toContain('Concat');
    expect(ops).not.toContain('Sum');
    expect(ops).not.toContain('Pad');
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [2, 5, 6] } });
    expect(r.relError).toBeLessThan(2e-3);
  });

  it('overlapping slices still sum their cotangents', async () => {
    const model = tinyModel({
      opset: 18,
      inputs: [{ name: 'x', dims: [4, 6] }],
      build: (b) => {
        const p = b.op('Slice', ['x', b.int64s([0]), b.int64s([4]), b.int64s([1])]);
        const q = b.op('Slice', ['x', b.int64s([2]), b.int64s([6]), b.int64s([1])]);
        return [{ name: b.mul(p, q), dims: [4, 4] }];
      },
    });
    const vjp = buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name });
    expect(allNodes(vjp.graph).map((n) => n.opType)).toContain('Sum');
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [4, 6] } });
    expect(r.relError).toBeLessThan(2e-3);
  });

  it('shape arithmetic reading the latent needs no rule (Shape -> Reshape target)', async () => {
    const model = tinyModel({
      opset: 14,
      inputs: [{ name: 'x', dims: ['N', 3, 4] }],
      build: (b) => {
        const shape = b.shapeOf('x');
        const n = b.op('Gather', [shape, b.int64Scalar(0)], {}, 'n');
        const target = b.op('Concat', [b.unsqueeze(n, [0]), b.int64s([12])], { axis: { kind: 'int', value: 0 } });
        const flat = b.reshape('x', target);
        const floor = b.op('Floor', [b.op('Cast', [shape], { to: { kind: 'int', value: F } })]);
        void floor;
        return [{ name: b.mul(flat, flat), dims: ['N', 12] }];
      },
    });
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [2, 3, 4] } });
    expect(r.relError).toBeLessThan(2e-3);
  });

  it('a value used by several consumers accumulates every contribution', async () => {
    const model = tinyModel({
      opset: 17,
      inputs: [{ name: 'x', dims: [3, 5], elemType: TensorDataType.DOUBLE }],
      build: (b) => {
        const s = b.op('Exp', ['x']);
        return [{ name: b.add(b.mul(s, 'x'), b.op('Transpose', [b.op('Transpose', [s])])), dims: [3, 5], elemType: TensorDataType.DOUBLE }];
      },
    });
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [3, 5] }, step: 1e-6 });
    expect(r.relError).toBeLessThan(1e-7);
  });

  it('refuses opsets outside 14..21 and graphs that are not topologically sorted', () => {
    const old = chunkedGeglu(17);
    old.opsetImport = [{ domain: '', version: 13 }];
    expect(() => buildVjpGraph(old, { wrt: 'x', of: old.graph.output[0]!.name })).toThrow(/opset 13 is not supported: gradient graphs are built for opsets 14 to 21/);
    const unsorted = chunkedGeglu(17);
    unsorted.graph.node.reverse();
    expect(() => buildVjpGraph(unsorted, { wrt: 'x', of: unsorted.graph.output[0]!.name })).toThrow(/not topologically sorted/);
  });
});

describe('cotangent slots', () => {
  afterEach(() => vi.restoreAllMocks());

  it('refuses a rule that returns other than one cotangent slot per input, naming the node', () => {
    const model = tinyModel({
      opset: 17,
      inputs: [{ name: 'x', dims: [2, 3] }],
      build: (b) => [{ name: b.op('Reshape', ['x', b.int64s([3, 2])], {}, 'flip'), dims: [3, 2] }],
    });
    const reshape = vjpRules['Reshape']!;
    vi.spyOn(vjpRules as Record<string, VjpRule>, 'Reshape').mockImplementation((ctx) => reshape(ctx).slice(0, 1));
    const node = model.graph.node[0]!;
    expect(() => buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name })).toThrow(
      `node '${node.name}' (Reshape): the 'Reshape' gradient rule returned 1 cotangent slot(s) for the node's 2 input(s)`,
    );
  });

  // Ops whose optional inputs change a node's input count: each arity must still get one slot per input.
  const arities: { name: string; x: number[]; y: number[]; node: (b: GraphBuilder) => string }[] = [
    { name: 'Slice with starts and ends only', x: [4, 6], y: [2, 6], node: (b) => b.op('Slice', ['x', b.int64s([1]), b.int64s([3])]) },
    { name: 'Slice with axes and steps', x: [4, 6], y: [4, 3], node: (b) => b.op('Slice', ['x', b.int64s([0]), b.int64s([6]), b.int64s([1]), b.int64s([2])]) },
    { name: 'Clip without bounds', x: [2, 3], y: [2, 3], node: (b) => b.op('Clip', ['x']) },
    { name: 'Clip with a max only', x: [2, 3], y: [2, 3], node: (b) => b.op('Clip', ['x', '', b.scalar(0.5, F)]) },
    { name: 'Pad with a constant value', x: [2, 3], y: [2, 5], node: (b) => b.op('Pad', ['x', b.int64s([0, 1, 0, 1]), b.scalar(0, F)]) },
    { name: 'Conv with a bias', x: [1, 2, 4, 4], y: [1, 3, 2, 2], node: (b) => b.op('Conv', ['x', b.constant(F, [3, 2, 3, 3], new Array(54).fill(0.1)), b.constant(F, [3], [1, 2, 3])]) },
    { name: 'Gemm without C', x: [2, 3], y: [2, 4], node: (b) => b.op('Gemm', ['x', b.constant(F, [3, 4], new Array(12).fill(0.2))]) },
    { name: 'ReduceSum with axes', x: [2, 3], y: [2, 1], node: (b) => b.op('ReduceSum', ['x', b.int64s([1])]) },
  ];
  it.each(arities)('$name: one slot per input', ({ x, y, node }) => {
    const model = tinyModel({ opset: 17, inputs: [{ name: 'x', dims: x }], build: (b) => [{ name: node(b), dims: y }] });
    const calls: [op: string, slots: number, inputs: number][] = [];
    for (const op of new Set(model.graph.node.map((n) => n.opType))) {
      const rule = vjpRules[op];
      if (!rule) continue;
      vi.spyOn(vjpRules as Record<string, VjpRule>, op).mockImplementation((ctx) => {
        const slots = rule(ctx);
        calls.push([op, slots.length, ctx.node.input.length]);
        return slots;
      });
    }
    buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name });
    expect(calls.length).toBe(1);
    expect(calls[0]![1]).toBe(calls[0]![2]);
  });
});
