/**
 * The image form the metrics take: any numeric buffer with its geometry. Values are compared as
 * given, so both images must use the same scale and the caller passes its data range: 8-bit
 * pixels in [0, 255] with range 255 (what metrics.json reports), or [0, 1] with range 1.
 */
export interface PixelImage {
  width: number;
  height: number;
  channels: number;
  data: ArrayLike<number>;
  /** Interleaved (height, width, channels), as decoded images are, or planar (channels, height, width). Default 'hwc'. */
  layout?: 'hwc' | 'chw';
}

export function assertSameShape(a: PixelImage, b: PixelImage, metric: string): void {
  for (const [label, image] of [['first', a], ['second', b]] as const) {
    const expected = image.width * image.height * image.channels;
    if (image.data.length !== expected) {
      throw new RangeError(`${metric}: the ${label} image has ${image.data.length} values, expected ${image.height}x${image.width}x${image.channels} = ${expected}`);
    }
  }
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new RangeError(`${metric}: images differ in shape, ${a.height}x${a.width}x${a.channels} vs ${b.height}x${b.width}x${b.channels}`);
  }
}

/** One float64 plane per channel, row-major. */
export function channelPlanes(image: PixelImage): Float64Array[] {
  const { width, height, channels, data } = image;
  const size = width * height;
  return Array.from({ length: channels }, (_, c) => {
    const plane = new Float64Array(size);
    if (image.layout === 'chw') {
      for (let p = 0; p < size; p++) plane[p] = data[c * size + p]!;
    } else {
      for (let p = 0; p < size; p++) plane[p] = data[p * channels + c]!;
    }
    return plane;
  });
}
