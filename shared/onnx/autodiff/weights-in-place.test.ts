import { describe, expect, it } from 'vitest';
import { attr } from '../graph-builder.ts';
import { TensorDataType } from '../proto/types.ts';
import { mulberry32, randn } from '../../numeric/random.ts';
import { runAdjoint } from '../testing/adjoint.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { allNodes } from './backward-gate.ts';
import { buildVjpGraph } from './build-vjp.ts';
import { MAX_COPIED_WEIGHT_BYTES } from './rules/conv.ts';

const F = TensorDataType.FLOAT;

// A 3x3 Conv with 48 channels (81 KiB of float32 weights, above MAX_COPIED_WEIGHT_BYTES) and a
// Linear layer on the pixels: what the gradient graph does with each weight decides whether
// onnxruntime holds it once or twice (a Transpose or Slice of a constant is folded into a copy).
const C = 48;
const rand = mulberry32(4);
const model = tinyModel({
  opset: 17,
  inputs: [{ name: 'x', dims: ['n', C, 'h', 'w'], elemType: F }],
  constants: [
    { name: 'conv_w', dims: [C, C, 3, 3], values: Float32Array.from(randn(C * C * 9, rand), (v) => v / 20), elemType: F },
    { name: 'lin_w', dims: [C, 16], values: Float32Array.from(randn(C * 16, rand), (v) => v / 7), elemType: F },
  ],
  build: (b) => {
    const conv = b.op('Conv', ['x', 'conv_w'], { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) });
    const pixels = b.op('Transpose', [b.op('Tanh', [conv])], { perm: attr.ints([0, 2, 3, 1]) });
    return [{ name: b.op('MatMul', [pixels, 'lin_w']), dims: ['n', 'h', 'w', 16], elemType: F }];
  },
});

describe('gradients of constant weights read the weights in place', () => {
  it('the backward reads each weight only through ConvTranspose and Gemm, never through a transform', () => {
    expect(C * C * 9 * 4).toBeGreaterThan(MAX_COPIED_WEIGHT_BYTES);
    const vjp = buildVjpGraph(model, { wrt: 'x', of: model.graph.output[0]!.name });
    const readers = (w: string) => allNodes(vjp.graph).filter((n) => n.name.startsWith('vjp/') && n.input.includes(w)).map((n) => n.opType);
    expect(readers('conv_w')).toEqual(['ConvTranspose']);
    expect(readers('lin_w')).toEqual(['Gemm']);
  });

  it('and the gradient is the adjoint of the forward', async () => {
    const r = await runAdjoint(model, { wrt: 'x', of: model.graph.output[0]!.name, dims: { x: [2, C, 5, 6] }, seed: 9, step: 1e-2 });
    expect(r.forwardMismatch).toBe(0);
    expect(r.relError).toBeLessThan(2e-3);
  });
});
