import { describe, expect, it } from 'vitest';
import type { GraphProto, ValueInfoProto } from '../onnx/proto/types.ts';
import { typicalDims } from './typical-dims.ts';

function input(name: string, dims: (string | number)[]): ValueInfoProto {
  return { name, type: { tensorType: { elemType: 1, shape: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } };
}

const unet = {
  node: [],
  initializer: [],
  output: [],
  input: [input('sample', ['batch', 4, 'height', 'width']), input('timestep', ['steps']), input('encoder_hidden_states', ['batch', 'sequence', 768])],
} as unknown as GraphProto;

describe('typical dims of a denoiser', () => {
  it('one image at the native latent size, 77 text tokens', () => {
    expect(typicalDims(unet, 'sample', 64)).toEqual({ batch: 1, height: 64, width: 64, steps: 1, sequence: 77 });
  });
  it('without a native size the spatial dims stay symbolic', () => {
    expect(typicalDims(unet, 'sample', undefined)).toEqual({ batch: 1, steps: 1, sequence: 77 });
  });
});
