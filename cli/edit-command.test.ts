import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { gradientPng } from '../shared/diffusion/testing/gradient-png.ts';
import { runCli as run } from './testing/run-cli.ts';


describe('preciseinv edit on the bundled model', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'preciseinv-edit-'));
    writeFileSync(join(dir, 'a.png'), await gradientPng(40, 32, 0));
    writeFileSync(join(dir, 'b.png'), await gradientPng(40, 32, 1));
    // Both images in one batch: a render of either alone must still match its reconstruction.
    const inverted = await run(['invert', join(dir, 'a.png'), join(dir, 'b.png'), '--steps', '4', '--trajectory', '--out', join(dir, 'inv'), '--json']);
    expect(inverted.code).toBe(0);
  });
  afterEach(() => vi.restoreAllMocks());

  it('with the recorded prompt gives back the reconstruction byte for byte, and --json names what it wrote', async () => {
    for (const name of ['a', 'b']) {
      const out = join(dir, `edit-${name}`);
      const { code, out: printed } = await run(['edit', join(dir, 'inv', name, 'latent.safetensors'), '--out', out, '--json']);
      expect(code).toBe(0);
      const line = JSON.parse(printed) as Record<string, unknown>;
      expect(line).toMatchObject({ ok: true, png: join(out, 'render.png'), model: 'tiny', sampler: 'ddim', steps: 4, fromStep: 4, prompt: '', width: 80, height: 64 });
      expect(readFileSync(join(out, 'render.png')).equals(readFileSync(join(dir, 'inv', name, 'reconstruction.png')))).toBe(true);
      expect(JSON.parse(readFileSync(join(out, 'render.json'), 'utf8'))).toMatchObject({ steps: 4, fromStep: 4 });
    }
  });

  it('--from-step reads the trajectory beside the latent', async () => {
    const { code, out } = await run(['edit', join(dir, 'inv', 'a', 'latent.safetensors'), '--from-step', '2', '--out', join(dir, 'from2'), '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ fromStep: 2, steps: 4 });
    expect(existsSync(join(dir, 'from2', 'render.png'))).toBe(true);
  });

  it('bad arguments exit 2 naming the flag or file; a prompt the model cannot take fails with the reason', async () => {
    const latent = join(dir, 'inv', 'a', 'latent.safetensors');
    const lone = join(dir, 'lone');
    await import('node:fs').then((fs) => {
      fs.mkdirSync(lone);
      fs.copyFileSync(latent, join(lone, 'latent.safetensors'));
    });
    const cases: [string[], RegExp][] = [
      [['edit'], /expected one latent file/],
      [['edit', join(dir, 'missing.safetensors')], /no such file: .*missing\.safetensors/],
      [['edit', latent, '--guidance', 'x'], /--guidance expects a non-negative number, got 'x'/],
      [['edit', latent, '--from-step', '9'], /--from-step expects a step number in 1\.\.4 \(the latent was inverted in 4 steps\), got '9'/],
      [['edit', latent, '--from-step', '0'], /--from-step expects a positive integer, got '0'/],
      [['edit', join(lone, 'latent.safetensors'), '--from-step', '2'], /needs the inversion's trajectory: no .*lone\/trajectory\.safetensors/],
      [['edit', latent, '--frobnicate'], /frobnicate/],
      [['edit', latent, '--model', 'nope'], /nope/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await run([...args, '--out', join(dir, 'never')]);
      expect(code, args.join(' ')).toBe(2);
      expect(err, args.join(' ')).toMatch(message);
    }
    const { code, err } = await run(['edit', latent, '--prompt', 'a dog', '--out', join(dir, 'never')]);
    expect(code).toBe(1);
    expect(err).toMatch(/takes no text conditioning/);
    expect(readdirSync(dir)).not.toContain('never');
  });
});
