/** A batch of tokenized prompts as the text encoders take it: padded ids and attention mask. */

export type IdType = 'int32' | 'int64';

export interface TokenizedBatch<T extends Int32Array | BigInt64Array = Int32Array | BigInt64Array> {
  /** [batch, length], row-major. */
  inputIds: T;
  /** 1 for the prompt's tokens (special tokens included); 0 for padding. Same element type as inputIds. */
  attentionMask: T;
  dims: [number, number];
}

/** A prompt's ids (special tokens included) padded with `padId` to `maxLength`; `length` counts the real ones. */
export function padRow(ids: number[], maxLength: number, padId: number): { ids: number[]; length: number } {
  const length = ids.length;
  return { ids: [...ids, ...new Array<number>(Math.max(0, maxLength - length)).fill(padId)], length };
}

/** Packs padded rows (each `maxLength` ids, the first `length` of them real) into one batch. */
export function packTokenRows(rows: readonly { ids: number[]; length: number }[], maxLength: number, idType: IdType): TokenizedBatch {
  const ids = rows.flatMap((row) => row.ids);
  const mask = rows.flatMap((row) => row.ids.map((_, col) => (col < row.length ? 1 : 0)));
  const dims: [number, number] = [rows.length, maxLength];
  return idType === 'int32'
    ? { inputIds: Int32Array.from(ids), attentionMask: Int32Array.from(mask), dims }
    : { inputIds: BigInt64Array.from(ids, BigInt), attentionMask: BigInt64Array.from(mask, BigInt), dims };
}
