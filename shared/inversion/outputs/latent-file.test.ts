import { describe, expect, it } from 'vitest';
import { decodeLatentFile, decodeTrajectoryFile, encodeLatentFile, encodeTrajectoryFile, type LatentMetadata } from './latent-file.ts';
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

  it('keeps a negative prompt that looks like JSON a string, and reads files written before the render fields', () => {
    const latent = new Float32Array(4);
    const full = { ...meta, negativePrompt: '123', width: 16, height: 8 };
    expect(decodeLatentFile(encodeLatentFile(latent, [1, 2, 2], full)).meta).toEqual(full);
    expect(decodeLatentFile(encodeLatentFile(latent, [1, 2, 2], meta)).meta.negativePrompt).toBeUndefined();
  });

  it('reads a trajectory back as x_1..x_T and names a missing step', () => {
    const xs = [new Float32Array(6).fill(1), new Float32Array(6).fill(2), new Float32Array(6).fill(3), new Float32Array(6).fill(4)];
    const back = decodeTrajectoryFile(encodeTrajectoryFile(xs, [1, 2, 3], meta));
    expect(back.trajectory.map((x) => x[0])).toEqual([1, 2, 3, 4]);
    expect(back.dims).toEqual([1, 2, 3]);
    expect(() => decodeTrajectoryFile(encodeTrajectoryFile(xs.slice(0, 3), [1, 2, 3], meta), 't.safetensors')).toThrow(/t.safetensors has no tensor named 'x_4'/);
  });

  it('rejects a file without a latent or with bad metadata', () => {
    const bytes = encodeTrajectoryFile([new Float32Array(2)], [2], meta);
    expect(() => decodeLatentFile(bytes, 'x.safetensors')).toThrow(/x.safetensors has no tensor named 'latent'/);
    expect(() => encodeLatentFile(new Float32Array(1), [1], { ...meta, steps: 0 })).toThrow();
  });
});
