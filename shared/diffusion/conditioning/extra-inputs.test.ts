import { describe, expect, it } from 'vitest';
import { guidanceEmbedding, sdxlTimeIds } from './extra-inputs.ts';

describe('extra denoiser inputs', () => {
  it('LCM guidance embedding: sin block then cos block of (w-1)*1000 times geometric frequencies', () => {
    const e = guidanceEmbedding(8.5, 256);
    expect(e.length).toBe(256);
    const s = 7.5 * 1000;
    expect(e[0]).toBeCloseTo(Math.sin(s), 5);
    expect(e[128]).toBeCloseTo(Math.cos(s), 5);
    // Lowest frequency is 1/10000 exactly at k = half - 1.
    expect(e[127]).toBeCloseTo(Math.sin(s / 10000), 6);
    expect(e[255]).toBeCloseTo(Math.cos(s / 10000), 6);
  });

  it('odd dimensions are zero-padded, w = 1 embeds as sin 0 / cos 0', () => {
    const e = guidanceEmbedding(1, 5);
    expect(Array.from(e)).toEqual([0, 0, 1, 1, 0]);
    expect(() => guidanceEmbedding(2, 1)).toThrow(/dimension must be an integer >= 2/);
  });

  it('SDXL time ids are (original, crop, target)', () => {
    expect(Array.from(sdxlTimeIds({ height: 1024, width: 768 }, { top: 0, left: 16 }, { height: 1024, width: 1024 }))).toEqual([1024, 768, 0, 16, 1024, 1024]);
  });
});
