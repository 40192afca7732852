import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { loadModel, saveModel } from '../onnx/model-io.ts';
import { isExternal } from '../onnx/tensor.ts';
import { readFolderManifest } from './folder-manifest.ts';
import { gradcheck } from './gradcheck.ts';
import { prepareGradientGraph } from './prepare-gradient-graph.ts';
import { writeSyntheticFolder } from './testing/synthetic-folder.ts';
import { allNodes, backwardBranch } from '../onnx/autodiff/backward-gate.ts';

describe('prepare + gradcheck on a model folder', () => {
  it('builds unet/model_vjp.onnx referencing the forward weights, records it, and passes gradcheck', async () => {
    const dir = writeSyntheticFolder();
    const record = await prepareGradientGraph(dir);
    expect(record).toMatchObject({ component: 'unet', wrt: 'sample', of: 'out_sample', cotangentInput: 'grad_out_sample', gradientOutput: 'grad_sample', opset: 17 });
    expect(readFolderManifest(dir)?.gradientGraph?.path).toBe(join('unet', 'model_vjp.onnx'));
    // 1 KB of weights live in model.onnx only; the gradient graph points at them.
    const vjp = loadModel(join(dir, 'unet', 'model_vjp.onnx')).model;
    const w = vjp.graph.initializer.find((t) => t.name === 'w')!;
    expect(isExternal(w)).toBe(true);
    expect(w.externalData?.find((e) => e.key === 'location')?.value).toBe('model.onnx');
    // The step objective lives in the same graph.
    expect(vjp.graph.output.map((o) => o.name)).toEqual(['out_sample', 'grad_sample', 'objective_loss', 'objective_gradient']);
    expect(allNodes(vjp.graph).every((n) => n.domain === '')).toBe(true);
    const report = await gradcheck(dir, { directions: 3 });
    expect(report.ok).toBe(true);
    expect(report.finiteDifference.maxRelError).toBeLessThan(2e-3);
  });

  it('gradcheck fails (exit 1) on a gradient graph that is wrong by 1%', async () => {
    const dir = writeSyntheticFolder();
    await prepareGradientGraph(dir);
    const path = join(dir, 'unet', 'model_vjp.onnx');
    const vjp = loadModel(path).model;
    // The backward branch ends in the Identity that hands the gradient to the If's output.
    const last = backwardBranch(vjp.graph)!.node.at(-1)!;
    last.opType = 'Mul';
    last.input.push('vjp/skew');
    vjp.graph.initializer.push({ name: 'vjp/skew', dims: [], dataType: 1, floatData: [1.01] });
    saveModel(vjp, path);
    const report = await gradcheck(dir, { directions: 2 });
    expect(report.ok).toBe(false);
    expect(report.maxRelError).toBeGreaterThan(5e-3);
    // The fused objective reads the same backward: its finite-difference check sees the skew too.
    expect(report.objective.finiteDifference.maxRelError).toBeGreaterThan(5e-3);
    expect(await main(['gradcheck', dir, '--json'])).toBe(1);
  });

  it('an op without a gradient rule on the path fails naming node and op, and writes nothing', async () => {
    const dir = writeSyntheticFolder({ body: (b) => b.mul(b.op('Sign', ['sample'], {}, 'sign_of_sample'), 'w') });
    await expect(prepareGradientGraph(dir)).rejects.toThrow(/node 'sign_of_sample_node' \(Sign\): no gradient rule for op 'Sign'/);
    expect(readdirSync(join(dir, 'unet'))).toEqual(['model.onnx']);
    expect(existsSync(join(dir, 'preciseinv.json'))).toBe(false);
  });

  it('an op from a non-standard domain on the path is refused', async () => {
    const dir = writeSyntheticFolder({
      body: (b) => {
        const out = b.op('Mul', ['sample', 'w']);
        b.nodes.at(-1)!.domain = 'com.microsoft';
        return out;
      },
    });
    await expect(prepareGradientGraph(dir)).rejects.toThrow(/domain 'com.microsoft' lies on the gradient path/);
  });

  it('wrong wrt/of names list what the graph has', async () => {
    const dir = writeSyntheticFolder();
    await expect(prepareGradientGraph(dir, { wrt: 'latents' })).rejects.toThrow(/'latents' is not an input of the graph; inputs are: sample, timestep, encoder_hidden_states/);
    await expect(prepareGradientGraph(dir, { of: 'noise_pred' })).rejects.toThrow(/'noise_pred' is not an output of the graph; outputs are: out_sample/);
    await expect(prepareGradientGraph(dir, { wrt: 'timestep' })).rejects.toThrow(/does not depend on input 'timestep'/);
    expect(existsSync(join(dir, 'unet', 'model_vjp.onnx'))).toBe(false);
  });

  it('bad folders: no model_index.json, no denoiser, truncated model, not ONNX', async () => {
    const dir = writeSyntheticFolder();
    rmSync(join(dir, 'model_index.json'));
    await expect(prepareGradientGraph(dir)).rejects.toThrow(/model_index.json is missing/);

    const noUnet = writeSyntheticFolder();
    rmSync(join(noUnet, 'unet'), { recursive: true });
    await expect(prepareGradientGraph(noUnet)).rejects.toThrow(/declares components that are missing on disk: unet\/model.onnx/);

    const truncated = writeSyntheticFolder();
    const file = join(truncated, 'unet', 'model.onnx');
    const bytes = (await import('node:fs')).readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 50));
    await expect(prepareGradientGraph(truncated)).rejects.toThrow(/model.onnx: the file is truncated or corrupt/);

    const text = writeSyntheticFolder();
    writeFileSync(join(text, 'unet', 'model.onnx'), 'not a model at all, just text\n');
    await expect(prepareGradientGraph(text)).rejects.toThrow(/not an ONNX model/);
    expect(readdirSync(join(text, 'unet'))).toEqual(['model.onnx']);
  });

  it('the CLI reports usage errors with exit 2 and failures with exit 1', async () => {
    expect(await main(['prepare'])).toBe(2);
    expect(await main(['frobnicate'])).toBe(2);
    expect(await main(['prepare', '/nonexistent/model'])).toBe(1);
    expect(await main(['gradcheck', writeSyntheticFolder()])).toBe(1); // not prepared yet
  });
});
