import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { gradientPng } from '../shared/diffusion/testing/gradient-png.ts';
import { runCli as run } from './testing/run-cli.ts';


describe('preciseinv interpolate on the bundled model', () => {
  let dir: string;
  const latent = (name: string) => join(dir, 'inv', name, 'latent.safetensors');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'preciseinv-interp-'));
    writeFileSync(join(dir, 'a.png'), await gradientPng(40, 32, 0));
    writeFileSync(join(dir, 'b.png'), await gradientPng(40, 32, 1));
    writeFileSync(join(dir, 'wide.png'), await gradientPng(64, 32, 2));
    expect((await run(['invert', join(dir, 'a.png'), join(dir, 'b.png'), join(dir, 'wide.png'), '--method', 'ddim', '--steps', '3', '--out', join(dir, 'inv')])).code).toBe(0);
    expect((await run(['invert', join(dir, 'a.png'), '--method', 'ddim', '--steps', '2', '--out', join(dir, 'inv2')])).code).toBe(0);
  });
  afterEach(() => vi.restoreAllMocks());

  it('writes the frames, a contact sheet and an animated WebP; the end frames are the reconstructions', async () => {
    const out = join(dir, 'ab');
    const { code, out: printed } = await run(['interpolate', latent('a'), latent('b'), '--frames', '4', '--columns', '2', '--out', out, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(printed)).toMatchObject({ ok: true, mode: 'slerp', frames: 4, width: 80, height: 64, steps: 3, model: 'tiny' });
    expect(readdirSync(out).sort()).toEqual(['contact-sheet.png', 'frame-000.png', 'frame-001.png', 'frame-002.png', 'frame-003.png', 'interpolation.json', 'interpolation.webp']);
    expect(readFileSync(join(out, 'frame-000.png')).equals(readFileSync(join(dir, 'inv', 'a', 'reconstruction.png')))).toBe(true);
    expect(readFileSync(join(out, 'frame-003.png')).equals(readFileSync(join(dir, 'inv', 'b', 'reconstruction.png')))).toBe(true);
    const sheet = await sharp(join(out, 'contact-sheet.png')).metadata();
    expect([sheet.width, sheet.height]).toEqual([2 * 80 + 3 * 2, 2 * 64 + 3 * 2]);
    const anim = await sharp(join(out, 'interpolation.webp'), { animated: true }).metadata();
    expect(anim).toMatchObject({ pages: 4, pageHeight: 64, width: 80 });
  });

  it('refuses latents of another shape or plan (exit 2, naming both files), and bad flags', async () => {
    const cases: [string[], RegExp][] = [
      [['interpolate', latent('a'), latent('wide')], /differ in latent shape \("3x64x80" vs "3x64x128"\)/],
      [['interpolate', latent('a'), join(dir, 'inv2', 'a', 'latent.safetensors')], /inv\/a\/latent\.safetensors and .*inv2\/a\/latent\.safetensors differ in steps \(3 vs 2\)/],
      [['interpolate', latent('a')], /expected two latent files/],
      [['interpolate', latent('a'), latent('b'), '--frames', '1'], /--frames expects an integer in 2\.\.256, got '1'/],
      [['interpolate', latent('a'), latent('b'), '--mode', 'cubic'], /--mode expects one of slerp, linear, got 'cubic'/],
      [['interpolate', latent('a'), join(dir, 'nope.safetensors')], /no such file/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await run([...args, '--out', join(dir, 'never')]);
      expect(code, args.join(' ')).toBe(2);
      expect(err, args.join(' ')).toMatch(message);
    }
    expect(readdirSync(dir)).not.toContain('never');
  });
});
