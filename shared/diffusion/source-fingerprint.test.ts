import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineRunner } from '../../functions/worker/engine-runner.ts';
import { silentLogger } from '../platform/logger.ts';
import { readFolderManifest } from './folder-manifest.ts';
import { DiffusionPipeline } from './pipeline/diffusion-pipeline.ts';
import { prepareGradientGraph } from './prepare-gradient-graph.ts';
import { checkGradientSource, sourceFingerprint } from './source-fingerprint.ts';
import { writePixelSpaceFolder } from './testing/synthetic-folder.ts';

/** Replaces unet/model.onnx by the same model with the conv weights negated in place: same size, other bytes. */
function replaceWeights(dir: string): void {
  const path = join(dir, 'unet', 'model.onnx');
  const bytes = readFileSync(path);
  // The folder's conv weights, as the float32 bytes the file holds.
  const w = Buffer.from(new Float32Array(Array.from({ length: 81 }, (_, i) => Math.sin(i * 1.7) * 0.35)).buffer);
  const at = bytes.indexOf(w);
  expect(at).toBeGreaterThan(0);
  for (let i = 3; i < w.length; i += 4) bytes[at + i]! ^= 0x80;
  writeFileSync(path, bytes);
}

describe('the recorded source of a gradient graph', () => {
  it('is fingerprinted by prepare, and the fingerprint changes with the weights', async () => {
    const dir = writePixelSpaceFolder();
    const record = await prepareGradientGraph(dir);
    const modelPath = join(dir, 'unet', 'model.onnx');
    expect(record.source.fingerprint).toBe(sourceFingerprint(modelPath));
    replaceWeights(dir);
    expect(sourceFingerprint(modelPath)).not.toBe(record.source.fingerprint);
  });

  it('makes DiffusionPipeline.open refuse a gradient graph whose forward model changed, saying to prepare again', async () => {
    const dir = writePixelSpaceFolder();
    await prepareGradientGraph(dir);
    (await DiffusionPipeline.open(dir)).release();
    replaceWeights(dir);
    await expect(DiffusionPipeline.open(dir)).rejects.toThrow(/changed after .*model_vjp\.onnx was built from it.*run `preciseinv prepare .*` again/);
  });

  it('falls back to the size for records written before fingerprints', async () => {
    const dir = writePixelSpaceFolder();
    const record = await prepareGradientGraph(dir);
    const { fingerprint: _f, ...old } = record.source;
    expect(() => checkGradientSource(dir, old, 'g')).not.toThrow();
    writeFileSync(join(dir, 'unet', 'model.onnx'), Buffer.concat([readFileSync(join(dir, 'unet', 'model.onnx')), Buffer.from([0])]));
    expect(() => checkGradientSource(dir, old, 'g')).toThrow(/prepare/);
  });

  it('is rebuilt by the worker’s engine, which prepares its own folders', async () => {
    const dir = writePixelSpaceFolder();
    await prepareGradientGraph(dir);
    replaceWeights(dir);
    const runner = new EngineRunner({ modelDirs: { tiny: dir }, logger: silentLogger(), executionProviders: { providers: ['cpu'], reason: 'test' } });
    try {
      await runner.warm('tiny');
      expect(readFolderManifest(dir)?.gradientGraph?.source.fingerprint).toBe(sourceFingerprint(join(dir, 'unet', 'model.onnx')));
    } finally {
      await runner.close();
    }
  });
});
