import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { gradientPng } from '../shared/diffusion/testing/gradient-png.ts';
import { decodeLatentFile } from '../shared/inversion/outputs/latent-file.ts';
import { InversionMetrics } from '../shared/inversion/outputs/inversion-metrics.ts';
import { runCli as run } from './testing/run-cli.ts';


describe('preciseinv invert on the bundled model', () => {
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'preciseinv-cli-'));
    writeFileSync(join(dir, 'a.png'), await gradientPng(40, 32, 0));
  });
  afterEach(() => vi.restoreAllMocks());

  it('--json prints one object per image with the documented fields, and writes the output folder', async () => {
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    const { code, out } = await run(['invert', join(dir, 'a.png'), join(dir, 'notes.txt'), '--method', 'preciseinv', '--steps', '2', '--max-iters', '3', '--out', join(dir, 'out'), '--json']);
    expect(code).toBe(1); // one input failed
    const lines = out.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    const [good, bad] = lines;
    expect(good).toMatchObject({ ok: true, method: 'preciseinv', steps: 2, outDir: join(dir, 'out', 'a') });
    for (const key of ['image', 'psnr', 'ssim', 'latentRmse', 'ceilingPsnr', 'converged', 'modelEvals', 'seconds']) expect(good).toHaveProperty(key);
    expect(bad).toMatchObject({ ok: false, image: join(dir, 'notes.txt') });
    expect(String(bad!.error)).toMatch(/notes\.txt/);
    expect(readdirSync(join(dir, 'out', 'a')).sort()).toEqual(['latent.safetensors', 'metrics.json', 'reconstruction.png']);
    const metrics = InversionMetrics.parse(JSON.parse(readFileSync(join(dir, 'out', 'a', 'metrics.json'), 'utf8')));
    expect(metrics).toMatchObject({ model: 'tiny', descent: 'hybrid', width: 80, height: 64, vaeIdentity: true });
    expect(metrics.perStep.every((s) => s.iterations <= 3)).toBe(true);
    const latent = decodeLatentFile(new Uint8Array(readFileSync(join(dir, 'out', 'a', 'latent.safetensors'))));
    expect(latent.dims).toEqual([3, 64, 80]); // short side scaled to the model's 64 px
    expect(latent.meta).toMatchObject({ model: 'tiny', method: 'preciseinv', descent: 'hybrid', steps: 2 });
    expect(existsSync(join(dir, 'out', 'notes'))).toBe(false);
  });

  it('the summary table names each image; same-named images get distinct folders', async () => {
    const sub = join(dir, 'sub');
    await import('node:fs').then((fs) => fs.mkdirSync(sub));
    writeFileSync(join(sub, 'a.png'), await gradientPng(32, 32, 1));
    const { code, out } = await run(['invert', join(dir, 'a.png'), join(sub, 'a.png'), '--method', 'ddim', '--steps', '2', '--out', join(dir, 'o')]);
    expect(code).toBe(0);
    expect(out).toMatch(/a\.png\s+ddim\s+2\s/);
    expect(readdirSync(join(dir, 'o')).sort()).toEqual(['a', 'a-2']);
  });

  it('bad arguments exit 2 with a message naming the flag and what it expects', async () => {
    const img = join(dir, 'a.png');
    const cases: [string[], RegExp][] = [
      [['invert'], /expected one or more image files/],
      [['invert', img, '--steps', '0'], /--steps expects an integer in 1\.\.1000, got '0'/],
      [['invert', img, '--eta', 'abc'], /--eta expects a positive number, got 'abc'/],
      [['invert', img, '--method', 'sgd'], /--method expects one of preciseinv, ddim, fixed-point, got 'sgd'/],
      [['invert', img, '--descent', 'adam'], /--descent expects one of hybrid, lbfgs, gradient, got 'adam'/],
      [['invert', join(dir, 'missing.png')], /no such file: .*missing\.png/],
      [['invert', img, '--model', 'nope'], /nope/],
      [['invert', img, '--frobnicate'], /frobnicate/],
      [['invert', img, '--max-iters', '1001'], /--max-iters expects an integer in 0\.\.1000, got '1001'/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await run(args);
      expect(code, args.join(' ')).toBe(2);
      expect(err, args.join(' ')).toMatch(message);
    }
    expect(readdirSync(dir)).toEqual(['a.png']); // nothing written
  });

  it('--help prints the command usage', async () => {
    const { code, out } = await run(['invert', '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: preciseinv invert <images\.\.\.>.*--descent hybrid\|lbfgs\|gradient/);
  });
});
