import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelFolderError, openModelFolder } from './model-folder.ts';
import { DiffusionPipeline } from './pipeline/diffusion-pipeline.ts';

const FIXTURE = 'models/fixtures/sd15-torchscript';

/** A copy of a complete SD1.5-layout folder, broken by `damage`. */
function brokenCopy(damage: (dir: string) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'preciseinv-folder-')), 'model');
  cpSync(FIXTURE, dir, { recursive: true });
  damage(dir);
  return dir;
}

describe('model folders with a part missing or broken', () => {
  it('a complete folder opens and finds its components', () => {
    const folder = openModelFolder(FIXTURE);
    expect(Object.keys(folder.components).sort()).toEqual(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
    expect(folder.denoiser).toMatchObject({ component: 'unet', wrt: 'sample', of: 'out_sample' });
    expect(folder.denoiser.sampleSize).toBe(JSON.parse(readFileSync(join(FIXTURE, 'unet', 'config.json'), 'utf8')).sample_size);
  });

  const cases: [string, (dir: string) => void, RegExp][] = [
    ['no model_index.json', (d) => rmSync(join(d, 'model_index.json')), /model_index\.json is missing: expected .*model_index\.json/],
    ['model_index.json that is not JSON', (d) => writeFileSync(join(d, 'model_index.json'), '{"unet": ['), /model_index\.json \(.*\) is not valid JSON/],
    ['model_index.json that is not an index', (d) => writeFileSync(join(d, 'model_index.json'), '[1, 2]'), /is not a diffusers model index/],
    ['a declared VAE missing on disk', (d) => {
      rmSync(join(d, 'vae_decoder'), { recursive: true });
      rmSync(join(d, 'vae_encoder'), { recursive: true });
    }, /declares components that are missing on disk: vae_encoder\/model\.onnx, vae_decoder\/model\.onnx/],
    ['a declared text encoder missing on disk', (d) => rmSync(join(d, 'text_encoder', 'model.onnx')), /missing on disk: text_encoder\/model\.onnx/],
    ['a denoiser config whose sample_size is not a size', (d) => writeFileSync(join(d, 'unet', 'config.json'), '{"sample_size": "64"}'), /unet\/config\.json \(.*\): sample_size: /],
    ['no scheduler config', (d) => rmSync(join(d, 'scheduler'), { recursive: true }), /scheduler\/scheduler_config\.json is missing/],
    ['no denoiser', (d) => {
      rmSync(join(d, 'unet'), { recursive: true });
      const index = JSON.parse(JSON.stringify({ _class_name: 'StableDiffusionPipeline', scheduler: ['diffusers', 'DDIMScheduler'] }));
      writeFileSync(join(d, 'model_index.json'), JSON.stringify(index));
      for (const c of ['text_encoder', 'vae_decoder', 'vae_encoder', 'tokenizer']) rmSync(join(d, c), { recursive: true });
    }, /has no denoiser: expected unet\/model\.onnx or transformer\/model\.onnx/],
  ];
  for (const [what, damage, message] of cases) {
    it(`${what}: a clear error naming the file`, async () => {
      const dir = brokenCopy(damage);
      expect(() => openModelFolder(dir)).toThrow(ModelFolderError);
      expect(() => openModelFolder(dir)).toThrow(message);
      await expect(DiffusionPipeline.open(dir)).rejects.toThrow(message);
    });
  }

  it('half a VAE: the pipeline refuses, naming both files', async () => {
    const dir = brokenCopy((d) => rmSync(join(d, 'vae_decoder'), { recursive: true }));
    await expect(DiffusionPipeline.open(dir)).rejects.toThrow(/only one of vae_encoder\/model\.onnx and vae_decoder\/model\.onnx/);
  });

  it('a path that is not a folder', () => {
    expect(() => openModelFolder(join(FIXTURE, 'model_index.json'))).toThrow(/does not exist or is not a folder/);
    expect(() => openModelFolder('models/no-such-model')).toThrow(/model folder models\/no-such-model does not exist/);
  });

  it('a truncated denoiser file fails when the pipeline opens, naming the file', async () => {
    const dir = brokenCopy((d) => writeFileSync(join(d, 'unet', 'model.onnx'), Buffer.from([0x08, 0x07, 0x12])));
    await expect(DiffusionPipeline.open(dir)).rejects.toThrow(/unet[/\\]model\.onnx/);
  });
});
