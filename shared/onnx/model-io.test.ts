import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadModel, OnnxModelError, referenceEmbeddedWeights, saveModel } from './model-io.ts';
import { tinyModel } from './testing/tiny-model.ts';

function scaleModel() {
  const w = Array.from({ length: 512 }, (_, i) => (i % 17) - 8);
  return tinyModel({
    opset: 17,
    inputs: [{ name: 'x', dims: [512] }],
    constants: [{ name: 'w', dims: [512], values: w }],
    build: (b) => [{ name: b.op('Mul', ['x', 'w']), dims: [512] }],
  });
}

async function runScale(file: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(512).fill(2), [512]) });
  await s.release();
  return out[s.outputNames[0]!]!.data as Float32Array;
}

describe('model files', () => {
  it('a derived model references the source weights in place (same file, same bytes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pi-io-'));
    saveModel(scaleModel(), join(dir, 'model.onnx'));
    const loaded = loadModel(join(dir, 'model.onnx'));
    referenceEmbeddedWeights(loaded.model, loaded.path, 64);
    const size = saveModel(loaded.model, join(dir, 'derived.onnx'));
    expect(size).toBeLessThan(400); // 2 KB of weights are not copied
    const out = await runScale(join(dir, 'derived.onnx'));
    expect(out[3]).toBe(2 * ((3 % 17) - 8));
    expect(out[511]).toBe(2 * ((511 % 17) - 8));
  });

  it('reports a missing external data file by tensor and file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pi-io-'));
    saveModel(scaleModel(), join(dir, 'model.onnx'));
    const loaded = loadModel(join(dir, 'model.onnx'));
    referenceEmbeddedWeights(loaded.model, loaded.path, 64);
    for (const t of loaded.model.graph.initializer) {
      for (const e of t.externalData ?? []) if (e.key === 'location') e.value = 'model.onnx_data';
    }
    saveModel(loaded.model, join(dir, 'derived.onnx'));
    expect(() => loadModel(join(dir, 'derived.onnx'))).toThrow(/external data file 'model.onnx_data' for tensor 'w' is missing/);
  });

  it('reports external data that is shorter than the tensors need', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pi-io-'));
    saveModel(scaleModel(), join(dir, 'model.onnx'));
    const loaded = loadModel(join(dir, 'model.onnx'));
    referenceEmbeddedWeights(loaded.model, loaded.path, 64);
    saveModel(loaded.model, join(dir, 'derived.onnx'));
    writeFileSync(join(dir, 'model.onnx'), readFileSync(join(dir, 'model.onnx')).subarray(0, 1000));
    expect(() => loadModel(join(dir, 'derived.onnx'))).toThrow(/tensor 'w' needs bytes .* which has 1000 bytes/);
  });

  it('rejects files that are not ONNX, truncated, or empty, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pi-io-'));
    const good = join(dir, 'model.onnx');
    saveModel(scaleModel(), good);
    const bytes = readFileSync(good);
    writeFileSync(join(dir, 'truncated.onnx'), bytes.subarray(0, bytes.length - 100));
    writeFileSync(join(dir, 'text.onnx'), 'name,value\nalpha,1\n');
    writeFileSync(join(dir, 'empty.onnx'), '');
    expect(() => loadModel(join(dir, 'truncated.onnx'))).toThrow(/truncated\.onnx: the file is truncated or corrupt/);
    expect(() => loadModel(join(dir, 'text.onnx'))).toThrow(/text\.onnx: not an ONNX model/);
    expect(() => loadModel(join(dir, 'empty.onnx'))).toThrow(OnnxModelError);
    expect(() => loadModel(join(dir, 'absent.onnx'))).toThrow(/absent\.onnx: no such file/);
  });

  it('writes atomically: a failed save leaves no file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pi-io-'));
    const model = scaleModel();
    model.graph.node[0]!.attribute.push({ name: 'bad', type: 2, i: Number.NaN });
    expect(() => saveModel(model, join(dir, 'out.onnx'))).toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});
