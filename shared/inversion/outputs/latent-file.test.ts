import { describe, expect, it } from 'vitest';
import { decodeLatentFile, encodeLatentFile, encodeTrajectoryFile, type LatentMetadata } from './latent-file.ts';
import { parseSafetensors } from '../../formats/safetensors.ts';

const meta: LatentMetadata = {
  model: 'tiny', sampler: 'ddim', predictionType: 'epsilon', steps: 4, timesteps: [751, 501, 251, 1],
  method: 'preciseinv', eta: 1e-5, maxIters: 50, guidance: 1, prompt: 'a "quoted" prompt, with commas', seed: 7,
};

describe('latent and trajectory files', () => {
  it('round-trips x_T and its metadata', () => {
    const latent = Float32Array.from({ length: 4 * 3 * 5 }, (_, i) => Math.sin(i) * 3);
    const back = decodeLatentFile(encodeLatentFile(latent, [4, 3, 5], meta));
    expect(Array.from(back.latent)).toEqual(Array.from(latent));
    expect(back.dims).toEqual([4, 3, 5]);
    expect(back.meta).toEqual(meta);
  });

  it('stores the trajectory as x_1..x_T with 8-byte aligned data', () => {
    const xs = [new Float32Array(6).fill(1), new Float32Array(6).fill(2)];
    const bytes = encodeTrajectoryFile(xs, [1, 2, 3], meta);
    const file = parseSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual(['x_1', 'x_2']);
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
  });

  it('rejects a file without a latent or with bad metadata', () => {
    const bytes = encodeTrajectoryFile([new Float32Array(2)], [2], meta);
    expect(() => decodeLatentFile(bytes, 'x.safetensors')).toThrow(/x.safetensors has no tensor named 'latent'/);
    expect(() => encodeLatentFile(new Float32Array(1), [1], { ...meta, steps: 0 })).toThrow();
  });
});
