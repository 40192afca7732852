/** A base-10 logarithmic axis: a domain padded out to whole decades and a tick at every power of ten. */
export interface LogAxis {
  /** log10 of the lower and upper bound. */
  lo: number;
  hi: number;
  ticks: number[];
}

/** The axis covering every positive finite value; undefined when there is none. */
export function logAxis(values: readonly number[]): LogAxis | undefined {
  const logs = values.filter((v) => Number.isFinite(v) && v > 0).map(Math.log10);
  if (logs.length === 0) return undefined;
  // Strictly inside the axis: a value on a power of ten gets a decade of room, off the frame's edge.
  const lo = Math.ceil(Math.min(...logs)) - 1;
  const hi = Math.floor(Math.max(...logs)) + 1;
  return { lo, hi, ticks: Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) };
}

/** Where `value` falls on the axis, 0 (bottom) to 1 (top). */
export function logPosition(axis: LogAxis, value: number): number {
  return (Math.log10(value) - axis.lo) / (axis.hi - axis.lo);
}
