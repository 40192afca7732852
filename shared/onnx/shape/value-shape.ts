/**
 * What is statically known about a value of the forward graph: its element type, its dims
 * (a number, or null when symbolic/unknown; undefined dims = unknown rank) and, for small
 * integer tensors (shape arithmetic), their values where known.
 */
export interface ValueShape {
  elemType: number;
  dims?: (number | null)[];
  /** Known element values of small integer/shape tensors (null where unknown). */
  values?: (number | null)[];
}

export function rankOf(v: ValueShape | undefined): number | undefined {
  return v?.dims?.length;
}

export function knownDims(v: ValueShape | undefined): number[] | undefined {
  if (!v?.dims || v.dims.some((d) => d === null)) return undefined;
  return v.dims as number[];
}

export function knownValues(v: ValueShape | undefined): number[] | undefined {
  if (!v?.values || v.values.some((d) => d === null)) return undefined;
  return v.values as number[];
}

export function formatDims(v: ValueShape | undefined): string {
  if (!v?.dims) return '[?]';
  return `[${v.dims.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}
